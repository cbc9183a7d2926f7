package socketio_test

// Harness of the compatibility suite: a sockgate server on httptest and the
// real socket.io-client 4.8.x (internal/testenv/node) driven by
// testdata/compat/puppet.js. The Go side asserts both what the client printed
// and what the server observed.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// compatTimeout bounds every wait of the suite; generous for -race on 2 busy cores.
const compatTimeout = 15 * time.Second

// compatServer is a sockgate server mounted at /socket.io/ on 127.0.0.1.
type compatServer struct {
	Srv *socketio.Server
	URL string // base URL, without path
	ts  *httptest.Server

	mu    sync.Mutex
	conns map[net.Conn]struct{} // every accepted TCP connection, hijacked ones included
}

// startCompat starts a server; setup registers namespaces and handlers
// before the first client can connect.
func startCompat(t *testing.T, cfg socketio.Config, setup func(srv *socketio.Server)) *compatServer {
	t.Helper()
	srv := socketio.New(cfg)
	if setup != nil {
		setup(srv)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	cs := &compatServer{Srv: srv, conns: make(map[net.Conn]struct{})}
	ts := httptest.NewUnstartedServer(mux)
	ts.Config.ConnState = func(c net.Conn, st http.ConnState) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		switch st {
		case http.StateNew:
			cs.conns[c] = struct{}{}
		case http.StateClosed:
			delete(cs.conns, c)
		}
	}
	ts.Start()
	cs.ts = ts
	cs.URL = ts.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cs.closeConns()
		ts.Close()
	})
	return cs
}

// dropConns ends every TCP connection the server accepted, WebSockets
// included, without any Engine.IO or WebSocket close handshake: it shuts
// both directions down, so the client sees the connection close and the
// server's reads end, and the server closes its side as it would after a
// network failure. (Closing the descriptor behind the engine's back would
// not do: a parked idle reader is not woken by a close of its socket, only
// by the socket's readiness; the engine would notice at its next ping.)
func (cs *compatServer) dropConns() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := 0
	for c := range cs.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseRead()
			tc.CloseWrite()
		} else {
			c.Close()
		}
		n++
	}
	return n
}

// closeConns closes every TCP connection the server accepted.
func (cs *compatServer) closeConns() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		c.Close()
	}
}

// clientSpec configures one puppet client (see puppet.js).
type clientSpec struct {
	Name string     `json:"name"`
	Nsp  string     `json:"nsp,omitempty"`
	Opts clientOpts `json:"opts"`
	// Manager, when set, shares one Manager (one Engine.IO connection)
	// between the clients naming it.
	Manager string `json:"manager,omitempty"`
	// Bare opens a Manager that joins no namespace.
	Bare bool `json:"bare,omitempty"`
	// NoAck stops the client from answering acknowledgements.
	NoAck bool `json:"noAck,omitempty"`
	// NoPong stops the client from answering pings.
	NoPong bool `json:"noPong,omitempty"`
	// FreezePingTimer makes the client ignore pings for its heartbeat timer.
	FreezePingTimer bool `json:"freezePingTimer,omitempty"`
	// DelayUpgradeMs holds the upgrade packet back once polling is paused
	// for the upgrade (the client prints a "paused" line then).
	DelayUpgradeMs int `json:"delayUpgradeMs,omitempty"`
	// LogPings prints a "ping" line for every ping the client answers.
	LogPings  bool  `json:"logPings,omitempty"`
	OnConnect []cmd `json:"onConnect,omitempty"`
}

// clientOpts are socket.io-client options.
type clientOpts struct {
	Transports   []string          `json:"transports,omitempty"`
	Upgrade      *bool             `json:"upgrade,omitempty"`
	Auth         map[string]any    `json:"auth,omitempty"` // merged over {"name": Name}
	Query        map[string]string `json:"query,omitempty"`
	ExtraHeaders map[string]string `json:"extraHeaders,omitempty"`
	// Reconnection defaults to false in puppet.js.
	Reconnection        *bool    `json:"reconnection,omitempty"`
	ReconnectionDelay   int      `json:"reconnectionDelay,omitempty"`
	RandomizationFactor *float64 `json:"randomizationFactor,omitempty"`
}

// cmd is a command for a puppet client (see runCmd in puppet.js).
type cmd struct {
	Op      string `json:"op"`
	Target  string `json:"target,omitempty"`
	Event   string `json:"event,omitempty"`
	Args    []any  `json:"args,omitempty"`
	Ack     bool   `json:"ack,omitempty"`
	Timeout int    `json:"timeout,omitempty"` // ms; with Ack: socket.timeout(ms).emitWithAck
	Tag     string `json:"tag,omitempty"`
	Count   int    `json:"count,omitempty"`
	Binary  bool   `json:"binary,omitempty"` // burst: odd numbers carry a Buffer
	Size    int    `json:"size,omitempty"`   // burst: strings of Size "x" instead of numbers
}

// bin is how binaries travel in puppet arguments and output.
type bin struct {
	Hex string `json:"$bin"`
}

func binOf(b []byte) bin { return bin{Hex: hex.EncodeToString(b)} }

// bigString asks the puppet for a string of n "x".
type bigString struct {
	N int `json:"$str"`
}

// line is one JSON line printed by puppet.js.
type line struct {
	Ev          string            `json:"ev"`
	C           string            `json:"c"`
	ID          string            `json:"id"`
	Transport   string            `json:"transport"`
	Current     string            `json:"current"`
	Event       string            `json:"event"`
	Args        []json.RawMessage `json:"args"`
	Ack         bool              `json:"ack"`
	Tag         string            `json:"tag"`
	Reason      string            `json:"reason"`
	Description json.RawMessage   `json:"description"`
	Message     string            `json:"message"`
	Data        json.RawMessage   `json:"data"`
	Connected   bool              `json:"connected"`
	Active      bool              `json:"active"` // disconnect: the Manager will reconnect
	Answered    int               `json:"answered"`
	Wrong       int               `json:"wrong"`
	raw         string
}

func (l line) String() string { return l.raw }

// puppet is a running puppet.js whose output is collected in order.
type puppet struct {
	t      *testing.T
	script *testenv.NodeScript

	mu     sync.Mutex
	lines  []line
	closed bool
	next   int // index of the first line not yet consumed by expect
}

// startPuppet runs puppet.js with the given clients against cs.
func startPuppet(t *testing.T, cs *compatServer, clients ...clientSpec) *puppet {
	t.Helper()
	cfg, err := json.Marshal(struct {
		Clients    []clientSpec `json:"clients"`
		WatchdogMs int          `json:"watchdogMs"`
	}{clients, 50000})
	if err != nil {
		t.Fatal(err)
	}
	p := &puppet{t: t}
	p.script = testenv.StartNode(t, "testdata/compat/puppet.js", cs.URL, string(cfg))
	// Shut the server down while the clients still live (cleanups run last
	// registered first): killing them first would leave polling sessions
	// whose client vanished, a case TestCompat_ShutdownVanishedPollingClient
	// covers on its own.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cs.Srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	go func() {
		for s := range p.script.Lines {
			var l line
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				l = line{Ev: "garbage", Message: err.Error()}
			}
			l.raw = s
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
	}()
	return p
}

// await returns the first line (consumed or not) matching match, failing the
// test after compatTimeout, on a fatal line, or when the script exits first.
func (p *puppet) await(desc string, match func(l line) bool) line {
	p.t.Helper()
	deadline := time.Now().Add(compatTimeout)
	for {
		p.mu.Lock()
		lines, closed := p.lines, p.closed
		p.mu.Unlock()
		for _, l := range lines {
			if l.Ev == "fatal" || l.Ev == "garbage" {
				p.t.Fatalf("puppet: %s (waiting for %s)", l.raw, desc)
			}
			if match(l) {
				return l
			}
		}
		if closed {
			p.t.Fatalf("puppet exited before %s; output:\n%s", desc, p.dump())
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timeout waiting for %s; output:\n%s", desc, p.dump())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expect waits for the first line of client c with the given ev.
func (p *puppet) expect(c, ev string) line {
	p.t.Helper()
	return p.await(c+" "+ev, func(l line) bool { return l.C == c && l.Ev == ev })
}

// expectEvent waits for client c to receive event.
func (p *puppet) expectEvent(c, event string) line {
	p.t.Helper()
	return p.await(c+" event "+event, func(l line) bool { return l.C == c && l.Ev == "event" && l.Event == event })
}

// expectTag waits for an ack or ack_error line of client c with tag.
func (p *puppet) expectTag(c, tag string) line {
	p.t.Helper()
	return p.await(c+" ack "+tag, func(l line) bool {
		return l.C == c && (l.Ev == "ack" || l.Ev == "ack_error") && l.Tag == tag
	})
}

// linesOf returns a snapshot of the lines of client c with the given ev.
func (p *puppet) linesOf(c, ev string) []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []line
	for _, l := range p.lines {
		if l.C == c && l.Ev == ev {
			out = append(out, l)
		}
	}
	return out
}

// waitExit waits for the script to exit successfully.
func (p *puppet) waitExit() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
	defer cancel()
	if err := p.script.Wait(ctx); err != nil {
		p.t.Fatalf("puppet: %v; output:\n%s", err, p.dump())
	}
	p.await("exit line", func(l line) bool { return l.Ev == "exit" })
}

func (p *puppet) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// command sends a command to the client behind s and waits until the client
// has started it.
func command(t *testing.T, s *socketio.Socket, c cmd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
	defer cancel()
	if _, err := s.EmitWithAck(ctx, "cmd", c); err != nil {
		t.Fatalf("command %+v: %v", c, err)
	}
}

// tracker records the sockets of a namespace by the name in their auth
// payload ({"name": ...}), with their disconnect reasons.
type tracker struct {
	mu            sync.Mutex
	sockets       map[string]*socketio.Socket
	disconnects   map[string]string
	disconnecting map[string][]string // rooms seen in OnDisconnecting
}

func track(ns *socketio.Namespace) *tracker {
	tr := &tracker{
		sockets:       make(map[string]*socketio.Socket),
		disconnects:   make(map[string]string),
		disconnecting: make(map[string][]string),
	}
	ns.OnConnection(func(s *socketio.Socket) {
		name := authName(s)
		tr.mu.Lock()
		tr.sockets[name] = s
		tr.mu.Unlock()
		s.OnDisconnecting(func(s *socketio.Socket, reason string) {
			rooms := s.Rooms()
			tr.mu.Lock()
			tr.disconnecting[name] = rooms
			tr.mu.Unlock()
		})
		s.OnDisconnect(func(s *socketio.Socket, reason string) {
			tr.mu.Lock()
			tr.disconnects[name] = reason
			tr.mu.Unlock()
		})
	})
	return tr
}

func authName(s *socketio.Socket) string {
	var a struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(s.Handshake().Auth, &a)
	return a.Name
}

// socket waits for the socket of client name.
func (tr *tracker) socket(t *testing.T, name string) *socketio.Socket {
	t.Helper()
	var s *socketio.Socket
	waitFor(t, "server socket "+name, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		s = tr.sockets[name]
		return s != nil
	})
	return s
}

// reason waits for the server-side disconnect reason of client name.
func (tr *tracker) reason(t *testing.T, name string) string {
	t.Helper()
	var r string
	waitFor(t, "server disconnect of "+name, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		var ok bool
		r, ok = tr.disconnects[name]
		return ok
	})
	return r
}

// waitFor polls cond until it holds or compatTimeout passes.
func waitFor(t *testing.T, desc string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(compatTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", desc)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jsonEq fails unless got and want are the same JSON value.
func jsonEq(t *testing.T, what string, got json.RawMessage, want any) {
	t.Helper()
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: bad JSON %q: %v", what, got, err)
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(wb, &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ = json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

// argsEq compares a line's args with want, as JSON.
func argsEq(t *testing.T, what string, l line, want ...any) {
	t.Helper()
	got, err := json.Marshal(l.Args)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []any{}
	}
	jsonEq(t, what, got, want)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
	t.Cleanup(cancel)
	return ctx
}
