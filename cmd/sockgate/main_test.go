package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/internal/testenv"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runMain starts Main on 127.0.0.1:0 with args and closes it at the end.
func runMain(t *testing.T, args ...string) (*Main, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	m := &Main{Config: DefaultConfig(), Stderr: logs, Getenv: env()}
	if err := m.ParseFlags(append([]string{"-addr", "127.0.0.1:0", "-log-format", "json", "-log-level", "debug"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, logs
}

type line struct {
	Op         string            `json:"op"`
	IDs        []string          `json:"ids"`
	Acks       []bool            `json:"acks"`
	Ack        bool              `json:"ack"`
	Received   json.RawMessage   `json:"received"`
	Status     int               `json:"status"`
	Body       json.RawMessage   `json:"body"`
	Transports []string          `json:"transports"`
	Reasons    map[string]string `json:"reasons"`
	Message    string            `json:"message"`
}

func next(t *testing.T, ns *testenv.NodeScript, op string) line {
	t.Helper()
	select {
	case s, ok := <-ns.Lines:
		if !ok {
			t.Fatalf("script ended before %q", op)
		}
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("line %q: %v", s, err)
		}
		if l.Op != op {
			t.Fatalf("got %s, want op %q", s, op)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %q", op)
	}
	return line{}
}

// TestMain_EndToEnd runs the server as the binary does and drives it with
// the real socket.io-client over WebSocket and polling→WebSocket, then
// shuts it down gracefully with clients connected.
func TestMain_EndToEnd(t *testing.T) {
	m, logs := runMain(t, "-shutdown-timeout", "5s")
	url := "http://" + m.Addr()
	script, _ := filepath.Abs(filepath.Join("testdata", "smoke.js"))
	ns := testenv.StartNode(t, script, url)

	ids := next(t, ns, "ids")
	for _, id := range ids.IDs {
		if len(id) != 20 {
			t.Errorf("socket id %q has %d characters, want 20", id, len(id))
		}
	}
	if j := next(t, ns, "join"); len(j.Acks) != 2 || !j.Acks[0] || !j.Acks[1] {
		t.Errorf("join acks %v", j.Acks)
	}
	c := next(t, ns, "chat")
	if !c.Ack || !strings.Contains(string(c.Received), `"message":"hi"`) {
		t.Errorf("chat: ack %v received %s", c.Ack, c.Received)
	}
	r := next(t, ns, "room")
	if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"smoke"`) {
		t.Errorf("room: %d %s", r.Status, r.Body)
	}
	if rd := next(t, ns, "ready"); strings.Join(rd.Transports, ",") != "websocket,websocket" {
		t.Errorf("transports %v", rd.Transports)
	}

	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`sockgate_sockets{namespace="/"} 2`, "sockgate_connections 4", `sockgate_events_in_total{event="chat",namespace="/"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	start := time.Now()
	if err := m.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	d := next(t, ns, "disconnected")
	for k, reason := range d.Reasons {
		// The transport closes under the client: it would reconnect (elsewhere).
		if reason != "transport close" && reason != "io server disconnect" {
			t.Errorf("%s disconnected with %q", k, reason)
		}
	}
	if len(d.Reasons) != 4 {
		t.Errorf("reasons %v", d.Reasons)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still accepting after Close")
	}
	if !strings.Contains(logs.String(), `"msg":"sockgate stopped"`) {
		t.Errorf("logs lack the stop line:\n%s", logs)
	}
}

func TestMain_RedisRateLimits(t *testing.T) {
	prefix := testenv.NewRedisSpace(t).Prefix
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		redisURL = testenv.DefaultRedisURL
	}
	m, _ := runMain(t, "-redis", redisURL, "-redis-prefix", prefix, "-redis-adapter-key", prefix, "-rate-limits", "http:GET /api/rooms=1/1m")
	url := "http://" + m.Addr()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"redis":"ok"`) {
		t.Errorf("readyz: %d %s", res.StatusCode, b)
	}
	// A second instance on the same Redis shares the count.
	m2, _ := runMain(t, "-redis", redisURL, "-redis-prefix", prefix, "-redis-adapter-key", prefix, "-rate-limits", "http:GET /api/rooms=1/1m")
	codes := []int{}
	for _, u := range []string{url, "http://" + m2.Addr()} {
		res, err := http.Get(u + "/api/rooms")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 429 {
		t.Errorf("status codes across instances %v, want [200 429]", codes)
	}
}

// tokenSecret is long enough for HS256 (auth.MinSecretLen).
const tokenSecret = "token-test-secret-0123456789abcdef"

func TestToken(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runToken([]string{"-sub", "user-1", "-name", "Ada", "-username", "ada", "-ttl", "1h"}, env("JWT_SECRET", tokenSecret), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	v, err := auth.NewVerifier(auth.Config{Secret: []byte(tokenSecret)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if id.ID != "user-1" || id.Name != "Ada" || id.Username != "ada" || time.Until(id.ExpiresAt) > time.Hour || time.Until(id.ExpiresAt) < 59*time.Minute {
		t.Errorf("identity %+v", id)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"NoSecret", []string{"-sub", "x"}, env(), "-jwt-secret (or JWT_SECRET) is required"},
		{"ShortSecret", []string{"-sub", "x"}, env("JWT_SECRET", "s"), "-jwt-secret (JWT_SECRET) is 1 bytes; HS256 needs at least 32"},
		{"NoSub", []string{"-jwt-secret", tokenSecret}, env(), "-sub is required"},
		{"BadTTL", []string{"-jwt-secret", tokenSecret, "-sub", "x", "-ttl", "-1h"}, env(), "-ttl must be positive"},
		{"TTLNotADuration", []string{"-jwt-secret", tokenSecret, "-sub", "x", "-ttl", "1day"}, env(),
			`invalid value "1day" for flag -ttl: not a duration: want a number with a unit, e.g. 30s, 5m, 1h30m`},
		{"RegisteredUserClaim", []string{"-jwt-secret", tokenSecret, "-sub", "x"}, env("SOCKGATE_JWT_USER_CLAIM", "exp"),
			`-jwt-user-claim "exp" is a registered claim`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runToken(tt.args, tt.env, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q, want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}

// TestToken_Claims: with the server's claim settings (the same
// variables), the token carries the id and the name where the server reads
// them, e.g. {userId, fullName} for a NestJS-shaped deployment.
func TestToken_Claims(t *testing.T) {
	var out, errOut bytes.Buffer
	getenv := env("JWT_SECRET", tokenSecret, "SOCKGATE_JWT_USER_CLAIM", "userId", "SOCKGATE_JWT_NAME_CLAIM", "fullName,name")
	if code := runToken([]string{"-sub", "7", "-name", "Ada"}, getenv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(out.String()), &c); err != nil {
		t.Fatal(err)
	}
	if c["userId"] != "7" || c["fullName"] != "Ada" || c["sub"] != nil || c["name"] != nil {
		t.Errorf("claims %v, want userId 7 and fullName Ada only", c)
	}
}

// TestMain_StoredChats runs the server with a JWT secret and a data
// directory: the SQLite store opens there, /readyz checks it, the REST API
// creates a chat, and the real socket.io-client is refused without a token
// on "/chat" (-auth-chat required), joins with one and exchanges a message.
func TestMain_StoredChats(t *testing.T) {
	dir := t.TempDir()
	m, _ := runMain(t, "-jwt-secret", "e2e-secret-0123456789abcdef01234", "-data-dir", dir, "-auth-chat", "required")
	url := "http://" + m.Addr()
	mint := func(id string) string {
		tok, err := auth.Mint([]byte("e2e-secret-0123456789abcdef01234"), auth.Identity{ID: id, Name: strings.ToUpper(id)}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, bob := mint("alice"), mint("bob")
	if _, err := os.Stat(filepath.Join(dir, "sockgate.db")); err != nil {
		t.Errorf("store not in -data-dir: %v", err)
	}
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"store":"ok"`) {
		t.Errorf("readyz: %d %s", res.StatusCode, body)
	}

	req, _ := http.NewRequest("POST", url+"/chats", strings.NewReader(`{"kind":"general","title":"e2e","memberIds":["bob"]}`))
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var chat struct{ ID string }
	err = json.NewDecoder(res.Body).Decode(&chat)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || err != nil || chat.ID == "" {
		t.Fatalf("POST /chats: %d %v %+v", res.StatusCode, err, chat)
	}

	script, _ := filepath.Abs(filepath.Join("testdata", "chats.js"))
	ns := testenv.StartNode(t, script, url, alice, bob, chat.ID)
	r := next(t, ns, "refused")
	if r.Message != "Authentication required unauthorized" {
		t.Errorf("refused: %+v", r)
	}
	if j := next(t, ns, "joined"); len(j.Acks) != 2 || !j.Acks[0] || !j.Acks[1] {
		t.Errorf("joined: %+v", j)
	}
	var sent struct {
		Ack struct {
			Success bool `json:"success"`
			Message struct {
				ID      string `json:"id"`
				Content string `json:"content"`
			} `json:"message"`
		} `json:"ack"`
		Received struct {
			ID     string `json:"id"`
			Sender struct {
				ID       string `json:"id"`
				FullName string `json:"fullName"`
			} `json:"sender"`
		} `json:"received"`
	}
	select {
	case s := <-ns.Lines:
		if err := json.Unmarshal([]byte(s), &sent); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no sent line")
	}
	if !sent.Ack.Success || sent.Ack.Message.Content != "hello bob" || sent.Received.ID != sent.Ack.Message.ID ||
		sent.Received.Sender.ID != "alice" || sent.Received.Sender.FullName != "ALICE" {
		t.Errorf("sent: %+v", sent)
	}
	next(t, ns, "done")
}
