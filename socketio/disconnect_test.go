package socketio

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/internal/sioclient"
	"github.com/sockgate/sockgate/socketio/parser"
)

// lifecycle records what a socket saw while disconnecting.
type lifecycle struct {
	mu            sync.Mutex
	roomsAtDising []string
	roomsAtDis    []string
	ctxDone       bool
	reason        string
	done          chan struct{}
}

func watch(s *Socket) *lifecycle {
	l := &lifecycle{done: make(chan struct{})}
	s.OnDisconnecting(func(s *Socket, reason string) {
		l.mu.Lock()
		l.roomsAtDising = s.Rooms()
		l.ctxDone = s.Context().Err() != nil
		l.mu.Unlock()
	})
	s.OnDisconnect(func(s *Socket, reason string) {
		l.mu.Lock()
		l.roomsAtDis = s.Rooms()
		l.reason = reason
		l.mu.Unlock()
		close(l.done)
	})
	return l
}

func (l *lifecycle) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

func TestSocket_DisconnectReasons(t *testing.T) {
	tests := []struct {
		name   string
		act    func(t *testing.T, c *sioclient.Client, s *Socket, srv *Server)
		reason string
		closed bool // the client's connection ends
	}{
		{"ClientNamespaceDisconnect", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.Disconnect("/") }, ReasonClientNamespaceDisconnect, false},
		{"ServerNamespaceDisconnect", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { s.Disconnect(false) }, ReasonServerNamespaceDisconnect, false},
		{"DisconnectClose", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { s.Disconnect(true) }, ReasonServerNamespaceDisconnect, true},
		{"TransportClose", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { c.Close() }, ReasonTransportClose, true},
		{"InvalidPacket", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw("2{}") }, ReasonForcedClose, true},
		{"UnexpectedConnectError", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw(`4{"message":"x"}`) }, ReasonForcedServerClose, true},
		// Node's Client.ondecoded closes the connection on these too.
		{"ConnectTwice", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw("0") }, ReasonForcedServerClose, true},
		{"DisconnectNotJoined", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw("1/other,") }, ReasonForcedServerClose, true},
		{"EventBeforeConnect", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw(`2/other,["e"]`) }, ReasonForcedServerClose, true},
		{"AckBeforeConnect", func(t *testing.T, c *sioclient.Client, s *Socket, _ *Server) { _ = c.SendRaw(`3/other,1[]`) }, ReasonForcedServerClose, true},
		{"Shutdown", func(t *testing.T, c *sioclient.Client, s *Socket, srv *Server) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
		}, ReasonServerShuttingDown, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conns *sockets
			srv, url := newTestServer(t, Config{}, func(s *Server) { conns = collect(s.Of("/")) })
			c, _ := connect(t, url, "/", nil)
			s := conns.next(t)
			s.Join("room")
			l := watch(s)
			tt.act(t, c, s, srv)
			if r := l.wait(t); r != tt.reason {
				t.Fatalf("reason = %q, want %q", r, tt.reason)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if !slices.Contains(l.roomsAtDising, "room") || !slices.Contains(l.roomsAtDising, s.ID()) {
				t.Errorf("rooms in OnDisconnecting = %v", l.roomsAtDising)
			}
			if len(l.roomsAtDis) != 0 {
				t.Errorf("rooms in OnDisconnect = %v", l.roomsAtDis)
			}
			if !l.ctxDone {
				t.Errorf("context not cancelled in OnDisconnecting")
			}
			if s.Connected() || s.Namespace().Socket(s.ID()) != nil {
				t.Errorf("socket still connected / registered")
			}
			if err := s.Emit("late"); err == nil {
				t.Errorf("emit after disconnect succeeded")
			}
			if tt.closed {
				select {
				case <-c.Closed():
				case <-time.After(5 * time.Second):
					t.Fatal("client connection not closed")
				}
			}
		})
	}
}

func TestSocket_ReconnectAfterNamespaceDisconnect(t *testing.T) {
	var conns *sockets
	_, url := newTestServer(t, Config{}, func(s *Server) { conns = collect(s.Of("/")) })
	c, id1 := connect(t, url, "/", nil)
	s1 := conns.next(t)
	l := watch(s1)
	_ = c.Disconnect("/")
	l.wait(t)
	id2, err := c.Connect(testCtx(t), "/", nil)
	if err != nil || id2 == id1 || len(id2) != 20 {
		t.Fatalf("reconnect: id %q (was %q) err %v", id2, id1, err)
	}
}

func TestServer_ConnectTimeout(t *testing.T) {
	_, url := newTestServer(t, Config{ConnectTimeout: 100 * time.Millisecond}, nil)
	c := dial(t, url)
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("connection without namespace not closed")
	}
	// A connection that joins in time stays open.
	c2, _ := connect(t, url, "/", nil)
	select {
	case <-c2.Closed():
		t.Fatal("connected client closed by connect timeout")
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSocket_Ordering(t *testing.T) {
	const n = 2000
	var ns *Namespace
	got := make(chan []int, 1)
	_, url := newTestServer(t, Config{InboundQueue: 16}, func(s *Server) {
		ns = s.Of("/")
		ns.OnConnection(func(s *Socket) {
			var seq []int
			s.On("seq", func(s *Socket, args Args, _ AckFunc) {
				var i int
				_ = args.Decode(0, &i)
				seq = append(seq, i)
				if len(seq) == n {
					got <- seq
				}
			})
			s.On("flood", func(s *Socket, _ Args, _ AckFunc) {
				for i := 0; i < n; i++ {
					if err := s.Emit("seq", i); err != nil {
						t.Error(err)
						return
					}
				}
			})
		})
	})
	c, _ := connect(t, url, "/", nil)
	for i := 0; i < n; i++ {
		if err := c.Emit("/", "seq", i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case seq := <-got:
		for i, v := range seq {
			if v != i {
				t.Fatalf("inbound event %d has sequence %d", i, v)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not all events handled")
	}
	if err := c.Emit("/", "flood"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		_, _, args, err := c.NextEvent(testCtx(t), "/")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(i); string(args[0]) != want {
			t.Fatalf("outbound event %d carries %s", i, args[0])
		}
	}
}

// fakeConn is an in-memory engineConn recording what is sent.
type fakeConn struct {
	id   string
	mu   sync.Mutex
	sent []*engine.Message
}

func (f *fakeConn) ID() string          { return f.id }
func (f *fakeConn) Header() http.Header { return http.Header{} }
func (f *fakeConn) RequestURI() string  { return "/socket.io/?EIO=4&transport=websocket" }
func (f *fakeConn) Secure() bool        { return false }
func (f *fakeConn) RemoteAddr() string  { return "127.0.0.1:1" }
func (f *fakeConn) Send(msgs ...*engine.Message) error {
	f.mu.Lock()
	f.sent = append(f.sent, msgs...)
	f.mu.Unlock()
	return nil
}
func (f *fakeConn) SendVolatile(msgs ...*engine.Message) bool { _ = f.Send(msgs...); return true }
func (f *fakeConn) SendDirect(msgs ...*engine.Message) error  { return f.Send(msgs...) }
func (f *fakeConn) Close(string)                              {}

func (f *fakeConn) messages() []*engine.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func TestMemoryAdapter_BroadcastEncodesOnce(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	var conns []*fakeConn
	for i := 0; i < 3; i++ {
		fc := &fakeConn{id: fmt.Sprint("c", i)}
		cl := srv.newClient(fc)
		cl.OnMessage([]byte("0"), false)
		conns = append(conns, fc)
	}
	awaitJoined(t, ns, 3)
	if err := ns.Emit("news", []byte{1, 2}, "x"); err != nil {
		t.Fatal(err)
	}
	var first []*engine.Message
	for i, fc := range conns {
		msgs := fc.messages()
		if len(msgs) != 3 { // CONNECT, text part, attachment
			t.Fatalf("conn %d got %d messages", i, len(msgs))
		}
		if first == nil {
			first = msgs[1:]
			continue
		}
		if msgs[1] != first[0] || msgs[2] != first[1] {
			t.Fatalf("conn %d got distinct message values: broadcast encoded per receiver", i)
		}
	}
	// Inbound decoding through the fake: an unknown namespace packet closes.
	p, _ := parser.Decode("0", 10)
	if p.Namespace != "/" {
		t.Fatal(p.Namespace)
	}
}

// TestInbox_BackPressure: a full inbox blocks OnMessage (that connection's
// reads) until the worker catches up; the worker exits once the inbox is empty.
func TestInbox_BackPressure(t *testing.T) {
	srv := New(Config{InboundQueue: 2})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	release := make(chan struct{})
	var mu sync.Mutex
	var seen []int
	var sock *Socket
	connected := make(chan struct{})
	srv.Of("/").OnConnection(func(s *Socket) {
		sock = s
		s.On("e", func(s *Socket, args Args, _ AckFunc) {
			var i int
			_ = args.Decode(0, &i)
			if i == 0 {
				<-release
			}
			mu.Lock()
			seen = append(seen, i)
			mu.Unlock()
		})
		close(connected)
	})
	cl := srv.newClient(&fakeConn{id: "bp"})
	cl.OnMessage([]byte("0"), false)
	<-connected

	returned := make(chan int, 10)
	go func() {
		for i := 0; i < 5; i++ {
			cl.OnMessage([]byte(fmt.Sprintf(`2["e",%d]`, i)), false)
			returned <- i
		}
	}()
	// Event 0 runs (blocked), 1 and 2 fill the inbox: OnMessage for 3 blocks.
	expectBackPressure(t, returned, 3, func() string { return "while the inbox was full" })
	close(release)
	testenv.WaitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 5 {
			return fmt.Errorf("%d events handled", len(seen))
		}
		return nil
	})
	mu.Lock()
	if !slices.Equal(seen, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("order = %v", seen)
	}
	mu.Unlock()
	testenv.WaitFor(t, 2*time.Second, func() error {
		sock.in.mu.Lock()
		defer sock.in.mu.Unlock()
		if sock.in.running {
			return fmt.Errorf("worker still running with an empty inbox")
		}
		return nil
	})
}
