package tutorial

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

// registry starts the registry of instance inst with the given heartbeat
// (zero: the defaults), closed when the test ends.
func startRegistry(t *testing.T, e testenv.RedisSpace, inst string, beat, ttl time.Duration) *redisRegistry {
	t.Helper()
	cfg := cluster.Config{Redis: e.Client, Prefix: e.Prefix, InstanceID: inst, Heartbeat: beat, TTL: ttl}
	r := newRedisRegistry(cfg.WithDefaults(), slog.New(slog.NewTextHandler(t.Output(), nil)))
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", inst, err)
		}
	})
	return r
}

func TestRedisRegistry(t *testing.T) {
	testRegistry(t, func(t *testing.T) registry { return startRegistry(t, testenv.NewRedisSpace(t), "i1", 0, 0) })
}

// roomUsers returns the socket ids of room's users, or an error.
func roomUsers(r registry, room string) ([]string, error) {
	got, err := r.Room(context.Background(), room)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, u := range got.Users {
		ids = append(ids, u.SocketID)
	}
	return ids, nil
}

// wantUsers fails unless room has exactly the sockets ids, in order.
func wantUsers(t *testing.T, r registry, room string, ids ...string) {
	t.Helper()
	got, err := roomUsers(r, room)
	if err != nil || !slices.Equal(got, ids) {
		t.Errorf("room %s users = %v, %v; want %v", room, got, err, ids)
	}
}

// TestRedisRegistry_TwoInstances: two registries on one Redis are one
// registry.
func TestRedisRegistry_TwoInstances(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a, b := startRegistry(t, e, "a", 0, 0), startRegistry(t, e, "b", 0, 0)
	alice := User{UserID: "u-a", UserName: "Alice", SocketID: "sa"}
	bob := User{UserID: "u-b", UserName: "Bob", SocketID: "sb"}
	if _, err := a.Join(ctx, "r1", alice); err != nil {
		t.Fatal(err)
	}
	room, err := b.Join(ctx, "r1", bob)
	if err != nil || room.Host != alice || len(room.Users) != 2 {
		t.Fatalf("join on b = %+v, %v", room, err)
	}
	wantUsers(t, a, "r1", "sa", "sb")
	if _, err := b.Join(ctx, "r1", User{UserID: "u-a", UserName: "Eve", SocketID: "se"}); !errors.Is(err, errRegistryUserIDTaken) {
		t.Errorf("userId of a's member taken on b: %v", err)
	}
	// A kick: b removes a's socket.
	if u, ok, err := b.Leave(ctx, "r1", "sa"); !ok || err != nil || u != alice {
		t.Fatalf("b.Leave(sa) = %+v, %v, %v", u, ok, err)
	}
	if got := e.Keys(t, ":sock:sa"); len(got) != 0 {
		t.Errorf("index of a left socket remains: %v", got)
	}
	if left, err := b.LeaveAll(ctx, "sb"); err != nil || !slices.Equal(left, []string{"r1"}) {
		t.Fatalf("b.LeaveAll = %v, %v", left, err)
	}
	if _, err := a.Room(ctx, "r1"); !errors.Is(err, errRegistryNoRoom) {
		t.Errorf("room created on a, emptied on b, seen on a: %v", err)
	}
	if n, err := a.Count(ctx); n != 0 || err != nil {
		t.Errorf("a.Count = %d, %v", n, err)
	}
}

// TestRedisRegistry_DeadInstanceExpires: the members of an instance that
// stops its heartbeat without cleaning up (as after SIGKILL) disappear by
// themselves once the heartbeat's TTL has run out, empty rooms with them.
func TestRedisRegistry_DeadInstanceExpires(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a := startRegistry(t, e, "a", 50*time.Millisecond, 500*time.Millisecond)
	b := startRegistry(t, e, "b", 0, 0)
	alice := User{UserID: "u-a", UserName: "Alice", SocketID: "sa"}
	mustJoin(t, a, "r1", alice)
	mustJoin(t, b, "r1", User{UserID: "u-b", UserName: "Bob", SocketID: "sb"})
	mustJoin(t, a, "r2", User{UserID: "u-c", UserName: "Carol", SocketID: "sc"})
	wantUsers(t, b, "r1", "sa", "sb")

	died := time.Now()
	a.ks.StopHeartbeat()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n, err := b.Count(ctx); n != 1 || err != nil {
			return fmt.Errorf("count %d, %v", n, err)
		}
		return nil
	})
	// The bound is the TTL from the last refresh; twice that allows for
	// a loaded machine.
	if d := time.Since(died); d > 2*500*time.Millisecond {
		t.Errorf("members expired after %v, bound is the 500ms TTL", d)
	}
	wantUsers(t, b, "r1", "sb")
	if room, _ := b.Room(ctx, "r1"); room.Host != alice {
		t.Errorf("host record changed: %+v", room.Host)
	}
	if _, err := b.Room(ctx, "r2"); !errors.Is(err, errRegistryNoRoom) {
		t.Errorf("r2 of the dead instance: %v", err)
	}
	if got := e.Keys(t, ":sock:"); !slices.Equal(got, []string{":{tutorial}:sock:sb"}) {
		t.Errorf("socket index keys %v", got)
	}
	if got := e.Keys(t, ":inst:"); !slices.Equal(got, []string{":{tutorial}:inst:b"}) {
		t.Errorf("instance index keys %v", got)
	}
}

// TestRedisRegistry_HeartbeatKeyGone: a missing heartbeat key is a dead
// instance for every read at once.
func TestRedisRegistry_HeartbeatKeyGone(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a, b := startRegistry(t, e, "a", 0, 0), startRegistry(t, e, "b", 0, 0)
	mustJoin(t, a, "r1", User{UserID: "u-a", UserName: "Alice", SocketID: "sa"})
	a.ks.StopHeartbeat() // its next beat would bring the key back
	if err := e.Client.Del(ctx, e.Prefix+":{tutorial}:alive:a").Err(); err != nil {
		t.Fatal(err)
	}
	if rooms, err := b.Rooms(ctx); len(rooms) != 0 || err != nil {
		t.Errorf("Rooms = %+v, %v", rooms, err)
	}
}

// TestRedisRegistry_HeartbeatKeepsMembers: a live instance's members
// outlast its TTL many times over: the heartbeat refreshes its key.
func TestRedisRegistry_HeartbeatKeepsMembers(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	ttl := 400 * time.Millisecond
	a := startRegistry(t, e, "a", 50*time.Millisecond, ttl)
	b := startRegistry(t, e, "b", 0, 0)
	mustJoin(t, a, "r1", User{UserID: "u-a", UserName: "Alice", SocketID: "sa"})
	start := time.Now()
	testenv.WaitFor(t, 10*ttl, func() error {
		if _, err := b.Room(ctx, "r1"); err != nil {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
		if time.Since(start) < 4*ttl {
			return errors.New("still watching")
		}
		return nil
	})
}

// TestRedisRegistry_CloseRemovesEntries: Close takes this instance's
// members out at once and leaves no key of it behind.
func TestRedisRegistry_CloseRemovesEntries(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	a, b := startRegistry(t, e, "a", 0, 0), startRegistry(t, e, "b", 0, 0)
	mustJoin(t, a, "r1", User{UserID: "u-a", UserName: "Alice", SocketID: "sa"})
	mustJoin(t, b, "r1", User{UserID: "u-b", UserName: "Bob", SocketID: "sb"})
	mustJoin(t, a, "r2", User{UserID: "u-c", UserName: "Carol", SocketID: "sc"})
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wantUsers(t, b, "r1", "sb")
	if _, err := b.Room(ctx, "r2"); !errors.Is(err, errRegistryNoRoom) {
		t.Errorf("r2: %v", err)
	}
	for _, part := range []string{":alive:a", ":inst:a", ":sock:sa", ":sock:sc", ":room:r2"} {
		if got := e.Keys(t, part); len(got) != 0 {
			t.Errorf("keys of the closed instance remain: %v", got)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Keys(t, ""); !slices.Equal(got, []string{":{tutorial}:seq"}) {
		t.Errorf("keys after every instance closed: %v", got)
	}
}

// TestRedisRegistry_ConcurrentJoins: users joining one room at once on two
// instances elect exactly one host, and every one of them is a member.
func TestRedisRegistry_ConcurrentJoins(t *testing.T) {
	ctx := context.Background()
	e := testenv.NewRedisSpace(t)
	regs := []*redisRegistry{startRegistry(t, e, "a", 0, 0), startRegistry(t, e, "b", 0, 0)}
	const n = 40
	hosts := make([]User, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u := User{UserID: fmt.Sprint("u", i), UserName: "U", SocketID: fmt.Sprint("s", i)}
			room, err := regs[i%2].Join(ctx, "r", u)
			if err != nil {
				t.Error(err)
			}
			hosts[i] = room.Host
		})
	}
	wg.Wait()
	room, err := regs[0].Room(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(room.Users) != n || room.Users[0] != room.Host {
		t.Errorf("%d users, host %+v, first %+v", len(room.Users), room.Host, room.Users[0])
	}
	seen := map[string]bool{}
	for _, u := range room.Users {
		seen[u.UserID] = true
	}
	for i, h := range hosts {
		if h != room.Host {
			t.Errorf("join %d saw host %+v, room host %+v", i, h, room.Host)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct members, want %d", len(seen), n)
	}
}
