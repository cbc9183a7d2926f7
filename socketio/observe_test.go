package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio/parser"
)

// recorder is an Observer writing one line per call.
type recorder struct {
	mu               sync.Mutex
	lines            []string
	opened, closed   int
	in, out, outSize int
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) ConnOpened() { r.mu.Lock(); r.opened++; r.mu.Unlock() }
func (r *recorder) ConnClosed(reason string) {
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
	r.add("closed %s", reason)
}
func (r *recorder) PacketIn(size int) { r.mu.Lock(); r.in++; r.mu.Unlock() }
func (r *recorder) PacketsOut(n, size int) {
	r.mu.Lock()
	r.out += n
	r.outSize += size
	r.mu.Unlock()
}
func (r *recorder) SocketConnected(s *Socket) { r.add("connected %s %s", s.Namespace().Name(), s.ID()) }
func (r *recorder) SocketDisconnected(s *Socket, reason string) {
	r.add("disconnected %s %s %s", s.Namespace().Name(), s.ID(), reason)
}
func (r *recorder) RoomJoined(ns *Namespace, room, id string) {
	r.add("joined %s %s %s", ns.Name(), room, id)
}
func (r *recorder) RoomLeft(ns *Namespace, room, id string) {
	r.add("left %s %s %s", ns.Name(), room, id)
}
func (r *recorder) EventReceived(s *Socket, elems []json.RawMessage) {
	b, _ := json.Marshal(elems)
	r.add("in %s %s %s", s.Namespace().Name(), s.ID(), b)
}
func (r *recorder) EventSent(ns *Namespace, id string, payload json.RawMessage) {
	r.add("out %s %s %s", ns.Name(), id, payload)
}

func (r *recorder) has(line string) func() error {
	return func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if slices.Contains(r.lines, line) {
			return nil
		}
		return fmt.Errorf("no %q in %q", line, r.lines)
	}
}

func TestServer_Observe(t *testing.T) {
	rec := &recorder{}
	srv, url := newTestServer(t, Config{}, func(s *Server) {
		s.Observe(rec)
		s.Of("/chat").OnConnection(func(s *Socket) {
			s.On("hello", func(s *Socket, _ Args, _ AckFunc) {
				s.Join("r1", "r1")
				_ = s.Emit("direct", 1)
				_ = s.Namespace().To("r1").Emit("room", "x")
				s.Leave("r1")
				s.Leave("never")
			})
		})
	})
	c, id := connect(t, url, "/chat", nil)
	w := func(line string) { t.Helper(); testenv.WaitFor(t, 2*time.Second, rec.has(line)) }
	w("joined /chat " + id + " " + id)
	w("connected /chat " + id)
	if err := c.Emit("/chat", "hello", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	w(`in /chat ` + id + ` ["hello",{"a":1}]`)
	w("joined /chat r1 " + id)
	w(`out /chat ` + id + ` ["direct",1]`)
	w(`out /chat ` + id + ` ["room","x"]`)
	w("left /chat r1 " + id)
	srv.Of("/chat").Socket(id).Disconnect(false)
	w("left /chat " + id + " " + id)
	w("disconnected /chat " + id + " " + ReasonServerNamespaceDisconnect)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	joins := 0
	for _, l := range rec.lines {
		if l == "joined /chat r1 "+id {
			joins++
		}
		if l == "left /chat never "+id {
			t.Errorf("left a room the socket was not in: %q", l)
		}
	}
	if joins != 1 {
		t.Errorf("joined r1 %d times, want once (a repeated join is no change)", joins)
	}
	if rec.opened != 1 || rec.in == 0 || rec.out == 0 || rec.outSize == 0 {
		t.Errorf("engine counters: opened %d, in %d, out %d (%d B)", rec.opened, rec.in, rec.out, rec.outSize)
	}
}

// TestServer_ObserveNone: without an Observer the room and event hooks
// allocate nothing.
func TestServer_ObserveNone(t *testing.T) {
	s := New(Config{})
	defer s.Shutdown(context.Background())
	a := NewMemoryAdapter(s.Of("/x"))
	rooms := []string{"a", "b"}
	a.AddAll("id", rooms)
	p := &parser.Packet{Type: parser.Event, Data: json.RawMessage(`["e"]`)}
	allocs := testing.AllocsPerRun(100, func() {
		a.AddAll("id", rooms) // no change: the maps allocate nothing either
		a.Del("id", "c")
		a.ns.observeEventOut("id", p.Type, p.Data, p.Elems)
		a.ns.observeLeftOne("id", "a")
		s.observePacketIn(10)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run without an observer", allocs)
	}
}
