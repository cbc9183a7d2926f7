package gateway

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DialRedis connects to the Redis server of url ("redis://[:pass@]host:port/db",
// "rediss://" for TLS) and checks it answers, so a wrong REDIS_URL fails at
// start rather than on the first event. The caller closes the client. It
// lives here so that cmd/sockgate needs no go-redis import.
func DialRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("gateway: redis url: %w", err)
	}
	rc := redis.NewClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("gateway: redis ping %s: %w", opt.Addr, err)
	}
	return rc, nil
}
