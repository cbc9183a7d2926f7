package socketio_test

// Connection-state recovery against the real socket.io-client 4.8.x
// (testdata/recovery/client.js): a client whose transport is cut reconnects
// with its socket id, rooms and data, and receives what was emitted
// meanwhile exactly once, in order, before anything else.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// recClient is a running testdata/recovery/client.js.
type recClient struct {
	t      *testing.T
	script *testenv.NodeScript

	mu     sync.Mutex
	lines  []recLine
	closed bool
}

type recLine struct {
	Ev        string            `json:"ev"`
	ID        string            `json:"id"`
	Recovered bool              `json:"recovered"`
	Transport string            `json:"transport"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Reason    string            `json:"reason"`
	Tag       string            `json:"tag"`
	Message   string            `json:"message"`
	raw       string
}

type recConfig struct {
	Name              string   `json:"name"`
	Transports        []string `json:"transports"`
	ReconnectionDelay int      `json:"reconnectionDelay,omitempty"`
}

func startRecClient(t *testing.T, cs *compatServer, cfg recConfig) *recClient {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &recClient{t: t}
	c.script = testenv.StartNode(t, "testdata/recovery/client.js", cs.URL, string(b))
	go func() {
		for s := range c.script.Lines {
			var l recLine
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				l = recLine{Ev: "fatal", Message: "garbage: " + s}
			}
			l.raw = s
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
	}()
	return c
}

// await waits for the n-th (from 1) line matching match.
func (c *recClient) await(desc string, n int, match func(l recLine) bool) recLine {
	c.t.Helper()
	var got recLine
	testenv.WaitFor(c.t, compatTimeout, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		k := 0
		for _, l := range c.lines {
			if l.Ev == "fatal" {
				c.t.Fatalf("client: %s (waiting for %s)", l.raw, desc)
			}
			if match(l) {
				if k++; k == n {
					got = l
					return nil
				}
			}
		}
		if c.closed {
			c.t.Fatalf("client exited before %s:\n%s", desc, c.dumpLocked())
		}
		return fmt.Errorf("no %s yet:\n%s", desc, c.dumpLocked())
	})
	return got
}

func (c *recClient) connect(n int) recLine {
	c.t.Helper()
	return c.await(fmt.Sprintf("connect #%d", n), n, func(l recLine) bool { return l.Ev == "connect" })
}

func (c *recClient) disconnect(n int) recLine {
	c.t.Helper()
	return c.await(fmt.Sprintf("disconnect #%d", n), n, func(l recLine) bool { return l.Ev == "disconnect" })
}

// cutUntilNoticed drops the server's TCP connections until the client
// reports its first disconnect. One cut is not always enough: a polling
// client between two polls has no request on the server, the cut lands on
// an idle keep-alive socket, and Node's HTTP agent replaces it without an
// error; its next poll then waits on a new connection, which the next cut
// kills.
func cutUntilNoticed(t *testing.T, cs *compatServer, c *recClient) {
	t.Helper()
	var last time.Time
	testenv.WaitFor(t, compatTimeout, func() error {
		c.mu.Lock()
		noticed := slices.ContainsFunc(c.lines, func(l recLine) bool { return l.Ev == "disconnect" })
		c.mu.Unlock()
		if noticed {
			return nil
		}
		if time.Since(last) >= 200*time.Millisecond {
			cs.dropConns()
			last = time.Now()
		}
		return errors.New("the client has not noticed the cut yet")
	})
}

func (c *recClient) send(cmd map[string]any) {
	c.t.Helper()
	if err := c.script.Send(cmd); err != nil {
		c.t.Fatal(err)
	}
}

func (c *recClient) dumpLocked() string {
	var b strings.Builder
	for _, l := range c.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// msgs returns the payloads of the "msg" events received so far, and
// fails unless each carries an offset (a string last argument) and the
// offsets are distinct.
func (c *recClient) msgs() []string {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, l := range c.lines {
		if l.Ev != "event" || l.Event != "msg" {
			continue
		}
		if len(l.Args) != 2 {
			c.t.Fatalf("msg without offset: %s", l.raw)
		}
		var payload, off string
		if json.Unmarshal(l.Args[0], &payload) != nil || json.Unmarshal(l.Args[1], &off) != nil || off == "" {
			c.t.Fatalf("bad msg: %s", l.raw)
		}
		if seen[off] {
			c.t.Fatalf("offset %s twice:\n%s", off, c.dumpLocked())
		}
		seen[off] = true
		out = append(out, payload)
	}
	return out
}

// awaitMsgs waits until the client has received want, exactly, in order.
func (c *recClient) awaitMsgs(want ...string) {
	c.t.Helper()
	testenv.WaitFor(c.t, compatTimeout, func() error {
		got := c.msgs()
		if len(got) > len(want) || strings.Join(got, ",") != strings.Join(want[:len(got)], ",") {
			c.t.Fatalf("msgs %v, want %v", got, want)
		}
		if len(got) < len(want) {
			return fmt.Errorf("msgs %v, want %v", got, want)
		}
		return nil
	})
}

// recoveryServer serves "/" with recovery: "join" (ack) joins a room;
// every socket is recorded by its auth name; gate, when set, holds the
// middleware of recovered sockets (the restore window stays open).
type recoveryServer struct {
	cs *compatServer
	ns *socketio.Namespace
	tr *tracker

	mu   sync.Mutex
	gate chan struct{}
	held chan *socketio.Socket
}

func startRecoveryServer(t *testing.T, rc socketio.RecoveryConfig) *recoveryServer {
	t.Helper()
	rs := &recoveryServer{held: make(chan *socketio.Socket, 4)}
	cfg := socketio.Config{Recovery: &rc}
	rs.cs = startCompat(t, cfg, func(srv *socketio.Server) {
		rs.ns = srv.Of("/")
		rs.ns.Use(func(s *socketio.Socket) error {
			rs.mu.Lock()
			gate := rs.gate
			rs.mu.Unlock()
			if gate != nil && s.Recovered() {
				rs.held <- s
				<-gate
			}
			return nil
		})
		rs.tr = track(rs.ns)
		rs.ns.OnConnection(func(s *socketio.Socket) {
			if !s.Recovered() {
				s.SetData(map[string]string{"name": authName(s)})
			}
			s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				var room string
				if err := args.Decode(0, &room); err == nil {
					s.Join(room)
				}
				if ack != nil {
					_ = ack()
				}
			})
		})
	})
	return rs
}

// hold makes the next recovered socket wait in the middleware; release
// lets it go.
func (rs *recoveryServer) hold() (release func()) {
	gate := make(chan struct{})
	rs.mu.Lock()
	rs.gate = gate
	rs.mu.Unlock()
	return func() { close(gate) }
}

func (rs *recoveryServer) emit(t *testing.T, room, payload string) {
	t.Helper()
	if err := rs.ns.To(room).Emit("msg", payload); err != nil {
		t.Fatal(err)
	}
}

// TestCompat_RecoveryAfterCut: for each transport, with the TCP connection
// killed by the server or by the client (or the Engine.IO connection
// closed by the client, the case of socket.io-client's own recovery test),
// the client reconnects with the
// same socket.id and socket.recovered, its rooms and data intact, and gets
// the room broadcasts and direct emits sent while it was away and while
// its session was being restored, exactly once and in order, before the
// live ones.
func TestCompat_RecoveryAfterCut(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		for _, side := range []string{"server", "client", "engine-close"} {
			t.Run(transport+"/"+side, func(t *testing.T) {
				testRecoveryAfterCut(t, transport, side)
			})
		}
	}
}

func testRecoveryAfterCut(t *testing.T, transport, side string) {
	rs := startRecoveryServer(t, socketio.RecoveryConfig{})
	c := startRecClient(t, rs.cs, recConfig{Name: "a", Transports: []string{transport}, ReconnectionDelay: 300})
	first := c.connect(1)
	if first.Recovered {
		t.Fatal("first connection recovered")
	}
	old := rs.tr.socket(t, "a")
	c.send(map[string]any{"op": "emit", "event": "join", "args": []any{"room1"}, "tag": "joined"})
	c.await("joined", 1, func(l recLine) bool { return l.Ev == "done" && l.Tag == "joined" })
	rs.emit(t, "room1", "1")
	must(t, old.Emit("msg", "2"))
	c.awaitMsgs("1", "2")

	release := rs.hold()
	switch side {
	case "server":
		cutUntilNoticed(t, rs.cs, c)
	case "client":
		c.send(map[string]any{"op": "cut"})
	default:
		c.send(map[string]any{"op": "closeEngine"})
	}
	c.disconnect(1)
	// While the client is away: a room broadcast, a direct emit through
	// the id room and one through the old Socket (logged for its successor).
	rs.emit(t, "room1", "3")
	rs.emit(t, old.ID(), "4")
	if err := old.Emit("msg", "5"); err != nil && err != socketio.ErrNotConnected {
		t.Fatal(err)
	}
	rs.emit(t, "other-room", "never")
	// The restore window: the session is restored, the middleware holds.
	var s *socketio.Socket
	select {
	case s = <-rs.held:
	case <-time.After(compatTimeout):
		t.Fatal("the client did not come back")
	}
	rs.emit(t, "room1", "6")
	rs.emit(t, s.ID(), "7")
	release()
	second := c.connect(2)
	if !second.Recovered || second.ID != first.ID {
		t.Fatalf("reconnected as %s recovered=%v, want %s recovered", second.ID, second.Recovered, first.ID)
	}
	rs.emit(t, "room1", "8")
	c.awaitMsgs("1", "2", "3", "4", "5", "6", "7", "8")
	if !s.Recovered() || s.ID() != old.ID() {
		t.Fatalf("server socket %s recovered=%v", s.ID(), s.Recovered())
	}
	var data map[string]string
	if raw, ok := s.Data().(json.RawMessage); !ok || json.Unmarshal(raw, &data) != nil || data["name"] != "a" {
		t.Fatalf("data %#v not restored", s.Data())
	}
	if a := authName(s); a != "a" || strings.Contains(string(s.Handshake().Auth), "pid") {
		t.Fatalf("auth %s: pid and offset must be stripped", s.Handshake().Auth)
	}
	if rooms := strings.Join(sortedRooms(s), ","); rooms != strings.Join(sortedStrings(old.ID(), "room1"), ",") {
		t.Fatalf("rooms %s", rooms)
	}
}

// TestCompat_RecoveryWithoutEvents: a client that had received no event
// when its transport was cut still recovers (Node's client then sends no
// offset: the replay starts at the session's connect offset).
func TestCompat_RecoveryWithoutEvents(t *testing.T) {
	rs := startRecoveryServer(t, socketio.RecoveryConfig{SkipMiddlewares: true})
	must(t, rs.ns.Emit("msg", "before")) // logged before the client connects: never replayed
	c := startRecClient(t, rs.cs, recConfig{Name: "a", Transports: []string{"websocket"}, ReconnectionDelay: 300})
	first := c.connect(1)
	old := rs.tr.socket(t, "a")
	c.send(map[string]any{"op": "cut"})
	c.disconnect(1)
	testenv.WaitFor(t, compatTimeout, func() error {
		if old.Connected() {
			return fmt.Errorf("old socket still connected")
		}
		return nil
	})
	must(t, rs.ns.Emit("msg", "1"))
	rs.emit(t, old.ID(), "2")
	second := c.connect(2)
	if !second.Recovered || second.ID != first.ID {
		t.Fatalf("reconnected as %s recovered=%v, want %s recovered", second.ID, second.Recovered, first.ID)
	}
	c.awaitMsgs("1", "2")
}

// TestCompat_RecoveryExpired: after MaxDisconnectionDuration the client
// gets a new session (new id, recovered false) and nothing is replayed.
func TestCompat_RecoveryExpired(t *testing.T) {
	rs := startRecoveryServer(t, socketio.RecoveryConfig{MaxDisconnectionDuration: 200 * time.Millisecond})
	c := startRecClient(t, rs.cs, recConfig{Name: "a", Transports: []string{"websocket"}, ReconnectionDelay: 1500})
	first := c.connect(1)
	old := rs.tr.socket(t, "a")
	rs.emit(t, old.ID(), "1")
	c.awaitMsgs("1")
	c.send(map[string]any{"op": "cut"})
	c.disconnect(1)
	rs.emit(t, old.ID(), "lost")
	second := c.connect(2)
	if second.Recovered || second.ID == first.ID {
		t.Fatalf("reconnected as %s recovered=%v after the session expired", second.ID, second.Recovered)
	}
	s := rs.tr.socket(t, "a")
	testenv.WaitFor(t, compatTimeout, func() error {
		if s = rs.tr.socket(t, "a"); s.ID() != second.ID {
			return fmt.Errorf("server socket %s", s.ID())
		}
		return nil
	})
	if s.Recovered() {
		t.Fatal("server socket recovered")
	}
	rs.emit(t, s.ID(), "2")
	c.awaitMsgs("1", "2")
}

func sortedRooms(s *socketio.Socket) []string { return sortedStrings(s.Rooms()...) }

func sortedStrings(ss ...string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
