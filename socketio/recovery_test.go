package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio/parser"
)

// fakeClock is a settable clock for MemorySessionAdapter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sessionLog returns the MemorySessionAdapter of "/" of a server with
// recovery rc, on a fake clock.
func sessionLog(t *testing.T, rc RecoveryConfig) (*Namespace, *MemorySessionAdapter, *fakeClock) {
	t.Helper()
	srv := New(Config{Recovery: &rc})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	a, ok := ns.Adapter().(*MemorySessionAdapter)
	if !ok {
		t.Fatalf("adapter %T, want *MemorySessionAdapter", ns.Adapter())
	}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	a.now = clk.now
	return ns, a, clk
}

// emitLogged broadcasts msg(payload) with b and returns the offset it got.
func emitLogged(t *testing.T, ns *Namespace, b *BroadcastOperator, payload string) string {
	t.Helper()
	if err := b.Emit("msg", payload); err != nil {
		t.Fatal(err)
	}
	return ns.lastOffset()
}

// payloads returns the payload and offset of each packet of s.
func payloads(t *testing.T, s *Session) (got []string) {
	t.Helper()
	for _, p := range s.MissedPackets {
		var elems []string
		if err := json.Unmarshal(p.Data, &elems); err != nil || len(elems) != 3 {
			t.Fatalf("missed packet %s", p.Data)
		}
		got = append(got, elems[1])
	}
	return got
}

func persist(t *testing.T, a *MemorySessionAdapter, pid string, rooms []string, offset string) {
	t.Helper()
	if err := a.PersistSession(context.Background(), &Session{SID: "sid-" + pid, PID: pid, Rooms: rooms, Offset: offset}); err != nil {
		t.Fatal(err)
	}
}

func restore(t *testing.T, a *MemorySessionAdapter, pid, offset string) *Session {
	t.Helper()
	s, err := a.RestoreSession(context.Background(), pid, offset)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMemorySessionAdapter_Log(t *testing.T) {
	t.Run("OrderAndFilter", func(t *testing.T) {
		ns, a, _ := sessionLog(t, RecoveryConfig{})
		from := emitLogged(t, ns, ns.operator(), "before")
		emitLogged(t, ns, ns.To("r1"), "r1")
		emitLogged(t, ns, ns.To("r2"), "r2")
		emitLogged(t, ns, ns.Except("r1"), "all-but-r1")
		emitLogged(t, ns, ns.To("r2", "me"), "r2-or-me")
		emitLogged(t, ns, ns.operator(), "all")
		emitLogged(t, ns, ns.To("r1").Except("me"), "r1-but-me")
		if err := ns.Volatile().Emit("msg", "volatile"); err != nil {
			t.Fatal(err)
		}
		persist(t, a, "p", []string{"me", "r1"}, "")
		got := payloads(t, restore(t, a, "p", from))
		if want := "r1,r2-or-me,all"; strings.Join(got, ",") != want {
			t.Fatalf("missed %v, want %s", got, want)
		}
		if s := restore(t, a, "p", from); s != nil {
			t.Fatal("a session restored twice")
		}
	})
	t.Run("OffsetsOrdered", func(t *testing.T) {
		ns, a, _ := sessionLog(t, RecoveryConfig{})
		var offs []string
		for i := range 50 {
			offs = append(offs, emitLogged(t, ns, ns.operator(), fmt.Sprint(i)))
		}
		for i := 1; i < len(offs); i++ {
			n0, ok0 := a.parseOffset(offs[i-1])
			n1, ok1 := a.parseOffset(offs[i])
			if !ok0 || !ok1 || n1 <= n0 {
				t.Fatalf("offsets %s then %s", offs[i-1], offs[i])
			}
		}
		persist(t, a, "p", []string{"me"}, "")
		if got := payloads(t, restore(t, a, "p", offs[47])); strings.Join(got, ",") != "48,49" {
			t.Fatalf("missed %v", got)
		}
	})
	t.Run("EmptyOffsetStartsAtSessionOffset", func(t *testing.T) {
		ns, a, _ := sessionLog(t, RecoveryConfig{})
		connected := emitLogged(t, ns, ns.operator(), "before")
		emitLogged(t, ns, ns.operator(), "after")
		persist(t, a, "p", []string{"me"}, connected)
		if got := payloads(t, restore(t, a, "p", "")); strings.Join(got, ",") != "after" {
			t.Fatalf("missed %v", got)
		}
	})
	t.Run("UnknownExpiredForeign", func(t *testing.T) {
		ns, a, clk := sessionLog(t, RecoveryConfig{MaxDisconnectionDuration: time.Minute})
		off := emitLogged(t, ns, ns.operator(), "x")
		if restore(t, a, "nobody", off) != nil {
			t.Fatal("unknown pid restored")
		}
		persist(t, a, "p", []string{"me"}, "")
		if restore(t, a, "p", "other-epoch-1") != nil {
			t.Fatal("foreign offset restored")
		}
		persist(t, a, "p", []string{"me"}, "")
		if restore(t, a, "p", off+"0") != nil {
			t.Fatal("offset from the future restored")
		}
		persist(t, a, "p", []string{"me"}, "")
		clk.add(time.Minute + time.Second)
		if restore(t, a, "p", off) != nil {
			t.Fatal("expired session restored")
		}
	})
	t.Run("PrunedByAge", func(t *testing.T) {
		ns, a, clk := sessionLog(t, RecoveryConfig{MaxDisconnectionDuration: time.Minute})
		first := emitLogged(t, ns, ns.operator(), "old")
		emitLogged(t, ns, ns.operator(), "old2")
		clk.add(2 * time.Minute)
		last := emitLogged(t, ns, ns.operator(), "new")
		if n := len(a.entries) - a.head; n != 1 {
			t.Fatalf("%d entries kept, want 1", n)
		}
		// Dropped long (more than a heartbeat) before the disconnection:
		// the client, connected then, received them.
		persist(t, a, "p", []string{"me"}, "")
		if got := payloads(t, restore(t, a, "p", first)); strings.Join(got, ",") != "new" {
			t.Fatalf("missed %v", got)
		}
		persist(t, a, "q", []string{"me"}, "")
		if s := restore(t, a, "q", last); s == nil || len(s.MissedPackets) != 0 {
			t.Fatalf("restore from the newest offset: %+v", s)
		}
	})
	t.Run("ByteBound", func(t *testing.T) {
		size := entrySize(&parser.Packet{Data: json.RawMessage(`["msg","xxxxxxxxxx","` + strings.Repeat("o", 12) + `"]`)}, BroadcastOptions{})
		ns, a, _ := sessionLog(t, RecoveryConfig{MaxLogBytes: 3 * size})
		var offs []string
		for range 10 {
			offs = append(offs, emitLogged(t, ns, ns.operator(), "xxxxxxxxxx"))
		}
		if a.bytes > 3*size || len(a.entries)-a.head != 3 {
			t.Fatalf("%d bytes in %d entries, bound %d", a.bytes, len(a.entries)-a.head, 3*size)
		}
		// Dropped just now: a client behind them cannot be made whole.
		persist(t, a, "p", []string{"me"}, "")
		if restore(t, a, "p", offs[2]) != nil {
			t.Fatal("restored across dropped packets")
		}
		persist(t, a, "p", []string{"me"}, "")
		if s := restore(t, a, "p", offs[7]); s == nil || len(s.MissedPackets) != 2 {
			t.Fatalf("restore within the log: %+v", s)
		}
	})
	t.Run("NotLogged", func(t *testing.T) {
		ns, a, _ := sessionLog(t, RecoveryConfig{})
		_ = ns.Volatile().Emit("v")
		_, _ = ns.Timeout(time.Millisecond).EmitWithAck(context.Background(), "ack")
		if len(a.entries) != 0 || ns.lastOffset() != "" {
			t.Fatalf("%d entries logged", len(a.entries))
		}
	})
}

func TestSplitRecoveryAuth(t *testing.T) {
	pid, off, rest := splitRecoveryAuth(json.RawMessage(`{"z":1,"pid":"P","token":"t","offset":"O","a":[1,{"b":2}]}`))
	if pid != "P" || off != "O" || string(rest) != `{"z":1,"token":"t","a":[1,{"b":2}]}` {
		t.Fatalf("pid %q offset %q rest %s", pid, off, rest)
	}
	pid, off, rest = splitRecoveryAuth(json.RawMessage(`{"pid":"P"}`))
	if pid != "P" || off != "" || string(rest) != `{}` {
		t.Fatalf("pid %q offset %q rest %s", pid, off, rest)
	}
	if _, _, rest = splitRecoveryAuth(json.RawMessage(`{"token":"t"}`)); string(rest) != `{"token":"t"}` {
		t.Fatalf("rest %s", rest)
	}
}

func TestPacketOffset(t *testing.T) {
	for _, data := range []string{`["e"]`, `["e",1,{"a":"b"}]`, `[ "e" , "x" ] `} {
		p := &parser.Packet{Type: parser.Event, Data: json.RawMessage(data)}
		appendOffset(p, "ep-1z")
		if got := packetOffset(p); got != "ep-1z" {
			t.Fatalf("%s: offset %q from %s", data, got, p.Data)
		}
		var v []any
		if err := json.Unmarshal(p.Data, &v); err != nil {
			t.Fatalf("%s: %v", p.Data, err)
		}
	}
	for _, data := range []string{`["e"]`, `["e",1]`, `["e","a\"b"]`} {
		if got := packetOffset(&parser.Packet{Type: parser.Event, Data: json.RawMessage(data)}); got != "" {
			t.Fatalf("%s: offset %q", data, got)
		}
	}
}

// TestRecovery_TakeOver: a client that comes back with its pid on a new
// connection while the server still holds the old one (a half-open TCP
// connection, a polling session before its ping timeout) recovers: the
// old socket is closed and its session persisted, then restored, with
// what was sent to the dead connection after the client's offset.
func TestRecovery_TakeOver(t *testing.T) {
	var mu sync.Mutex
	var sockets []*Socket
	_, url := newTestServer(t, Config{Recovery: &RecoveryConfig{}}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.Join("room")
			mu.Lock()
			sockets = append(sockets, s)
			mu.Unlock()
		})
	})
	c1 := dial(t, url)
	sid, pid, err := c1.ConnectSession(testCtx(t), "/", map[string]string{"token": "t"})
	if err != nil || pid == "" {
		t.Fatalf("connect: %q %v", pid, err)
	}
	var old *Socket
	testenv.WaitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(sockets) != 1 {
			return fmt.Errorf("%d sockets", len(sockets))
		}
		old = sockets[0]
		return nil
	})
	if err := old.Emit("msg", "seen"); err != nil {
		t.Fatal(err)
	}
	_, _, args, err := c1.NextEvent(testCtx(t), "/")
	if err != nil || len(args) != 2 {
		t.Fatalf("event %v %v", args, err)
	}
	var offset string
	_ = json.Unmarshal(args[1], &offset)
	// Sent to the old connection, which the client no longer reads.
	if err := old.ns.To("room").Emit("msg", "lost"); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, url)
	sid2, pid2, err := c2.ConnectSession(testCtx(t), "/", map[string]string{"token": "t", "pid": pid, "offset": offset})
	if err != nil || sid2 != sid || pid2 != pid {
		t.Fatalf("reconnect: sid %s pid %s %v, want sid %s", sid2, pid2, err, sid)
	}
	_, _, args, err = c2.NextEvent(testCtx(t), "/")
	if err != nil || len(args) != 2 || string(args[0]) != `"lost"` {
		t.Fatalf("replay %s %v", args, err)
	}
	select {
	case <-c1.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the old connection is still open")
	}
	mu.Lock()
	s := sockets[len(sockets)-1]
	mu.Unlock()
	if !s.Recovered() || s == old || string(s.Handshake().Auth) != `{"token":"t"}` {
		t.Fatalf("recovered %v, auth %s", s.Recovered(), s.Handshake().Auth)
	}
}

// recordingSessions records the sessions persisted.
type recordingSessions struct {
	*MemorySessionAdapter
	mu    sync.Mutex
	saved []Session
}

func (r *recordingSessions) PersistSession(ctx context.Context, s *Session) error {
	r.mu.Lock()
	r.saved = append(r.saved, *s)
	r.mu.Unlock()
	return r.MemorySessionAdapter.PersistSession(ctx, s)
}

// TestServer_ShutdownDrainsHandlers: an event handler running when
// Shutdown starts finishes and its ack reaches the real client
// (socket.io-client 4.8) before the connection closes; the socket's
// session is persisted ("server shutting down" is recoverable) and the
// client sees a transport close, not an "io server disconnect": it would
// reconnect (elsewhere).
func TestServer_ShutdownDrainsHandlers(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) { testShutdownDrainsHandlers(t, transport) })
	}
}

func testShutdownDrainsHandlers(t *testing.T, transport string) {
	var rec *recordingSessions
	running := make(chan *Socket, 1)
	srv, url := newTestServer(t, Config{
		Recovery: &RecoveryConfig{},
		Adapter: func(n *Namespace) (Adapter, error) {
			rec = &recordingSessions{MemorySessionAdapter: NewMemorySessionAdapter(n)}
			return rec, nil
		},
	}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.On("slow", func(s *Socket, _ Args, ack AckFunc) {
				running <- s
				for !s.ns.srv.closing.Load() { // Shutdown has started
					time.Sleep(time.Millisecond)
				}
				if err := ack("done"); err != nil {
					s.client.logger().Error("ack", "err", err)
				}
			})
		})
	})
	c := startNodeClient(t, strings.TrimSuffix(url, "/socket.io/"), `{"name":"a","transports":["`+transport+`"],"reconnectionDelay":60000}`)
	c.await(t, `"ev":"connect"`)
	if err := c.script.Send(map[string]any{"op": "emit", "event": "slow", "tag": "slow"}); err != nil {
		t.Fatal(err)
	}
	s := <-running
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.await(t, `"ev":"done","tag":"slow"`)
	c.await(t, `"ev":"disconnect","reason":"transport close"`)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.saved) != 1 || rec.saved[0].SID != s.ID() || rec.saved[0].PID == "" {
		t.Fatalf("sessions persisted: %+v", rec.saved)
	}
}

// nodeClient is testdata/recovery/client.js run from this package's tests.
type nodeClient struct {
	script *testenv.NodeScript
	mu     sync.Mutex
	lines  []string
}

func startNodeClient(t *testing.T, base, cfg string) *nodeClient {
	t.Helper()
	c := &nodeClient{script: testenv.StartNode(t, "testdata/recovery/client.js", base, cfg)}
	go func() {
		for l := range c.script.Lines {
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
		}
	}()
	return c
}

// await waits for a line containing sub.
func (c *nodeClient) await(t *testing.T, sub string) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, l := range c.lines {
			if strings.Contains(l, sub) {
				return nil
			}
		}
		return fmt.Errorf("no line with %s in:\n%s", sub, strings.Join(c.lines, "\n"))
	})
}

// joinHook runs hook after AddAll: a broadcast from there reaches a
// recovering socket between its join and its replay.
type joinHook struct {
	*MemorySessionAdapter
	mu   sync.Mutex
	hook func(id string)
}

func (j *joinHook) AddAll(id string, rooms []string) {
	j.MemorySessionAdapter.AddAll(id, rooms)
	j.mu.Lock()
	hook := j.hook
	j.hook = nil
	j.mu.Unlock()
	if hook != nil && len(rooms) > 1 {
		hook(id)
	}
}

// TestRecovery_LiveDuringReplay: a broadcast that reaches a recovered
// socket after it joined its rooms but before its replay is written (the
// window between restore and joining) arrives once, after the missed
// packets.
func TestRecovery_LiveDuringReplay(t *testing.T) {
	var jh *joinHook
	var ns *Namespace
	_, url := newTestServer(t, Config{
		Recovery: &RecoveryConfig{},
		Adapter: func(n *Namespace) (Adapter, error) {
			jh = &joinHook{MemorySessionAdapter: NewMemorySessionAdapter(n)}
			return jh, nil
		},
	}, func(s *Server) {
		ns = s.Of("/")
		ns.OnConnection(func(s *Socket) { s.Join("room") })
	})
	c1 := dial(t, url)
	sid, pid, err := c1.ConnectSession(testCtx(t), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if ns.Adapter().RoomSize("room") != 1 {
			return fmt.Errorf("not in room yet")
		}
		return nil
	})
	c1.Close()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if ns.Socket(sid) != nil {
			return fmt.Errorf("old socket still there")
		}
		return nil
	})
	must(t, ns.To("room").Emit("msg", "missed"))
	jh.mu.Lock()
	jh.hook = func(string) { must(t, ns.To("room").Emit("msg", "live")) }
	jh.mu.Unlock()
	c2 := dial(t, url)
	if sid2, _, err := c2.ConnectSession(testCtx(t), "/", map[string]string{"pid": pid}); err != nil || sid2 != sid {
		t.Fatalf("reconnect: %s %v", sid2, err)
	}
	must(t, ns.To("room").Emit("msg", "after"))
	var got []string
	for len(got) < 3 {
		_, _, args, err := c2.NextEvent(testCtx(t), "/")
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, string(args[0]))
	}
	if strings.Join(got, ",") != `"missed","live","after"` {
		t.Fatalf("received %v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecovery_TakeOverSameConnection: a client that joins the namespace
// again with its pid on the same connection, while its previous socket is
// still disconnecting, waits for it without losing the connection.
func TestRecovery_TakeOverSameConnection(t *testing.T) {
	release := make(chan struct{})
	connected := make(chan *Socket, 2)
	_, url := newTestServer(t, Config{Recovery: &RecoveryConfig{}}, func(s *Server) {
		s.Of("/").OnConnection(func(s *Socket) {
			s.OnDisconnect(func(*Socket, string) { <-release })
			connected <- s
		})
	})
	c := dial(t, url)
	sid, pid, err := c.ConnectSession(testCtx(t), "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	old := <-connected
	old.Disconnect(false) // not recoverable; its OnDisconnect blocks
	if p, err := c.Next(testCtx(t)); err != nil || p.Type != parser.Disconnect {
		t.Fatalf("got %v %v, want DISCONNECT", p, err)
	}
	if err := c.SendPacket(&parser.Packet{Type: parser.Connect, Namespace: "/", Data: json.RawMessage(`{"pid":"` + pid + `"}`)}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		old.rec.mu.Lock()
		defer old.rec.mu.Unlock()
		if old.rec.done == nil {
			return fmt.Errorf("the new socket does not wait for the old one yet")
		}
		return nil
	})
	close(release)
	p, err := c.Next(testCtx(t))
	if err != nil || p.Type != parser.Connect {
		t.Fatalf("got %v %v, want CONNECT", p, err)
	}
	if s := <-connected; s.ID() == sid || s.Recovered() {
		t.Fatalf("socket %s recovered=%v after a server disconnect", s.ID(), s.Recovered())
	}
}
