package socketio

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// fakeSockets connects n sockets of ns over fake connections (ids
// prefix0, prefix1, ...) and returns the connections and the sockets, once
// each is in its own room.
func fakeSockets(t *testing.T, srv *Server, ns *Namespace, prefix string, n int) ([]*countConn, []*Socket) {
	t.Helper()
	conns := make([]*countConn, n)
	for i := range conns {
		conns[i] = &countConn{fakeConn: fakeConn{id: fmt.Sprint(prefix, i)}}
		srv.newClient(conns[i]).OnMessage([]byte("0"), false)
	}
	socks := make([]*Socket, n)
	testenv.WaitFor(t, 5*time.Second, func() error {
		for i, c := range conns {
			s := socketOfConn(ns, c.id)
			if s == nil || ns.adapter.RoomSize(s.id) != 1 {
				return fmt.Errorf("socket of %s not in its room yet", c.id)
			}
			socks[i] = s
		}
		return nil
	})
	return conns, socks
}

// socketOfConn returns the socket of ns on the connection of engine id cid.
func socketOfConn(ns *Namespace, cid string) *Socket {
	for _, s := range ns.LocalSockets() {
		if s.client.conn.ID() == cid {
			return s
		}
	}
	return nil
}

// A socket leaving and re-joining a room while broadcasts run: the members
// that stay get every broadcast exactly once, the one that moves gets at
// most one each, and none once it has left.
func TestMemoryAdapter_LeaveDuringBroadcast(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	conns, socks := fakeSockets(t, srv, ns, "c", 20)
	for _, s := range socks {
		s.Join("room")
	}
	mover, moverConn := socks[0], conns[0]
	const broadcasts = 300
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				mover.Leave("room")
				return
			default:
			}
			mover.Leave("room")
			mover.Join("room")
		}
	}()
	for range broadcasts {
		if err := ns.To("room").Emit("e", 1); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	for i, c := range conns[1:] {
		if got := c.n.Load(); got != broadcasts+1 { // CONNECT, then one per broadcast
			t.Errorf("member %d was sent %d messages, want %d", i+1, got, broadcasts+1)
		}
	}
	left := moverConn.n.Load()
	if left > broadcasts+1 {
		t.Errorf("the moving socket was sent %d messages, more than %d", left, broadcasts+1)
	}
	if err := ns.To("room").Emit("e", 2); err != nil {
		t.Fatal(err)
	}
	if got := moverConn.n.Load(); got != left {
		t.Errorf("the socket that left was sent %d messages after leaving", got-left)
	}
	if got := ns.adapter.RoomSize("room"); got != len(conns)-1 {
		t.Errorf("room size %d, want %d", got, len(conns)-1)
	}
}

// Except skips the members of its rooms, whether they are few (a list) or
// many (a set), and a member of several target rooms gets one copy.
func TestMemoryAdapter_ExceptAndOverlap(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	conns, socks := fakeSockets(t, srv, ns, "c", 30)
	for i, s := range socks {
		s.Join("all", "again")
		if i < 12 {
			s.Join("many") // more than maxFewExcluded
		}
		if i == 12 || i == 13 {
			s.Join("two")
		}
	}
	for _, tc := range []struct {
		name  string
		op    *BroadcastOperator
		reach func(i int) bool
	}{
		{"ExceptMany", ns.To("all", "again").Except("many"), func(i int) bool { return i >= 12 }},
		{"ExceptFew", ns.To("all").Except("two", socks[29].id), func(i int) bool { return i != 12 && i != 13 && i != 29 }},
		{"SocketBroadcast", socks[5].Broadcast(), func(i int) bool { return i != 5 }},
		{"AllExceptMany", ns.Except("many"), func(i int) bool { return i >= 12 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]int64, len(conns))
			for i, c := range conns {
				before[i] = c.n.Load()
			}
			if err := tc.op.Emit("e"); err != nil {
				t.Fatal(err)
			}
			for i, c := range conns {
				want := int64(0)
				if tc.reach(i) {
					want = 1
				}
				if got := c.n.Load() - before[i]; got != want {
					t.Errorf("socket %d was sent %d messages, want %d", i, got, want)
				}
			}
		})
	}
}

// A room joined in a middleware, before the socket is in the namespace,
// delivers once the socket has connected.
func TestMemoryAdapter_JoinInMiddleware(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	ns.Use(func(s *Socket) error {
		s.Join("early")
		return nil
	})
	conns, _ := fakeSockets(t, srv, ns, "m", 2)
	testenv.WaitFor(t, 2*time.Second, func() error {
		if n := ns.adapter.RoomSize("early"); n != 2 {
			return fmt.Errorf("room size %d", n)
		}
		return nil
	})
	if err := ns.To("early").Emit("e"); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if got := c.n.Load(); got != 2 { // CONNECT, the broadcast
			t.Errorf("socket %d was sent %d messages, want 2", i, got)
		}
	}
}

// ackRegistered reports whether s awaits the ack of id.
func ackRegistered(s *Socket, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.acks[id]
	return ok
}

// EmitWithAck's receiver-side cleanup: released with the last reply (not
// held for the timeout), and, when receivers disconnect instead, at the
// timeout, leaving no callback behind on any receiver.
func TestMemoryAdapter_EmitWithAckCleanup(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	ma := ns.adapter.(*MemoryAdapter)
	_, socks := fakeSockets(t, srv, ns, "a", 3)
	clients := make([]*client, len(socks))
	for i, s := range socks {
		clients[i] = s.client
		s.Join("room")
	}
	emit := func(timeout time.Duration) (uint64, chan []Args, chan error) {
		id := ns.ackID.Load() // the id EmitWithAck takes next
		replies, errs := make(chan []Args, 1), make(chan error, 1)
		go func() {
			r, err := ns.To("room").Timeout(timeout).EmitWithAck(context.Background(), "q")
			replies <- r
			errs <- err
		}()
		testenv.WaitFor(t, 5*time.Second, func() error {
			for i, s := range socks {
				if s.Connected() && !ackRegistered(s, id) {
					return fmt.Errorf("socket %d has no ack %d yet", i, id)
				}
			}
			return nil
		})
		return id, replies, errs
	}
	answer := func(i int, id uint64) { clients[i].OnMessage(fmt.Appendf(nil, `3%d["ok"]`, id), false) }

	t.Run("AllAnswer", func(t *testing.T) {
		id, replies, errs := emit(time.Hour)
		for i := range socks {
			answer(i, id)
		}
		if r, err := <-replies, <-errs; err != nil || len(r) != len(socks) {
			t.Fatalf("EmitWithAck = %d replies, %v", len(r), err)
		}
		// Released with the last reply, not after the hour.
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n := ma.pendingAcks.Load(); n != 0 {
				return fmt.Errorf("%d broadcasts with acks pending", n)
			}
			return nil
		})
	})
	t.Run("ReceiversDisconnect", func(t *testing.T) {
		id, replies, errs := emit(300 * time.Millisecond)
		answer(0, id)
		clients[1].OnMessage([]byte("1"), false) // leaves the namespace
		clients[2].OnClose("transport close")    // its connection ends
		if r, err := <-replies, <-errs; err != ErrAckTimeout || len(r) != 1 {
			t.Fatalf("EmitWithAck = %d replies, %v; want 1, ErrAckTimeout", len(r), err)
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n := ma.pendingAcks.Load(); n != 0 {
				return fmt.Errorf("%d broadcasts with acks pending", n)
			}
			for i, s := range socks {
				if ackRegistered(s, id) {
					return fmt.Errorf("socket %d still holds ack %d", i, id)
				}
			}
			return nil
		})
	})
}
