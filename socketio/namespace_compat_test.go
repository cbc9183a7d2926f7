package socketio_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// whereHandler answers with the namespace the event arrived on.
func whereHandler(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
	if ack != nil {
		_ = ack(s.Namespace().Name())
	}
}

// TestCompat_Namespaces: static and dynamic (OfFunc) namespaces multiplexed
// over one Manager, unknown namespaces refused as Node does.
func TestCompat_Namespaces(t *testing.T) {
	bothTransports(t, testNamespaces)
}

func testNamespaces(t *testing.T, transports []string) {
	dynName := regexp.MustCompile(`^/dyn-\d+$`)
	var (
		mu     sync.Mutex
		setups = map[string]int{}
		dynTr  = map[string]*tracker{}
	)
	var root, chat *tracker
	cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
		rootNs, chatNs := srv.Of("/"), srv.Of("/chat")
		root, chat = track(rootNs), track(chatNs)
		for _, ns := range []*socketio.Namespace{rootNs, chatNs} {
			ns.OnConnection(func(s *socketio.Socket) { s.On("where", whereHandler) })
		}
		srv.OfFunc(func(name string, auth json.RawMessage) bool {
			return dynName.MatchString(name)
		}, func(n *socketio.Namespace) {
			mu.Lock()
			setups[n.Name()]++
			dynTr[n.Name()] = track(n)
			mu.Unlock()
			n.OnConnection(func(s *socketio.Socket) { s.On("where", whereHandler) })
		})
	})
	opts := clientOpts{Transports: transports}
	p := startPuppet(t, cs,
		// One Engine.IO connection, four namespaces.
		clientSpec{Name: "root", Manager: "m", Opts: opts},
		clientSpec{Name: "chat", Nsp: "/chat", Manager: "m", Opts: opts},
		clientSpec{Name: "dyn", Nsp: "/dyn-42", Manager: "m", Opts: opts},
		clientSpec{Name: "dyn2", Nsp: "/dyn-43", Manager: "m", Opts: opts},
		// Another connection to an existing dynamic namespace.
		clientSpec{Name: "dyn-again", Nsp: "/dyn-42", Opts: opts},
		clientSpec{Name: "unknown", Nsp: "/nope", Opts: opts},
		clientSpec{Name: "dyn-refused", Nsp: "/dyn-x", Opts: opts},
	)
	ids := map[string]string{}
	for _, c := range []string{"root", "chat", "dyn", "dyn2", "dyn-again"} {
		l := p.expect(c, "connect")
		if len(l.ID) != 20 {
			t.Errorf("%s: id %q", c, l.ID)
		}
		for other, id := range ids {
			if id == l.ID {
				t.Errorf("%s and %s share id %q", c, other, id)
			}
		}
		ids[c] = l.ID
	}
	if opens := p.linesOf("root", "open"); len(opens) != 1 {
		t.Errorf("manager m opened %d engines, want 1", len(opens))
	}
	for _, c := range []string{"unknown", "dyn-refused"} {
		l := p.expect(c, "connect_error")
		if l.Message != "Invalid namespace" {
			t.Errorf("%s: connect_error %q, want \"Invalid namespace\"", c, l.Message)
		}
	}

	s := root.socket(t, "root")
	want := map[string]string{"root": "/", "chat": "/chat", "dyn": "/dyn-42", "dyn2": "/dyn-43", "dyn-again": "/dyn-42"}
	for c, nsp := range want {
		command(t, s, cmd{Op: "emit", Target: c, Event: "where", Ack: true, Tag: "where-" + c})
		argsEq(t, c+" where", p.expectTag(c, "where-"+c), nsp)
	}

	mu.Lock()
	if setups["/dyn-42"] != 1 || setups["/dyn-43"] != 1 || len(setups) != 2 {
		t.Errorf("setup calls %v, want one per created namespace", setups)
	}
	tr42 := dynTr["/dyn-42"]
	mu.Unlock()
	if got := tr42.socket(t, "dyn").ID(); got != ids["dyn"] {
		t.Errorf("dynamic socket id %q, client %q", got, ids["dyn"])
	}

	// Namespace broadcasts stay in their namespace, over the shared connection.
	must(t, cs.Srv.Of("/dyn-42").Emit("hello", "dyn-42"))
	must(t, cs.Srv.Of("/chat").Emit("hello", "chat"))
	must(t, cs.Srv.Of("/").Emit("hello", "root"))
	for c, wantArg := range map[string]string{"dyn": "dyn-42", "dyn-again": "dyn-42", "chat": "chat", "root": "root"} {
		argsEq(t, c+" hello", p.expectEvent(c, "hello"), wantArg)
	}
	// A final round trip on every socket proves no extra "hello" arrived.
	for c := range want {
		command(t, s, cmd{Op: "emit", Target: c, Event: "where", Ack: true, Tag: "sync-" + c})
		p.expectTag(c, "sync-"+c)
		var hellos []string
		for _, l := range p.linesOf(c, "event") {
			if l.Event == "hello" {
				hellos = append(hellos, string(l.Args[0]))
			}
		}
		if len(hellos) > 1 || (c == "dyn2" && len(hellos) != 0) {
			t.Errorf("%s got hello %v", c, hellos)
		}
	}

	// Leaving one namespace keeps the others on the shared connection.
	command(t, s, cmd{Op: "disconnect", Target: "chat"})
	if d := p.expect("chat", "disconnect"); d.Reason != "io client disconnect" {
		t.Errorf("chat client reason %q", d.Reason)
	}
	if r := chat.reason(t, "chat"); r != socketio.ReasonClientNamespaceDisconnect {
		t.Errorf("chat server reason %q, want %q", r, socketio.ReasonClientNamespaceDisconnect)
	}
	command(t, s, cmd{Op: "emit", Target: "dyn", Event: "where", Ack: true, Tag: "after"})
	argsEq(t, "dyn after chat left", p.expectTag("dyn", "after"), "/dyn-42")
	if !s.Connected() {
		t.Error("root socket disconnected with /chat")
	}
}

// authError is a middleware refusal carrying connect_error data.
type authError struct{ code string }

func (e authError) Error() string  { return "unauthorized" }
func (e authError) ErrorData() any { return map[string]any{"code": e.code, "retry": false} }

// TestCompat_Middleware: Use() refusals reach the client as connect_error
// with err.message and err.data; accepted sockets carry the middleware's work
// and the handshake.
func TestCompat_Middleware(t *testing.T) {
	bothTransports(t, testMiddleware)
}

func testMiddleware(t *testing.T, transports []string) {
	var (
		mu        sync.Mutex
		connected []string
		hs        *socketio.Handshake
		data      any
	)
	cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
		ns := srv.Of("/guarded")
		ns.Use(func(s *socketio.Socket) error {
			var a struct{ Token string }
			if err := json.Unmarshal(s.Handshake().Auth, &a); err != nil {
				return err
			}
			switch a.Token {
			case "good":
				s.SetData("user-1")
				return nil
			case "plain":
				return errors.New("plain refusal")
			case "wrapped":
				return fmt.Errorf("wrapped: %w", authError{"E_WRAPPED"})
			}
			return authError{"E_AUTH"}
		})
		ns.Use(func(s *socketio.Socket) error {
			// Runs after the first one, only for accepted sockets.
			if s.Data() != "user-1" {
				return errors.New("middleware order broken")
			}
			return nil
		})
		ns.OnConnection(func(s *socketio.Socket) {
			mu.Lock()
			defer mu.Unlock()
			connected = append(connected, authName(s))
			hs, data = s.Handshake(), s.Data()
		})
	})
	opts := func(token string) clientOpts {
		return clientOpts{
			Transports: transports,
			Auth:       map[string]any{"token": token},
			Query:      map[string]string{"room": "lobby"},
			// Node's client sends them on polling requests and on the
			// WebSocket handshake alike.
			ExtraHeaders: map[string]string{"X-Compat": "yes"},
		}
	}
	p := startPuppet(t, cs,
		clientSpec{Name: "bad", Nsp: "/guarded", Opts: opts("bad")},
		clientSpec{Name: "plain", Nsp: "/guarded", Opts: opts("plain")},
		clientSpec{Name: "wrapped", Nsp: "/guarded", Opts: opts("wrapped")},
		clientSpec{Name: "good", Nsp: "/guarded", Opts: opts("good")},
	)
	tests := []struct {
		client, message string
		data            any
	}{
		{"bad", "unauthorized", map[string]any{"code": "E_AUTH", "retry": false}},
		{"plain", "plain refusal", nil},
		{"wrapped", "wrapped: unauthorized", map[string]any{"code": "E_WRAPPED", "retry": false}},
	}
	for _, tc := range tests {
		l := p.expect(tc.client, "connect_error")
		if l.Message != tc.message {
			t.Errorf("%s: err.message %q, want %q", tc.client, l.Message, tc.message)
		}
		jsonEq(t, tc.client+": err.data", l.Data, tc.data)
	}
	if l := p.expect("good", "connect"); len(l.ID) != 20 {
		t.Errorf("good: id %q", l.ID)
	}
	waitFor(t, "OnConnection of good", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(connected) > 0
	})
	if n := cs.Srv.Of("/guarded").Len(); n != 1 {
		t.Errorf("Len() = %d, want 1 (refused sockets never join)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(connected) != 1 || connected[0] != "good" {
		t.Fatalf("OnConnection ran for %v, want [good]", connected)
	}
	if data != "user-1" {
		t.Errorf("Data() = %v, want the middleware's user-1", data)
	}
	var auth map[string]any
	must(t, json.Unmarshal(hs.Auth, &auth))
	if auth["token"] != "good" || auth["name"] != "good" {
		t.Errorf("Handshake.Auth = %s", hs.Auth)
	}
	if hs.Query.Get("room") != "lobby" || hs.Query.Get("EIO") != "4" {
		t.Errorf("Handshake.Query = %v", hs.Query)
	}
	if got := hs.Headers.Get("X-Compat"); got != "yes" {
		t.Errorf("Handshake.Headers X-Compat = %q, want yes", got)
	}
	if !strings.HasPrefix(hs.Address, "127.0.0.1:") || hs.Secure || hs.Time.IsZero() {
		t.Errorf("Handshake = %+v", hs)
	}
}

// TestCompat_NamespaceRejoin: after the server disconnects one namespace of
// a multiplexed Manager, socket.connect() joins it again over the same
// Engine.IO connection with a new id, and the other namespace never notices.
func TestCompat_NamespaceRejoin(t *testing.T) {
	bothTransports(t, func(t *testing.T, transports []string) {
		var root, chat *tracker
		cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
			root, chat = track(srv.Of("/")), track(srv.Of("/chat"))
			srv.Of("/chat").OnConnection(func(s *socketio.Socket) { s.On("where", whereHandler) })
		})
		opts := clientOpts{Transports: transports}
		p := startPuppet(t, cs,
			clientSpec{Name: "root", Manager: "m", Opts: opts},
			clientSpec{Name: "chat", Nsp: "/chat", Manager: "m", Opts: opts})
		p.expect("root", "connect")
		first := p.expect("chat", "connect").ID
		old := chat.socket(t, "chat")
		old.Disconnect(false)
		if d := p.expect("chat", "disconnect"); d.Reason != "io server disconnect" {
			t.Fatalf("chat: %s", d)
		}
		rs := root.socket(t, "root")
		command(t, rs, cmd{Op: "connect", Target: "chat"})
		second := p.await("chat rejoined", func(l line) bool { return l.C == "chat" && l.Ev == "connect" && l.ID != first })
		if len(second.ID) != 20 {
			t.Errorf("new id %q", second.ID)
		}
		var s *socketio.Socket
		waitFor(t, "new chat socket", func() bool { s = chat.socket(t, "chat"); return s != old })
		if s.ID() != second.ID {
			t.Errorf("server id %q, client %q", s.ID(), second.ID)
		}
		command(t, rs, cmd{Op: "emit", Target: "chat", Event: "where", Ack: true, Tag: "w"})
		argsEq(t, "where after rejoin", p.expectTag("chat", "w"), "/chat")
		if opens := p.linesOf("root", "open"); len(opens) != 1 {
			t.Errorf("%d engine opens, want 1 (same connection)", len(opens))
		}
		if !rs.Connected() || len(p.linesOf("root", "disconnect")) != 0 {
			t.Error("root namespace disturbed by the /chat rejoin")
		}
	})
}

// TestCompat_ConnectTimeout: an Engine.IO connection that joins no
// namespace within Config.ConnectTimeout is closed, as Node does; a
// connection that joined one stays.
func TestCompat_ConnectTimeout(t *testing.T) {
	bothTransports(t, func(t *testing.T, transports []string) {
		var tr *tracker
		cs := startCompat(t, socketio.Config{ConnectTimeout: 300 * time.Millisecond}, func(srv *socketio.Server) {
			tr = track(srv.Of("/"))
		})
		opts := clientOpts{Transports: transports}
		p := startPuppet(t, cs,
			clientSpec{Name: "bare", Bare: true, Opts: opts},
			clientSpec{Name: "joined", Opts: opts})
		p.expect("bare", "open")
		if l := p.expect("bare", "manager_close"); l.Reason != "transport close" {
			t.Errorf("bare Manager closed with %q, want \"transport close\"", l.Reason)
		}
		s := tr.socket(t, "joined")
		// Not a synchronisation: the negative check needs the timeout to
		// have passed for the joined connection too.
		time.Sleep(600 * time.Millisecond)
		command(t, s, cmd{Op: "state", Tag: "st"})
		if st := p.await("state", func(l line) bool { return l.Ev == "state" }); !st.Connected {
			t.Errorf("joined client: %s", st)
		}
		if n := len(p.linesOf("joined", "disconnect")); n != 0 {
			t.Errorf("joined client disconnected")
		}
	})
}

// TestCompat_DisconnectCloseMultiplexed: Disconnect(true) on one namespace
// of a multiplexed connection ends every namespace of it, each seen by the
// client as "io server disconnect" (Node sends a DISCONNECT per namespace
// before closing).
func TestCompat_DisconnectCloseMultiplexed(t *testing.T) {
	bothTransports(t, func(t *testing.T, transports []string) {
		var root, chat *tracker
		cs := startCompat(t, socketio.Config{}, func(srv *socketio.Server) {
			root, chat = track(srv.Of("/")), track(srv.Of("/chat"))
		})
		opts := clientOpts{Transports: transports}
		p := startPuppet(t, cs,
			clientSpec{Name: "root", Manager: "m", Opts: opts},
			clientSpec{Name: "chat", Nsp: "/chat", Manager: "m", Opts: opts})
		p.expect("root", "connect")
		p.expect("chat", "connect")
		root.socket(t, "root")
		chat.socket(t, "chat").Disconnect(true)
		for _, c := range []string{"root", "chat"} {
			if d := p.expect(c, "disconnect"); d.Reason != "io server disconnect" {
				t.Errorf("%s: client reason %q, want \"io server disconnect\"", c, d.Reason)
			}
		}
		for c, tr := range map[string]*tracker{"root": root, "chat": chat} {
			if r := tr.reason(t, c); r != socketio.ReasonServerNamespaceDisconnect {
				t.Errorf("%s: server reason %q, want %q", c, r, socketio.ReasonServerNamespaceDisconnect)
			}
		}
		p.waitExit()
	})
}
