package redisclient_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sockgate/sockgate/internal/redisclient"
	"github.com/sockgate/sockgate/internal/testenv"
)

// redisURL is the server testenv.Redis uses.
func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return testenv.DefaultRedisURL
}

// dial returns a client from Dial to the test Redis and a key prefix that
// testenv cleans up; an unreachable Redis skips (fails under CI=true).
func dial(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	_, prefix := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := redisclient.Dial(ctx, redisURL())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc, prefix
}

func TestDial(t *testing.T) {
	t.Run("Works", func(t *testing.T) {
		rc, prefix := dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rc.Set(ctx, prefix+"k", "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := rc.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
			t.Fatalf("Get = %q, %v; want v", got, err)
		}
	})
	t.Run("ContextTimeoutEnabled", func(t *testing.T) {
		rc, _ := dial(t)
		c, ok := rc.(*redis.Client)
		if !ok {
			t.Fatalf("Dial returned %T, want *redis.Client", rc)
		}
		if !c.Options().ContextTimeoutEnabled {
			t.Fatal("ContextTimeoutEnabled is off")
		}
	})
	t.Run("BlockingCallHonoursDeadline", func(t *testing.T) {
		// BLPOP on an empty list blocks for its own timeout (10s) unless
		// the client gives up at the context's deadline.
		rc, prefix := dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := rc.BLPop(ctx, 10*time.Second, prefix+"empty").Err()
		if took := time.Since(start); err == nil || took > 3*time.Second {
			t.Fatalf("BLPop returned %v after %v; want an error soon after the 200ms deadline", err, took)
		}
		// The pool still works after a deadline cut a call short.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		if err := rc.Ping(ctx2).Err(); err != nil {
			t.Fatalf("Ping after deadline: %v", err)
		}
	})
}

func TestDial_Errors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"BadScheme", "http://127.0.0.1:6379/0", "redisclient: url:"},
		{"BadDB", "redis://127.0.0.1:6379/notanumber", "redisclient: url:"},
		{"Unreachable", "redis://127.0.0.1:1/0", "redisclient: ping 127.0.0.1:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := redisclient.Dial(ctx, tc.url)
			if err == nil {
				rc.Close()
				t.Fatalf("Dial(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDialCluster: a cluster URL (a seed and addr parameters) reaches every
// node of a real three-node Redis Cluster; a URL of nothing fails.
func TestDialCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	url := "redis://" + c.Addrs[0] + "?addr=" + c.Addrs[1] + "&addr=" + c.Addrs[2]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := redisclient.DialCluster(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// Keys of different slots live on different nodes: a single-node
	// client would get MOVED for some of them.
	for i := range 20 {
		if err := rc.Set(ctx, fmt.Sprint("k", i), i, time.Minute).Err(); err != nil {
			t.Fatalf("SET k%d through the cluster client: %v", i, err)
		}
	}
	if _, err := redisclient.DialCluster(ctx, "redis://127.0.0.1:1"); err == nil {
		t.Error("a cluster that is not there was dialled")
	}
}
