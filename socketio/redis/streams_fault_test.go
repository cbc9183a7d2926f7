package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestStreams_RedisBlip: Redis stops, then restarts empty. While it is
// down a broadcast fails fast and is still delivered locally. A reaches
// Redis through a proxy that holds its connections a while longer, so that
// B's broadcasts, published once Redis is back, are in the stream before
// A's reader has reconnected: A's client still gets every one of them,
// exactly once and in order (the reader resumes from the last id it read,
// not from the stream's end as Node's does, and from the start of a
// stream whose ids went back), then live broadcasts again.
func TestStreams_RedisBlip(t *testing.T) {
	r := testenv.StartRedisServer(t)
	proxy := startProxy(t, r.Addr)
	viaProxy := goredis.NewClient(&goredis.Options{Addr: proxy.ln.Addr().String(), ContextTimeoutEnabled: true, DialTimeout: time.Second})
	t.Cleanup(func() { viaProxy.Close() })
	cfg := testConfig()
	cfg.Mode = ModeStreams
	a, b := startNodeOn(t, viaProxy, cfg), startNode(t, r, cfg)
	waitServers(t, "/", 2, a, b)
	ca, cb := connect(t, a, "/", "a1", "r"), connect(t, b, "/", "b1", "r")
	fromA, fromB := a.srv.Of("/").To("r"), b.srv.Of("/").To("r")
	if err := fromA.Emit("m", 0); err != nil {
		t.Fatal(err)
	}
	ca.expect(t, "m", "0")
	cb.expect(t, "m", "0")

	r.Stop()
	start := time.Now()
	if err := fromA.Emit("m", -1); err == nil {
		t.Fatal("Emit while Redis is down returned no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Emit failed after %v, want within PublishTimeout", d)
	}
	ca.expect(t, "m", "-1") // local delivery regardless

	proxy.cut()
	r.Start(t)
	// The new, empty stream's first entry has an id below those read
	// before (a Redis whose clock is behind): the readers read the new
	// stream from its start.
	err := r.Client(t).XAdd(testCtx(t), &goredis.XAddArgs{Stream: "socket.io", ID: "1-1", Values: []any{
		"uid", "other", "nsp", "/", "type", "3",
		"data", `{"packet":{"type":2,"data":["m",0.5],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`,
	}}).Err()
	if err != nil {
		t.Fatal(err)
	}
	cb.expect(t, "m", "0.5")
	const n = 20
	for i := 1; i <= n; i++ {
		if err := fromB.Emit("m", i); err != nil {
			t.Fatalf("emit %d after Redis came back: %v", i, err)
		}
		cb.expect(t, "m", fmt.Sprint(i))
	}
	proxy.resume(r.Addr)
	ca.expect(t, "m", "0.5")
	for i := 1; i <= n; i++ {
		ca.expect(t, "m", fmt.Sprint(i))
	}
	if err := fromA.Emit("m", n+1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ca, cb} {
		c.expect(t, "m", fmt.Sprint(n+1))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if _, name, args, err := c.NextEvent(ctx, "/"); err == nil {
			t.Fatalf("%s: extra %s%s", c.id, name, args)
		}
		cancel()
	}
	if st := a.adapter("/").Stats(); st.Reconnects == 0 {
		t.Fatalf("stats %+v: no reconnect counted", st)
	}
}
