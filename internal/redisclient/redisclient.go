package redisclient

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Client is a Redis client (a single server or a cluster), named here so
// that cmd/sockgate can hold one without importing go-redis.
type Client = redis.UniversalClient

// Dial connects to the Redis server of url and checks that it answers
// within ctx. The returned client honours the deadline of the context of
// every call. The caller closes it.
func Dial(ctx context.Context, url string) (Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisclient: url: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	rc := redis.NewClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redisclient: ping %s: %w", opt.Addr, err)
	}
	return rc, nil
}

// DialCluster connects to the Redis Cluster of url, a seed node with more
// as addr parameters ("redis://h1:6379?addr=h2:6379&addr=h3:6379", go-redis'
// cluster URL), and checks that it answers within ctx, like Dial.
func DialCluster(ctx context.Context, url string) (Client, error) {
	opt, err := redis.ParseClusterURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisclient: cluster url: %w", err)
	}
	opt.ContextTimeoutEnabled = true
	rc := redis.NewClusterClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redisclient: ping cluster %v: %w", opt.Addrs, err)
	}
	return rc, nil
}
