package chats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/internal/cluster"
	"github.com/sockgate/sockgate/internal/testenv"
)

// presence starts the presence of instance inst with the given heartbeat
// (zero: the defaults), closed when the test ends.
func startPresence(t *testing.T, e testenv.RedisSpace, inst string, beat, ttl time.Duration) *redisPresence {
	t.Helper()
	cfg := cluster.Config{Redis: e.Client, Prefix: e.Prefix, InstanceID: inst, Heartbeat: beat, TTL: ttl}
	p := newRedisPresence(cfg.WithDefaults(), slog.New(slog.NewTextHandler(t.Output(), nil)))
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", inst, err)
		}
	})
	return p
}

func TestRedisPresence(t *testing.T) {
	testPresence(t, func(t *testing.T) presence { return startPresence(t, testenv.NewRedisSpace(t), "i1", 0, 0) })
}

// online returns the users of ids p reports online, sorted.
func online(t *testing.T, p presence, ids ...string) []string {
	t.Helper()
	on, err := p.Online(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for id := range on {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// wantBool asserts a first/last result.
func wantBool(t *testing.T, what string, got bool, err error, want bool) {
	t.Helper()
	if err != nil || got != want {
		t.Errorf("%s = %v, %v; want %v", what, got, err, want)
	}
}

// TestRedisPresence_TwoInstances: a user's first socket anywhere makes
// them online, their last socket anywhere offline.
func TestRedisPresence_TwoInstances(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a, b := startPresence(t, e, "a", 0, 0), startPresence(t, e, "b", 0, 0)
	first, err := a.Connect(ctx, "u1", "s1")
	wantBool(t, "a.Connect(s1) first", first, err, true)
	first, err = b.Connect(ctx, "u1", "s2")
	wantBool(t, "b.Connect(s2) first", first, err, false)
	if got := online(t, b, "u1", "u2"); !slices.Equal(got, []string{"u1"}) {
		t.Errorf("b.Online = %v", got)
	}
	last, err := a.Disconnect(ctx, "u1", "s1")
	wantBool(t, "a.Disconnect(s1) last", last, err, false)
	last, err = b.Disconnect(ctx, "u1", "s2")
	wantBool(t, "b.Disconnect(s2) last", last, err, true)
	if got := online(t, a, "u1"); len(got) != 0 {
		t.Errorf("a.Online = %v", got)
	}
}

// TestRedisPresence_DeadInstanceExpires: the sockets of an instance that
// stops its heartbeat without cleaning up (as after SIGKILL) stop counting
// once the heartbeat's TTL has run out.
func TestRedisPresence_DeadInstanceExpires(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	ttl := 500 * time.Millisecond
	a, b := startPresence(t, e, "a", 50*time.Millisecond, ttl), startPresence(t, e, "b", 0, 0)
	for _, c := range []struct {
		p          *redisPresence
		user, sock string
	}{{a, "u1", "s1"}, {b, "u1", "s2"}, {a, "u2", "s3"}} {
		if _, err := c.p.Connect(ctx, c.user, c.sock); err != nil {
			t.Fatal(err)
		}
	}
	died := time.Now()
	a.ks.StopHeartbeat()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := online(t, b, "u1", "u2"); !slices.Equal(got, []string{"u1"}) {
			return fmt.Errorf("online %v", got)
		}
		return nil
	})
	// The bound is the TTL from the last refresh; twice that allows for a
	// loaded machine.
	if d := time.Since(died); d > 2*ttl {
		t.Errorf("sockets expired after %v, bound is the %v TTL", d, ttl)
	}
	last, err := b.Disconnect(ctx, "u1", "s2")
	wantBool(t, "b.Disconnect(s2) last", last, err, true)
	if got := e.Keys(t, ""); !slices.Equal(got, []string{":{presence}:alive:b", ":{presence}:instances"}) {
		t.Errorf("keys %v", got)
	}
}

// TestRedisPresence_HeartbeatKeepsSockets: a live instance's sockets
// outlast its TTL many times over: the heartbeat refreshes its key.
func TestRedisPresence_HeartbeatKeepsSockets(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	ttl := 400 * time.Millisecond
	a, b := startPresence(t, e, "a", 50*time.Millisecond, ttl), startPresence(t, e, "b", 0, 0)
	if _, err := a.Connect(ctx, "u1", "s1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.WaitFor(t, 10*ttl, func() error {
		if got := online(t, b, "u1"); len(got) != 1 {
			t.Fatalf("offline after %v", time.Since(start))
		}
		if time.Since(start) < 4*ttl {
			return errors.New("still watching")
		}
		return nil
	})
}

// TestRedisPresence_CloseRemovesSockets: Close forgets this instance's
// sockets at once and leaves no key of it behind.
func TestRedisPresence_CloseRemovesSockets(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a, b := startPresence(t, e, "a", 0, 0), startPresence(t, e, "b", 0, 0)
	for _, c := range []struct {
		p          *redisPresence
		user, sock string
	}{{a, "u1", "s1"}, {a, "u2", "s2"}, {b, "u2", "s3"}} {
		if _, err := c.p.Connect(ctx, c.user, c.sock); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := online(t, b, "u1", "u2"); !slices.Equal(got, []string{"u2"}) {
		t.Errorf("online %v", got)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Keys(t, ""); len(got) != 0 {
		t.Errorf("keys after every instance closed: %v", got)
	}
}

// TestRedisPresence_ConcurrentConnects: one user's sockets connecting and
// then disconnecting at once on two instances give exactly one "first"
// and one "last".
func TestRedisPresence_ConcurrentConnects(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	ps := []*redisPresence{startPresence(t, e, "a", 0, 0), startPresence(t, e, "b", 0, 0)}
	const n = 40
	count := func(op func(p presence, sock string) (bool, error)) int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		hits := 0
		for i := range n {
			wg.Go(func() {
				ok, err := op(ps[i%2], fmt.Sprint("s", i))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					hits++
				}
			})
		}
		wg.Wait()
		return hits
	}
	if firsts := count(func(p presence, s string) (bool, error) { return p.Connect(ctx, "u1", s) }); firsts != 1 {
		t.Errorf("%d firsts, want 1", firsts)
	}
	if lasts := count(func(p presence, s string) (bool, error) { return p.Disconnect(ctx, "u1", s) }); lasts != 1 {
		t.Errorf("%d lasts, want 1", lasts)
	}
	if got := online(t, ps[0], "u1"); len(got) != 0 {
		t.Errorf("online %v", got)
	}
}
