package socketio

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// gateAdapter is a MemoryAdapter that can pause one AddAll (before it adds)
// or one DelAll (after it removed), so a test can interleave a Join with a
// socket's disconnection deterministically.
type gateAdapter struct {
	*MemoryAdapter

	mu          sync.Mutex
	pauseAdd    string // room whose AddAll pauses
	addReached  chan struct{}
	addResume   chan struct{}
	pauseDelAll string // socket id whose DelAll pauses
	delReached  chan struct{}
	delResume   chan struct{}
}

func (g *gateAdapter) AddAll(id string, rooms []string) {
	g.mu.Lock()
	pause := len(rooms) == 1 && rooms[0] == g.pauseAdd && g.pauseAdd != ""
	if pause {
		g.pauseAdd = ""
	}
	g.mu.Unlock()
	if pause {
		close(g.addReached)
		<-g.addResume
	}
	g.MemoryAdapter.AddAll(id, rooms)
}

func (g *gateAdapter) DelAll(id string) {
	g.MemoryAdapter.DelAll(id)
	g.mu.Lock()
	pause := id == g.pauseDelAll
	if pause {
		g.pauseDelAll = ""
	}
	g.mu.Unlock()
	if pause {
		close(g.delReached)
		<-g.delResume
	}
}

// newGateServer returns a server whose "/" adapter is a gateAdapter, and the
// first socket connected to it.
func newGateServer(t *testing.T) (*gateAdapter, *Socket, *lifecycle) {
	t.Helper()
	var gate *gateAdapter
	cfg := Config{Adapter: func(n *Namespace) (Adapter, error) {
		a := &gateAdapter{MemoryAdapter: NewMemoryAdapter(n)}
		if n.Name() == "/" {
			gate = a
		}
		return a, nil
	}}
	var conns *sockets
	_, url := newTestServer(t, cfg, func(s *Server) { conns = collect(s.Of("/")) })
	connect(t, url, "/", nil)
	s := conns.next(t)
	return gate, s, watch(s)
}

// TestSocket_JoinRacingDisconnectLeavesNoRoom: a Join from another goroutine
// (SocketsJoin, another socket's handler) that interleaves with the socket's
// disconnection must not leave the dead socket in a room: the room would
// never be deleted and RoomSize would count a ghost member forever.
func TestSocket_JoinRacingDisconnectLeavesNoRoom(t *testing.T) {
	t.Run("JoinAfterRoomsLeft", func(t *testing.T) {
		gate, s, lc := newGateServer(t)
		gate.mu.Lock()
		gate.pauseDelAll = s.ID()
		gate.delReached, gate.delResume = make(chan struct{}), make(chan struct{})
		gate.mu.Unlock()

		s.Disconnect(false)
		select {
		case <-gate.delReached:
		case <-time.After(5 * time.Second):
			t.Fatal("disconnection never left the rooms")
		}
		s.Join("late") // the socket has left its rooms, its handlers have not run yet
		close(gate.delResume)
		lc.wait(t)
		assertNoRooms(t, gate.MemoryAdapter, s.ID(), "late")
	})
	t.Run("JoinStartedBeforeDisconnect", func(t *testing.T) {
		gate, s, lc := newGateServer(t)
		gate.mu.Lock()
		gate.pauseAdd = "late"
		gate.addReached, gate.addResume = make(chan struct{}), make(chan struct{})
		gate.mu.Unlock()

		joined := make(chan struct{})
		go func() { s.Join("late"); close(joined) }()
		select {
		case <-gate.addReached: // Join saw a connected socket and is about to add
		case <-time.After(5 * time.Second):
			t.Fatal("Join never reached the adapter")
		}
		s.Disconnect(false)
		lc.wait(t) // the socket left its rooms and its disconnect handlers ran
		close(gate.addResume)
		select {
		case <-joined:
		case <-time.After(5 * time.Second):
			t.Fatal("Join did not return")
		}
		assertNoRooms(t, gate.MemoryAdapter, s.ID(), "late")
	})
}

func assertNoRooms(t *testing.T, a *MemoryAdapter, id, room string) {
	t.Helper()
	if rooms := a.SocketRooms(id); rooms != nil {
		t.Errorf("disconnected socket still has rooms %v", rooms)
	}
	if n := a.RoomSize(room); n != 0 {
		t.Errorf("room %q has %d members after its only member disconnected", room, n)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, ok := a.rooms[room]; ok {
		t.Errorf("room %q not deleted", room)
	}
}

// TestSocket_SocketsJoinDuringDisconnectStress hammers SocketsJoin while
// sockets disconnect, then checks that no room outlives its members.
func TestSocket_SocketsJoinDuringDisconnectStress(t *testing.T) {
	srv, url := newTestServer(t, Config{}, nil)
	ns := srv.Of("/")
	for round := 0; round < 20; round++ {
		var cls []interface{ Close() error }
		for i := 0; i < 5; i++ {
			c, _ := connect(t, url, "/", nil)
			cls = append(cls, c)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 50; i++ {
				_ = ns.SocketsJoin(context.Background(), fmt.Sprint("r", i%3))
			}
		}()
		for _, c := range cls {
			c.Close()
		}
		<-done
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n := ns.Len(); n != 0 {
				return fmt.Errorf("%d sockets still connected", n)
			}
			return nil
		})
		a := ns.Adapter().(*MemoryAdapter)
		a.mu.RLock()
		nr, ns2 := len(a.rooms), len(a.sids)
		a.mu.RUnlock()
		if nr != 0 || ns2 != 0 {
			t.Fatalf("round %d: %d rooms and %d socket entries left with no socket connected", round, nr, ns2)
		}
	}
}
