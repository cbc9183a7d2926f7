package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisServer(t *testing.T) {
	r := StartRedisServer(t)
	opts, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	first := r.Pid()

	r.Restart(t)
	if r.Pid() == first {
		t.Fatal("Restart kept the process")
	}
	// Same address, new empty server (nothing persisted).
	WaitFor(t, 5*time.Second, func() error { return c.Ping(ctx).Err() })
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("after Restart, GET k: %v, want redis.Nil", err)
	}
}
