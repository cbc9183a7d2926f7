package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// socketsRoot is the series of /metrics counting an instance's sockets on "/".
const socketsRoot = `sockgate_sockets{namespace="/"}`

// TestCluster runs the compose topology (nginx, two sockgate instances,
// Redis, PostgreSQL) and drives it through nginx only.
func TestCluster(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterConfig{})
	srcA, srcB := c.SourceFor(t, 0), c.SourceFor(t, 1)
	t.Logf("nginx %s → sockgate-1 %s (clients from %s), sockgate-2 %s (clients from %s)",
		c.LB.Addr, c.Instances[0].Addr, srcA, c.Instances[1].Addr, srcB)

	t.Run("Clients", func(t *testing.T) { testClients(t, c, srcA, srcB) })
	t.Run("BrowserOrigin", func(t *testing.T) { testBrowserOrigin(t, c, srcA) })
	t.Run("MetricsNotExposed", func(t *testing.T) {
		for _, path := range []string{"/metrics", "/metrics?x=1", "//metrics", "/%6detrics"} {
			if code, _ := get(t, c.LB.URL+path); code != http.StatusNotFound {
				t.Errorf("GET %s through nginx: %d, want 404", path, code)
			}
		}
		if code, _ := get(t, c.Instances[0].URL+"/metrics"); code != http.StatusOK {
			t.Errorf("GET /metrics on the instance itself: %d, want 200", code)
		}
	})
}

// testClients: a polling-first client on instance A and a WebSocket-only
// client on instance B connect through nginx, join a tutorial room each,
// chat (the sender receives its own message) and read GET /api/rooms.
func testClients(t *testing.T, c *testenv.Cluster, srcA, srcB string) {
	user := func(c, id, name string) map[string]any {
		return map[string]any{"userId": id, "userName": name, "socketId": "$id:" + c}
	}
	join := func(c, room string, u map[string]any) step {
		return step{Op: "emit", C: c, Event: "join_room", Args: []any{map[string]any{
			"roomName": room, "user": u, "eventName": "join_room"}}}
	}
	chat := func(c, room, msg string, u map[string]any) step {
		return step{Op: "emit", C: c, Event: "chat", Args: []any{map[string]any{
			"user": u, "timeSent": 1700000000000, "message": msg, "roomName": room, "eventName": "chat"}}}
	}
	alice, bob := user("poll", "alice", "Alice"), user("ws", "bob", "Bob")
	cl := startClients(t, c.LB.URL, plan{
		Clients: map[string]clientOpts{
			"poll": {LocalAddress: srcA, Origin: c.LB.URL},
			"ws":   {LocalAddress: srcB, Origin: c.LB.URL, Transports: []string{"websocket"}},
		},
		Steps: []step{
			{Op: "connect", C: "poll"},
			{Op: "connect", C: "ws"},
			{Op: "upgrade", C: "poll"},
			join("poll", "room-a", alice),
			join("ws", "room-b", bob),
			chat("poll", "room-a", "hello from A", alice),
			{Op: "expect", C: "poll", Event: "chat"},
			chat("ws", "room-b", "hello from B", bob),
			{Op: "expect", C: "ws", Event: "chat"},
			{Op: "get", C: "poll", Path: "/api/rooms"},
			{Op: "get", C: "ws", Path: "/api/rooms"},
		},
	})
	const d = 15 * time.Second

	connected := map[string]reply{}
	for _, name := range []string{"poll", "ws"} {
		r := cl.next(d)
		if r.Op != "connect" || r.C != name || len(r.ID) != 20 || r.SID == "" {
			t.Fatalf("%s: want connect with a socket id, got %s", name, r.Raw)
		}
		connected[name] = r
	}
	if tr := connected["poll"].Transport; tr != "polling" {
		t.Errorf("polling-first client opened its session over %s", tr)
	}
	if tr := connected["ws"].Transport; tr != "websocket" {
		t.Errorf("WebSocket-only client opened its session over %s", tr)
	}
	if r := cl.next(d); r.Op != "upgrade" || r.Transport != "websocket" {
		t.Fatalf("polling client: want upgrade to websocket through nginx, got %s", r.Raw)
	}
	for _, name := range []string{"poll", "ws"} {
		if r := cl.next(d); r.Op != "ack" || len(r.Args) != 1 || string(r.Args[0]) != "true" {
			t.Fatalf("%s join_room: want ack true, got %s", name, r.Raw)
		}
	}
	for _, want := range []struct{ c, room, msg, user string }{
		{"poll", "room-a", "hello from A", "alice"},
		{"ws", "room-b", "hello from B", "bob"},
	} {
		if r := cl.next(d); r.Op != "ack" || len(r.Args) != 1 || string(r.Args[0]) != "true" {
			t.Fatalf("%s chat: want ack true, got %s", want.c, r.Raw)
		}
		r := cl.next(d)
		if r.Op != "event" || len(r.Args) != 1 {
			t.Fatalf("%s: want its own chat back, got %s", want.c, r.Raw)
		}
		var got struct {
			Message, RoomName string
			User              struct{ UserID, SocketID string }
		}
		if err := json.Unmarshal(r.Args[0], &got); err != nil {
			t.Fatal(err)
		}
		if got.Message != want.msg || got.RoomName != want.room || got.User.UserID != want.user ||
			got.User.SocketID != connected[want.c].ID {
			t.Errorf("%s received chat %s", want.c, r.Args[0])
		}
	}
	for _, want := range []struct{ c, room, host string }{{"poll", "room-a", "alice"}, {"ws", "room-b", "bob"}} {
		r := cl.next(d)
		if r.Op != "http" || r.Status != http.StatusOK {
			t.Fatalf("%s GET /api/rooms through nginx: %s", want.c, r.Raw)
		}
		var rooms []struct {
			Name string
			Host struct{ UserID string }
		}
		if err := json.Unmarshal(r.Body, &rooms); err != nil {
			t.Fatalf("%s GET /api/rooms: %v: %s", want.c, err, r.Body)
		}
		found := false
		for _, room := range rooms {
			found = found || (room.Name == want.room && room.Host.UserID == want.host)
		}
		if !found {
			t.Errorf("%s GET /api/rooms through nginx lacks %s hosted by %s: %s", want.c, want.room, want.host, r.Body)
		}
	}
	if r := cl.next(d); r.Op != "done" {
		t.Fatalf("want done, got %s", r.Raw)
	}

	// Each instance holds exactly the socket nginx sent it.
	for _, s := range c.Instances {
		if n := metric(t, s, socketsRoot); n != 1 {
			t.Errorf("%s has %v sockets on /, want 1 (one client per instance)", s.Name, n)
		}
	}

	cl.close()
	for _, s := range c.Instances {
		testenv.WaitFor(t, 10*time.Second, func() error {
			if n := metric(t, s, socketsRoot); n != 0 {
				return fmt.Errorf("%s still has %v sockets on / after the clients left", s.Name, n)
			}
			return nil
		})
	}

	// nginx logs a WebSocket when it closes: now every request is there.
	var reqs []testenv.NginxRequest
	testenv.WaitFor(t, 10*time.Second, func() error {
		var err error
		if reqs, err = c.LB.Requests(); err != nil {
			return err
		}
		for _, src := range []string{srcA, srcB} {
			if !hasRequest(from(reqs, src), "GET", "transport=websocket", "", 101) {
				return fmt.Errorf("no WebSocket from %s in nginx's access log yet", src)
			}
		}
		return nil
	})
	checkSticky(t, c, reqs, srcA, 0, connected["poll"].SID, true)
	checkSticky(t, c, reqs, srcB, 1, connected["ws"].SID, false)
}

// checkSticky checks in nginx's access log that every request from src
// went to instance want, and what the client's Engine.IO session (sid) did:
// a polling handshake, POSTs and the upgrade (polling), or a WebSocket from
// the first request (WebSocket-only).
func checkSticky(t *testing.T, c *testenv.Cluster, reqs []testenv.NginxRequest, src string, want int, sid string, polling bool) {
	t.Helper()
	mine := from(reqs, src)
	for _, r := range mine {
		if got := c.Instance(r.Upstream); got != want {
			t.Errorf("%s %s from %s went to %q (instance %d), want instance %d", r.Method, r.URI, src, r.Upstream, got, want)
		}
	}
	if polling {
		if !hasRequest(mine, "GET", "transport=polling", "", 200) {
			t.Errorf("no polling handshake from %s in nginx's access log: %+v", src, mine)
		}
		if !hasRequest(mine, "POST", "transport=polling", "sid="+sid, 200) {
			t.Errorf("no polling POST of session %s in nginx's access log: %+v", sid, mine)
		}
		if !hasRequest(mine, "GET", "transport=websocket", "sid="+sid, 101) {
			t.Errorf("no WebSocket upgrade of session %s in nginx's access log: %+v", sid, mine)
		}
	} else {
		if hasRequest(mine, "", "transport=polling", "", 0) {
			t.Errorf("WebSocket-only client from %s made polling requests: %+v", src, mine)
		}
		if !hasRequest(mine, "GET", "transport=websocket", "", 101) {
			t.Errorf("no WebSocket from %s in nginx's access log: %+v", src, mine)
		}
	}
	if !hasRequest(mine, "GET", "/api/rooms", "", 200) {
		t.Errorf("no GET /api/rooms from %s in nginx's access log: %+v", src, mine)
	}
	t.Logf("%d requests from %s, all served by instance %d", len(mine), src, want)
}

// from returns the requests of the clients (Socket.IO and /api/) from src
// (SourceFor's probes left out).
func from(reqs []testenv.NginxRequest, src string) []testenv.NginxRequest {
	var out []testenv.NginxRequest
	for _, r := range reqs {
		if r.Remote == src && (strings.HasPrefix(r.URI, "/socket.io/") || strings.HasPrefix(r.URI, "/api/")) {
			out = append(out, r)
		}
	}
	return out
}

// hasRequest reports whether reqs has a request with method (any if
// empty), a URI containing both parts, and status (any if 0).
func hasRequest(reqs []testenv.NginxRequest, method, part1, part2 string, status int) bool {
	for _, r := range reqs {
		if (method == "" || r.Method == method) && strings.Contains(r.URI, part1) &&
			strings.Contains(r.URI, part2) && (status == 0 || r.Status == status) {
			return true
		}
	}
	return false
}

// testBrowserOrigin: what a browser on the published URL sends (Origin:
// that URL) passes sockgate's same-origin check behind nginx on the polling
// handshake, on POSTs and on the WebSocket upgrade (the Node client sent
// Origin on its upgrades above); another origin is refused, so the check
// is not simply off. The instances run without -cors-origins: it is the
// Host header nginx forwards that makes it work.
func testBrowserOrigin(t *testing.T, c *testenv.Cluster, src string) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}).DialContext,
	}}
	defer client.CloseIdleConnections()
	do := func(method, query, origin, body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, c.LB.URL+"/socket.io/?EIO=4&transport=polling"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		if body != "" {
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s through nginx: %v", method, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return res.StatusCode, string(b)
	}

	code, body := do("GET", "", c.LB.URL, "")
	if code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("polling handshake with Origin %s through nginx: %d %s", c.LB.URL, code, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake %q: %v", body, err)
	}
	sid := "&sid=" + url.QueryEscape(open.SID)
	if code, body := do("POST", sid, c.LB.URL, "40"); code != http.StatusOK || body != "ok" {
		t.Errorf("polling POST with Origin %s through nginx: %d %s, want 200 ok", c.LB.URL, code, body)
	}
	if code, body := do("GET", sid, c.LB.URL, ""); code != http.StatusOK || !strings.HasPrefix(body, "40{") {
		t.Errorf("polling GET after connecting /: %d %s, want the CONNECT packet", code, body)
	}
	if code, _ := do("POST", sid, "http://evil.example", "41"); code != http.StatusForbidden {
		t.Errorf("polling POST with a foreign Origin through nginx: %d, want 403", code)
	}
	if code, body := do("POST", sid, c.LB.URL, "1"); code != http.StatusOK {
		t.Errorf("polling close: %d %s", code, body)
	}
}

func metric(t *testing.T, s *testenv.Sockgate, series string) float64 {
	t.Helper()
	v, err := s.Metric(context.Background(), series)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b)
}
