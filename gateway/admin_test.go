package gateway

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/admin"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
	"golang.org/x/crypto/bcrypt"
)

// adminLine is one line of testdata/admin_client.js.
type adminLine struct {
	C       string            `json:"c"`
	Op      string            `json:"op"`
	ID      string            `json:"id"`
	Event   string            `json:"event"`
	Args    []json.RawMessage `json:"args"`
	Message string            `json:"message"`
	Reason  string            `json:"reason"`
}

// adminClient drives testdata/admin_client.js (real socket.io-client).
type adminClient struct {
	t    *testing.T
	node *testenv.NodeScript
	seen []adminLine
}

func startAdminClient(t *testing.T, url string) *adminClient {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "admin_client.js"))
	if err != nil {
		t.Fatal(err)
	}
	c := &adminClient{t: t, node: testenv.StartNode(t, script, url)}
	c.await("ready", func(l adminLine) bool { return l.Op == "ready" })
	return c
}

func (c *adminClient) send(v map[string]any) {
	c.t.Helper()
	if err := c.node.Send(v); err != nil {
		c.t.Fatal(err)
	}
}

// await returns the first line (seen before or arriving within 10 s)
// matching ok, and consumes it.
func (c *adminClient) await(what string, ok func(l adminLine) bool) adminLine {
	c.t.Helper()
	if i := slices.IndexFunc(c.seen, ok); i >= 0 {
		l := c.seen[i]
		c.seen = slices.Delete(c.seen, i, i+1)
		return l
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s, open := <-c.node.Lines:
			if !open {
				c.t.Fatalf("admin client exited waiting for %s", what)
			}
			var l adminLine
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				c.t.Fatalf("admin client line %q: %v", s, err)
			}
			if ok(l) {
				return l
			}
			c.seen = append(c.seen, l)
		case <-deadline:
			c.t.Fatalf("no %s within 10s; seen %d lines", what, len(c.seen))
		}
	}
}

// connect connects client name to ns and returns its socket id.
func (c *adminClient) connect(name, ns string, auth any) string {
	c.t.Helper()
	c.send(map[string]any{"op": "connect", "c": name, "ns": ns, "auth": auth})
	l := c.await(name+" connected", func(l adminLine) bool { return l.C == name && (l.Op == "connect" || l.Op == "connect_error") })
	if l.Op != "connect" {
		c.t.Fatalf("%s: connect_error %q", name, l.Message)
	}
	return l.ID
}

func (c *adminClient) event(name, ev string, match func(args []json.RawMessage) bool) []json.RawMessage {
	c.t.Helper()
	return c.await(name+" "+ev, func(l adminLine) bool {
		return l.C == name && l.Op == "event" && l.Event == ev && (match == nil || match(l.Args))
	}).Args
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// adminConfig enables the admin namespace with user "admin", password
// "secret" (bcrypt's minimum cost, to keep tests fast).
func adminConfig(t *testing.T) admin.Config {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return admin.Config{User: "admin", PasswordHash: string(h), StatsPeriod: 200 * time.Millisecond}
}

var adminCreds = map[string]string{"username": "admin", "password": "secret"}

// TestAdmin_Protocol: the admin namespace speaks @socket.io/admin-ui's
// protocol to the real socket.io-client: login (credentials, session id,
// "invalid credentials"), config, all_sockets, server_stats, socket and
// room events, and the actions, with protected rooms refused and every
// action logged.
func TestAdmin_Protocol(t *testing.T) {
	var logs lockedBuffer
	cfg := Config{Admin: adminConfig(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ts := newTestServer(t, unlimited(), cfg)
	c := startAdminClient(t, ts.URL)

	user := c.connect("u", "/", nil)
	c.send(map[string]any{"op": "connect", "c": "bad", "ns": "/admin", "auth": map[string]string{"username": "admin", "password": "nope"}})
	if l := c.await("bad refused", func(l adminLine) bool { return l.C == "bad" }); l.Op != "connect_error" || l.Message != "invalid credentials" {
		t.Fatalf("wrong password: %+v, want connect_error \"invalid credentials\"", l)
	}
	adminID := c.connect("a", "/admin", adminCreds)
	features := c.event("a", "config", nil)
	want(t, "config", compact(features[0]), `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS","ALL_EVENTS"]}`)
	var all []struct {
		ID, ClientID, Transport, Nsp string
		Rooms                        []string
		Handshake                    struct{ Address string }
	}
	if err := json.Unmarshal(c.event("a", "all_sockets", nil)[0], &all); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(s struct {
		ID, ClientID, Transport, Nsp string
		Rooms                        []string
		Handshake                    struct{ Address string }
	}) bool {
		return s.ID == user
	})
	if i < 0 || all[i].Nsp != "/" || len(all[i].ClientID) != 12 || all[i].Transport == "" || !slices.Contains(all[i].Rooms, user) || all[i].Handshake.Address != "127.0.0.1" {
		t.Fatalf("all_sockets lacks the user's socket %s: %+v", user, all)
	}
	session := str(c.event("a", "session", nil)[0])
	stats := c.event("a", "server_stats", func(a []json.RawMessage) bool { return strings.Contains(string(a[0]), `"name":"/chat"`) })
	for _, k := range []string{`"serverId":`, `"clientsCount":`, `"pollingClientsCount":`, `"aggregatedEvents":`, `"uptime":`} {
		if !strings.Contains(string(stats[0]), k) {
			t.Errorf("server_stats lacks %s: %s", k, stats[0])
		}
	}

	// A page reload logs in with the session id alone.
	c.connect("reload", "/admin", map[string]string{"sessionId": session})
	c.event("a", "socket_connected", func(a []json.RawMessage) bool { return strings.Contains(string(a[0]), `"nsp":"/admin"`) })

	// A transport upgrade is told (noticed at the next stats tick), unless
	// the socket connected after its upgrade already.
	c.send(map[string]any{"op": "connect", "c": "late", "ns": "/chat"})
	late := c.await("late connected", func(l adminLine) bool { return l.C == "late" && l.Op == "connect" }).ID
	c.await("late on websocket", func(l adminLine) bool {
		if l.C != "a" || l.Op != "event" || len(l.Args) == 0 {
			return false
		}
		arg := compact(l.Args[0])
		return l.Event == "socket_updated" && arg == `{"id":"`+late+`","nsp":"/chat","transport":"websocket"}` ||
			l.Event == "socket_connected" && strings.Contains(arg, `"id":"`+late+`"`) && strings.Contains(arg, `"transport":"websocket"`)
	})

	// Events of other namespaces are observed (development mode).
	c.send(map[string]any{"op": "emit", "c": "u", "event": "whatever", "args": []any{"x"}})
	c.event("a", "event_received", func(a []json.RawMessage) bool { return str(a[1]) == user && compact(a[2]) == `["whatever","x"]` })

	// Protected rooms are refused, others allowed; every action is logged.
	for _, room := range []string{"chat:1", "user:alice", user} {
		c.send(map[string]any{"op": "emit", "c": "a", "event": "join", "args": []any{"/", room, user}})
		r := c.event("a", "admin_error", nil)
		if !strings.Contains(compact(r[0]), "protected") {
			t.Errorf("join %s: %s, want a refusal naming the protected room", room, r[0])
		}
	}
	c.send(map[string]any{"op": "emit", "c": "a", "event": "join", "args": []any{"/", "ops", user}})
	c.event("a", "room_joined", func(a []json.RawMessage) bool { return str(a[0]) == "/" && str(a[1]) == "ops" && str(a[2]) == user })
	c.send(map[string]any{"op": "emit", "c": "a", "event": "emit", "args": []any{"/", "ops", "notice", "hi"}})
	c.event("u", "notice", func(a []json.RawMessage) bool { return str(a[0]) == "hi" })
	c.event("a", "event_sent", func(a []json.RawMessage) bool { return str(a[1]) == user && compact(a[2]) == `["notice","hi"]` })

	// The UI's Sockets view: disconnect one socket.
	c.send(map[string]any{"op": "emit", "c": "a", "event": "_disconnect", "args": []any{"/", false, user}})
	if l := c.await("u disconnected", func(l adminLine) bool { return l.C == "u" && l.Op == "disconnect" }); l.Reason != "io server disconnect" {
		t.Errorf("user socket: %q, want io server disconnect", l.Reason)
	}
	c.event("a", "socket_disconnected", func(a []json.RawMessage) bool {
		return str(a[0]) == "/" && str(a[1]) == user && str(a[2]) == "server namespace disconnect"
	})
	testenv.WaitFor(t, 2*time.Second, func() error {
		for _, s := range []string{`action=join`, `room=chat:1`, `reason="room \"chat:1\" is protected`, `action=emit`, `action=_disconnect`, `admin_socket=` + adminID} {
			if !strings.Contains(logs.String(), s) {
				return &missingLog{s}
			}
		}
		return nil
	})
}

type missingLog struct{ s string }

func (m *missingLog) Error() string { return "log lacks " + m.s }

// TestAdmin_Cluster: two instances on the Redis adapter. An admin on A
// lists a socket of B (FetchSockets across the cluster), gets both
// instances' server_stats and B's socket events (broadcast through the
// adapter), disconnects B's socket from A, and its session id logs in on B.
func TestAdmin_Cluster(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	cfg := Config{Redis: space.Client, RedisPrefix: space.Prefix, AdapterKey: space.Prefix, Admin: adminConfig(t)}
	cfgA, cfgB := cfg, cfg
	cfgA.Admin.ServerID, cfgB.Admin.ServerID = "server-a", "server-b"
	a, b := newTestServer(t, unlimited(), cfgA), newTestServer(t, unlimited(), cfgB)
	c := startAdminClient(t, a.URL)

	c.send(map[string]any{"op": "connect", "c": "ub", "ns": "/", "base": b.URL})
	onB := c.await("ub connected", func(l adminLine) bool { return l.C == "ub" && l.Op == "connect" }).ID
	c.connect("admin", "/admin", adminCreds)
	all := c.event("admin", "all_sockets", nil)
	if !strings.Contains(string(all[0]), `"id":"`+onB+`"`) {
		t.Errorf("all_sockets on A lacks B's socket %s: %s", onB, all[0])
	}
	session := str(c.event("admin", "session", nil)[0])
	for _, id := range []string{"server-a", "server-b"} {
		c.event("admin", "server_stats", func(a []json.RawMessage) bool { return strings.Contains(string(a[0]), `"serverId":"`+id+`"`) })
	}

	c.send(map[string]any{"op": "connect", "c": "ub2", "ns": "/", "base": b.URL})
	onB2 := c.await("ub2 connected", func(l adminLine) bool { return l.C == "ub2" && l.Op == "connect" }).ID
	c.event("admin", "socket_connected", func(a []json.RawMessage) bool { return strings.Contains(string(a[0]), `"id":"`+onB2+`"`) })

	c.send(map[string]any{"op": "emit", "c": "admin", "event": "_disconnect", "args": []any{"/", false, onB}})
	if l := c.await("ub disconnected", func(l adminLine) bool { return l.C == "ub" && l.Op == "disconnect" }); l.Reason != "io server disconnect" {
		t.Errorf("B's socket: %q, want io server disconnect", l.Reason)
	}
	c.event("admin", "socket_disconnected", func(a []json.RawMessage) bool { return str(a[1]) == onB })

	c.send(map[string]any{"op": "connect", "c": "adminB", "ns": "/admin", "base": b.URL, "auth": map[string]string{"sessionId": session}})
	if l := c.await("adminB", func(l adminLine) bool { return l.C == "adminB" && l.Op != "event" }); l.Op != "connect" {
		t.Errorf("A's session id on B: %+v, want connect", l)
	}
}

// TestAdmin_ProductionMode: -admin-mode production sends the config
// (without ALL_EVENTS, so the UI hides its socket pages) and server_stats,
// and no socket, room or event.
func TestAdmin_ProductionMode(t *testing.T) {
	cfg := Config{Admin: adminConfig(t)}
	cfg.Admin.Mode = admin.Production
	ts := newTestServer(t, unlimited(), cfg)
	c := startAdminClient(t, ts.URL)
	c.connect("admin", "/admin", adminCreds)
	want(t, "config", compact(c.event("admin", "config", nil)[0]), `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS"]}`)
	c.connect("u", "/", nil)
	c.send(map[string]any{"op": "emit", "c": "u", "event": "anything"})
	// Stats from a tick after the connection and the event: the packets
	// were counted, and nothing else was sent in between.
	c.event("admin", "server_stats", func(a []json.RawMessage) bool { return strings.Contains(string(a[0]), `"type":"packetsIn"`) })
	for _, l := range c.seen {
		if l.C == "admin" && l.Op == "event" && l.Event != "server_stats" && l.Event != "session" {
			t.Errorf("production mode sent %s %s", l.Event, l.Args)
		}
	}
}

// TestAdmin_LoginRateLimit: logins count under /admin:login per client
// address; past the limit even the right password is refused.
func TestAdmin_LoginRateLimit(t *testing.T) {
	rules := DefaultRateRules()
	rules["/admin:login"] = ratelimit.Rule{Limit: 2, Period: time.Hour}
	ts := newTestServer(t, rules, Config{Admin: adminConfig(t)})
	c := startAdminClient(t, ts.URL)
	for i, pw := range []string{"wrong", "wrong", "secret"} {
		name := fmt.Sprint("try", i)
		c.send(map[string]any{"op": "connect", "c": name, "ns": "/admin", "auth": map[string]string{"username": "admin", "password": pw}})
		l := c.await(name, func(l adminLine) bool { return l.C == name && (l.Op == "connect" || l.Op == "connect_error") })
		wantMsg := "invalid credentials"
		if i == 2 {
			wantMsg = "too many login attempts, retry later"
		}
		if l.Op != "connect_error" || l.Message != wantMsg {
			t.Errorf("login %d: %+v, want connect_error %q", i, l, wantMsg)
		}
	}
}
