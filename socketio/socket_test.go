package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio/internal/sioclient"
	"github.com/sockgate/sockgate/socketio/parser"
)

type refusal struct{ code string }

func (r refusal) Error() string  { return "not authorized" }
func (r refusal) ErrorData() any { return map[string]string{"code": r.code} }

// sockets collects the server-side sockets of a namespace as they connect.
type sockets struct {
	ch chan *Socket
}

func collect(n *Namespace) *sockets {
	c := &sockets{ch: make(chan *Socket, 100)}
	n.OnConnection(func(s *Socket) { c.ch <- s })
	return c
}

func (c *sockets) next(t *testing.T) *Socket {
	t.Helper()
	select {
	case s := <-c.ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no socket connected")
		return nil
	}
}

func TestNamespace_Middleware(t *testing.T) {
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/admin").Use(func(s *Socket) error {
			var auth struct {
				Token string `json:"token"`
			}
			_ = json.Unmarshal(s.Handshake().Auth, &auth)
			if auth.Token != "good" {
				return fmt.Errorf("wrapped: %w", refusal{code: "unauthorized"})
			}
			s.SetData(auth.Token)
			return nil
		})
	})
	t.Run("Refused", func(t *testing.T) {
		c := dial(t, url)
		_, err := c.Connect(testCtx(t), "/admin", map[string]string{"token": "bad"})
		var ce *sioclient.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want connect_error", err)
		}
		if ce.Message != "wrapped: not authorized" || string(ce.Data) != `{"code":"unauthorized"}` {
			t.Fatalf("connect_error = %q %s", ce.Message, ce.Data)
		}
		// The connection stays usable: the main namespace accepts it.
		if _, err := c.Connect(testCtx(t), "/", nil); err != nil {
			t.Fatalf("connect / after refusal: %v", err)
		}
	})
	t.Run("Accepted", func(t *testing.T) {
		c := dial(t, url)
		if _, err := c.Connect(testCtx(t), "/admin", map[string]string{"token": "good"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServer_DynamicNamespace(t *testing.T) {
	var setups atomic.Int32
	var got *sockets
	var mu sync.Mutex
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.OfFunc(func(name string, auth json.RawMessage) bool {
			return len(name) > 5 && name[:5] == "/dyn-"
		}, func(n *Namespace) {
			setups.Add(1)
			mu.Lock()
			got = collect(n)
			mu.Unlock()
		})
	})
	for i := 0; i < 2; i++ {
		c := dial(t, url)
		if _, err := c.Connect(testCtx(t), "/dyn-1", nil); err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
	}
	mu.Lock()
	s := got.next(t)
	mu.Unlock()
	if s.Namespace().Name() != "/dyn-1" {
		t.Fatalf("namespace = %q", s.Namespace().Name())
	}
	if n := setups.Load(); n != 1 {
		t.Fatalf("setup called %d times, want 1", n)
	}
	c := dial(t, url)
	var ce *sioclient.ConnectError
	if _, err := c.Connect(testCtx(t), "/other", nil); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("err = %v", err)
	}
}

// expectEvents reads the next events of c on "/" and compares their names.
func expectEvents(t *testing.T, c *sioclient.Client, want ...string) {
	t.Helper()
	for _, w := range want {
		_, name, _, err := c.NextEvent(testCtx(t), "/")
		if err != nil || name != w {
			t.Fatalf("event = %q (%v), want %q", name, err, w)
		}
	}
}

func TestBroadcast_Rooms(t *testing.T) {
	var ns *Namespace
	var conns *sockets
	_, url := newTestServer(t, Config{}, func(s *Server) {
		ns = s.Of("/")
		conns = collect(ns)
	})
	a, _ := connect(t, url, "/", nil)
	sa := conns.next(t)
	b, _ := connect(t, url, "/", nil)
	sb := conns.next(t)
	c, _ := connect(t, url, "/", nil)
	sc := conns.next(t)
	sa.Join("r1", "r2")
	sb.Join("r1")
	sc.Join("r3")
	if rooms := sa.Rooms(); !slices.Contains(rooms, sa.ID()) || !slices.Contains(rooms, "r2") || len(rooms) != 3 {
		t.Fatalf("rooms = %v", rooms)
	}

	mustEmit := func(op *BroadcastOperator, ev string) {
		t.Helper()
		if err := op.Emit(ev); err != nil {
			t.Fatal(err)
		}
	}
	mustEmit(ns.To("r1"), "to-r1")                     // a, b
	mustEmit(ns.To("r1", "r2"), "to-r1-r2")            // a, b once each
	mustEmit(ns.Except("r1"), "except-r1")             // c
	mustEmit(ns.To("r1").Except("r2"), "r1-except-r2") // b
	mustEmit(sa.Broadcast(), "from-a")                 // b, c
	mustEmit(sa.To("r1"), "a-to-r1")                   // b
	mustEmit(ns.To(sc.ID()), "to-c-id")                // c
	mustEmit(ns.Local(), "all")                        // a, b, c
	expectEvents(t, a, "to-r1", "to-r1-r2", "all")
	expectEvents(t, b, "to-r1", "to-r1-r2", "r1-except-r2", "from-a", "a-to-r1", "all")
	expectEvents(t, c, "except-r1", "from-a", "to-c-id", "all")

	sa.Leave("r1")
	mustEmit(ns.To("r1"), "after-leave")
	mustEmit(ns.Volatile(), "volatile")
	expectEvents(t, b, "after-leave")
	expectEvents(t, a, "volatile")
	if err := ns.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("reserved emit err = %v", err)
	}
}

func TestAck_ClientToServer(t *testing.T) {
	second := make(chan error, 1)
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.On("sum", func(s *Socket, args Args, ack AckFunc) {
				var a, b int
				if err := args.Decode(0, &a); err != nil {
					t.Error(err)
				}
				if err := args.Decode(1, &b); err != nil {
					t.Error(err)
				}
				if err := ack(a+b, "ok"); err != nil {
					t.Error(err)
				}
				second <- ack(0)
			})
			s.On("noack", func(s *Socket, args Args, ack AckFunc) {
				if ack != nil {
					t.Error("ack func for an event without ack id")
				}
			})
		})
	})
	c, _ := connect(t, url, "/", nil)
	if err := c.Emit("/", "noack"); err != nil {
		t.Fatal(err)
	}
	p, err := c.EmitWithAck(testCtx(t), "/", "sum", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Data) != `[5,"ok"]` {
		t.Fatalf("ack = %s", p.Data)
	}
	if err := <-second; !errors.Is(err, ErrAckSent) {
		t.Fatalf("second ack err = %v", err)
	}
}

func TestAck_ServerToClient(t *testing.T) {
	var conns *sockets
	_, url := newTestServer(t, Config{AckTimeout: 200 * time.Millisecond}, func(s *Server) {
		conns = collect(s.Of("/"))
	})
	c, _ := connect(t, url, "/", nil)
	s := conns.next(t)

	done := make(chan struct{})
	var reply Args
	var replyErr error
	go func() {
		defer close(done)
		reply, replyErr = s.EmitWithAck(context.Background(), "question", "q")
	}()
	p, name, _, err := c.NextEvent(testCtx(t), "/")
	if err != nil || name != "question" || !p.HasID {
		t.Fatalf("question = %q %+v %v", name, p, err)
	}
	if err := c.Ack("/", p.ID, "answer", []byte{7, 8}); err != nil {
		t.Fatal(err)
	}
	<-done
	var answer string
	var bin []byte
	if replyErr != nil || reply.Len() != 2 || reply.Decode(0, &answer) != nil || reply.Decode(1, &bin) != nil {
		t.Fatalf("reply = %+v %v", reply, replyErr)
	}
	if answer != "answer" || !bytes.Equal(bin, []byte{7, 8}) {
		t.Fatalf("reply = %q %v", answer, bin)
	}

	t.Run("DefaultTimeout", func(t *testing.T) {
		start := time.Now()
		_, err := s.EmitWithAck(context.Background(), "ignored")
		if !errors.Is(err, ErrAckTimeout) {
			t.Fatalf("err = %v, want ErrAckTimeout", err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("timed out after %v, want ~200ms", d)
		}
	})
	t.Run("ContextDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.EmitWithAck(ctx, "ignored"); !errors.Is(err, ErrAckTimeout) {
			t.Fatalf("err = %v, want ErrAckTimeout", err)
		}
	})
	t.Run("Disconnected", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			_, err := s.EmitWithAck(context.Background(), "ignored")
			errc <- err
		}()
		_, _, _, _ = c.NextEvent(testCtx(t), "/")
		c.Close()
		if err := <-errc; !errors.Is(err, ErrNotConnected) {
			t.Fatalf("err = %v, want ErrNotConnected", err)
		}
	})
}

func TestBroadcast_EmitWithAck(t *testing.T) {
	var ns *Namespace
	_, url := newTestServer(t, Config{}, func(s *Server) { ns = s.Of("/") })
	answer := func(c *sioclient.Client, v int) {
		go func() {
			p, _, _, err := c.NextEvent(context.Background(), "/")
			if err == nil && p.HasID {
				_ = c.Ack("/", p.ID, v)
			}
		}()
	}
	a, _ := connect(t, url, "/", nil)
	b, _ := connect(t, url, "/", nil)
	awaitJoined(t, ns, 2)
	answer(a, 1)
	answer(b, 2)
	replies, err := ns.Timeout(2*time.Second).EmitWithAck(testCtx(t), "vote")
	if err != nil || len(replies) != 2 {
		t.Fatalf("replies = %d, err = %v", len(replies), err)
	}
	sum := 0
	for _, r := range replies {
		var v int
		if err := r.Decode(0, &v); err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	if sum != 3 {
		t.Fatalf("sum of replies = %d", sum)
	}

	// One silent receiver: the replies received and ErrAckTimeout.
	c, _ := connect(t, url, "/", nil)
	_ = c
	awaitJoined(t, ns, 3)
	answer(a, 1)
	answer(b, 2)
	replies, err = ns.Timeout(300*time.Millisecond).EmitWithAck(testCtx(t), "vote")
	if !errors.Is(err, ErrAckTimeout) || len(replies) != 2 {
		t.Fatalf("replies = %d, err = %v; want 2 and ErrAckTimeout", len(replies), err)
	}
	// No receiver at all completes at once.
	replies, err = ns.To("nobody").EmitWithAck(testCtx(t), "vote")
	if err != nil || len(replies) != 0 {
		t.Fatalf("empty broadcast: %d %v", len(replies), err)
	}
}

func TestSocket_Binary(t *testing.T) {
	type upload struct {
		Name string `json:"name"`
		File []byte `json:"file"`
	}
	got := make(chan upload, 1)
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.On("upload", func(s *Socket, args Args, ack AckFunc) {
				var u upload
				if err := args.Decode(0, &u); err != nil {
					t.Error(err)
				}
				var raw []byte
				if err := args.Decode(1, &raw); err != nil {
					t.Error(err)
				}
				if !args.Binary(1) || args.Binary(2) {
					t.Errorf("Binary(1)=%v Binary(2)=%v", args.Binary(1), args.Binary(2))
				}
				u.Name += string(raw)
				got <- u
				_ = s.Emit("download", []byte{9, 9, 9}, "text", map[string]any{"nested": []byte{1}})
			})
		})
	})
	c, _ := connect(t, url, "/", nil)
	if err := c.Emit("/", "upload", map[string]any{"name": "f", "file": []byte{1, 2, 3}}, []byte("-x"), 3); err != nil {
		t.Fatal(err)
	}
	u := <-got
	if u.Name != "f-x" || !bytes.Equal(u.File, []byte{1, 2, 3}) {
		t.Fatalf("upload = %+v", u)
	}
	p, name, args, err := c.NextEvent(testCtx(t), "/")
	if err != nil || name != "download" {
		t.Fatalf("download = %q %v", name, err)
	}
	if len(p.Attachments) != 2 || !bytes.Equal(p.Attachments[0], []byte{9, 9, 9}) || !bytes.Equal(p.Attachments[1], []byte{1}) {
		t.Fatalf("attachments = %v", p.Attachments)
	}
	if string(args[0]) != `{"_placeholder":true,"num":0}` || string(args[2]) != `{"nested":{"_placeholder":true,"num":1}}` {
		t.Fatalf("args = %s", args)
	}
}

func TestBroadcast_ServerSideRoomOps(t *testing.T) {
	var ns *Namespace
	var conns *sockets
	_, url := newTestServer(t, Config{}, func(s *Server) {
		ns = s.Of("/")
		conns = collect(ns)
	})
	a, _ := connect(t, url, "/", nil)
	sa := conns.next(t)
	_, _ = connect(t, url, "/", nil)
	sb := conns.next(t)
	sa.SetData(map[string]string{"user": "alice"})
	ctx := testCtx(t)

	if err := ns.To(sa.ID()).SocketsJoin(ctx, "vip", "red"); err != nil {
		t.Fatal(err)
	}
	infos, err := ns.In("vip").FetchSockets(ctx)
	if err != nil || len(infos) != 1 || infos[0].ID != sa.ID() || string(infos[0].Data) != `{"user":"alice"}` {
		t.Fatalf("fetch vip = %+v %v", infos, err)
	}
	if !slices.Contains(infos[0].Rooms, "red") {
		t.Fatalf("rooms = %v", infos[0].Rooms)
	}
	all, err := ns.Local().FetchSockets(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("fetch all = %d %v", len(all), err)
	}
	if err := ns.In("vip").SocketsLeave(ctx, "red"); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(sa.Rooms(), "red") {
		t.Fatalf("still in red: %v", sa.Rooms())
	}
	reasons := make(chan string, 1)
	sa.OnDisconnect(func(_ *Socket, reason string) { reasons <- reason })
	if err := ns.In("vip").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	if r := <-reasons; r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason = %q", r)
	}
	p, err := a.Next(ctx)
	if err != nil || p.Type != parser.Disconnect {
		t.Fatalf("client got %+v %v, want DISCONNECT", p, err)
	}
	if !sb.Connected() || sa.Connected() {
		t.Fatalf("connected: a=%v b=%v", sa.Connected(), sb.Connected())
	}
}

func TestNamespace_ServerSideEmitNeedsCluster(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	if err := srv.Of("/").ServerSideEmit(context.Background(), "hello"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
	if _, err := srv.Of("/").ServerSideEmitWithAck(context.Background(), "hello"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("with ack: err = %v, want ErrNotSupported", err)
	}
}

func TestNamespace_DispatchServerSideEmit(t *testing.T) {
	srv := New(Config{})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	got := make(chan string, 2)
	for _, name := range []string{"first", "second"} {
		ns.OnServerSideEmit("remote", func(args Args, ack func(v any)) {
			var s string
			_ = args.Decode(0, &s)
			got <- name + ":" + s
			if ack != nil {
				ack(name)
			}
		})
	}
	t.Run("NoAck", func(t *testing.T) {
		args, _ := NewArgs(json.RawMessage(`["x"]`), nil)
		if !ns.DispatchServerSideEmit("remote", args, nil) {
			t.Fatal("no handler reported")
		}
		if a, b := <-got, <-got; a != "first:x" || b != "second:x" {
			t.Fatalf("handlers saw %q %q", a, b)
		}
	})
	t.Run("AckOnce", func(t *testing.T) {
		var replies []any
		ns.DispatchServerSideEmit("remote", Args{}, func(v any) { replies = append(replies, v) })
		<-got
		<-got
		if len(replies) != 1 || replies[0] != "first" {
			t.Fatalf("replies = %v, want [first]", replies)
		}
	})
	t.Run("Unhandled", func(t *testing.T) {
		if ns.DispatchServerSideEmit("other", Args{}, func(any) { t.Error("reply without handler") }) {
			t.Fatal("handler reported for an unhandled event")
		}
	})
}

func TestNamespace_RoomOpsOnAll(t *testing.T) {
	var ns *Namespace
	_, url := newTestServer(t, Config{}, func(s *Server) { ns = s.Of("/") })
	c1, _ := connect(t, url, "/", nil)
	c2, _ := connect(t, url, "/", nil)
	ctx := testCtx(t)
	awaitJoined(t, ns, 2)
	if err := ns.SocketsJoin(ctx, "everyone"); err != nil {
		t.Fatal(err)
	}
	if n := ns.Adapter().RoomSize("everyone"); n != 2 {
		t.Fatalf("room size = %d", n)
	}
	if err := ns.SocketsLeave(ctx, "everyone"); err != nil {
		t.Fatal(err)
	}
	if n := ns.Adapter().RoomSize("everyone"); n != 0 {
		t.Fatalf("room size after leave = %d", n)
	}
	infos, err := ns.FetchSockets(ctx)
	if err != nil || len(infos) != 2 || len(infos[0].ID) != 20 {
		t.Fatalf("fetch = %+v %v", infos, err)
	}
	if err := ns.DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sioclient.Client{c1, c2} {
		select {
		case <-c.Closed():
		case <-time.After(5 * time.Second):
			t.Fatal("connection not closed by DisconnectSockets(true)")
		}
	}
}

func TestSocket_VolatileTargetsOnlyItself(t *testing.T) {
	var conns *sockets
	_, url := newTestServer(t, Config{}, func(s *Server) { conns = collect(s.Of("/")) })
	a, _ := connect(t, url, "/", nil)
	sa := conns.next(t)
	b, _ := connect(t, url, "/", nil)
	sb := conns.next(t)
	if err := sa.Volatile().Emit("v", 1); err != nil {
		t.Fatal(err)
	}
	if err := sb.Emit("marker"); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, a, "v")
	expectEvents(t, b, "marker")
}

// TestSocket_EmitWithAckInsideHandler: a handler waiting for the client's ack
// is released although its socket's worker is busy running it (ACKs are
// resolved on the read path), and events sent meanwhile are handled after it.
func TestSocket_EmitWithAckInsideHandler(t *testing.T) {
	results := make(chan string, 2)
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.On("ask", func(s *Socket, _ Args, _ AckFunc) {
				reply, err := s.EmitWithAck(testCtx(t), "question")
				if err != nil {
					results <- "error: " + err.Error()
					return
				}
				var v string
				_ = reply.Decode(0, &v)
				results <- "reply " + v
			})
			s.On("after", func(s *Socket, _ Args, _ AckFunc) { results <- "after" })
		})
	})
	c, _ := connect(t, url, "/", nil)
	if err := c.Emit("/", "ask"); err != nil {
		t.Fatal(err)
	}
	p, name, _, err := c.NextEvent(testCtx(t), "/")
	if err != nil || name != "question" {
		t.Fatalf("question: %q %v", name, err)
	}
	if err := c.Emit("/", "after"); err != nil { // queued behind the running handler
		t.Fatal(err)
	}
	if err := c.Ack("/", p.ID, "yes"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"reply yes", "after"} {
		select {
		case got := <-results:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for %q", want)
		}
	}
}

// TestSocket_OnAndNamespaceOn: handlers registered once per namespace
// (Namespace.On) serve every socket; a socket's own On still works, takes
// precedence over the namespace's for the same event, and a second On for
// an event replaces the first.
func TestSocket_OnAndNamespaceOn(t *testing.T) {
	reply := func(v string) EventHandler {
		return func(s *Socket, _ Args, ack AckFunc) { _ = ack(v) }
	}
	_, url := newTestServer(t, Config{}, func(s *Server) {
		ns := s.Of("/")
		ns.On("shared", reply("namespace"))
		ns.On("both", reply("namespace"))
		ns.OnConnection(func(s *Socket) {
			if len(s.Handshake().Auth) == 0 {
				return
			}
			s.On("both", reply("socket-old"))
			s.On("both", reply("socket"))
			s.On("own", reply("socket"))
		})
	})
	for _, tc := range []struct {
		own           bool
		shared, both  string
		ownEventReply string
	}{
		{own: false, shared: `["namespace"]`, both: `["namespace"]`, ownEventReply: ""},
		{own: true, shared: `["namespace"]`, both: `["socket"]`, ownEventReply: `["socket"]`},
	} {
		var auth any
		if tc.own {
			auth = map[string]bool{"own": true}
		}
		c, _ := connect(t, url, "/", auth)
		for ev, want := range map[string]string{"shared": tc.shared, "both": tc.both} {
			p, err := c.EmitWithAck(testCtx(t), "/", ev)
			if err != nil || string(p.Data) != want {
				t.Fatalf("own=%v %s: %v %v, want %s", tc.own, ev, p, err, want)
			}
		}
		if tc.own {
			p, err := c.EmitWithAck(testCtx(t), "/", "own")
			if err != nil || string(p.Data) != tc.ownEventReply {
				t.Fatalf("own event: %v %v", p, err)
			}
		}
	}
}

// awaitJoined waits until ns has n local sockets, each in its own room: a
// socket is in the namespace a moment before the adapter holds its rooms, and
// a broadcast reaches only what the adapter holds.
func awaitJoined(t *testing.T, ns *Namespace, n int) {
	t.Helper()
	testenv.WaitFor(t, 2*time.Second, func() error {
		socks := ns.LocalSockets()
		if len(socks) != n {
			return fmt.Errorf("%d sockets, want %d", len(socks), n)
		}
		for _, s := range socks {
			if len(s.Rooms()) == 0 {
				return fmt.Errorf("socket %s in no room yet", s.ID())
			}
		}
		return nil
	})
}
