package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisCluster(t *testing.T) {
	c := StartRedisCluster(t)
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want 3 masters", c.Addrs)
	}
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Keys land on every master: the slots are spread over the three nodes.
	masters := map[string]bool{}
	for i := 0; i < 30; i++ {
		key := fmt.Sprintf("k%d", i)
		if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		n, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		masters[n.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Errorf("30 keys landed on %d masters, want 3", len(masters))
	}

	// Sharded pub/sub works across the cluster.
	sub := rdb.SSubscribe(ctx, "ch#1")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SPublish(ctx, "ch#1", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "hello" {
		t.Fatalf("ReceiveMessage = %v, %v; want hello", msg, err)
	}
	n, err := shardNumSub(ctx, rdb, "ch#1")
	if err != nil || n != 1 {
		t.Fatalf("SHARDNUMSUB = %d, %v; want 1", n, err)
	}
}

// shardNumSub is PUBSUB SHARDNUMSUB of ch (go-redis routes it to the
// channel's shard).
func shardNumSub(ctx context.Context, rdb *redis.ClusterClient, ch string) (int64, error) {
	m, err := rdb.PubSubShardNumSub(ctx, ch).Result()
	return m[ch], err
}
