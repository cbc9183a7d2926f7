package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
)

// testServer is a gateway served by httptest.
type testServer struct {
	*Server
	URL string
}

// newTestServer starts a gateway with rules (nil: DefaultRateRules) on
// 127.0.0.1:0 and stops it when the test ends.
func newTestServer(t *testing.T, rules map[string]ratelimit.Rule, cfg Config) *testServer {
	t.Helper()
	return newTestServerWith(t, rules, cfg, nil)
}

// newTestServerWith is newTestServer with extra registrations (see build).
func newTestServerWith(t *testing.T, rules map[string]ratelimit.Rule, cfg Config, extra func(s *Server)) *testServer {
	t.Helper()
	if rules == nil {
		rules = DefaultRateRules()
	}
	lim, err := ratelimit.New(ratelimit.Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	s, err := build(nil, nil, lim, cfg, extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() }) // after serve's cleanup
	return &testServer{Server: s, URL: serve(t, s)}
}

// serve serves s on 127.0.0.1:0 and returns its URL; s is shut down and
// the listener closed when the test ends.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return hs.URL
}

// unlimited are rules generous enough never to interfere.
func unlimited() map[string]ratelimit.Rule { return map[string]ratelimit.Rule{} }

// step is one instruction of testdata/driver.js.
type step struct {
	Op          string            `json:"op"`
	C           string            `json:"c,omitempty"`
	NS          string            `json:"ns,omitempty"`
	Event       string            `json:"event,omitempty"`
	Args        []json.RawMessage `json:"args,omitempty"`
	Ack         bool              `json:"ack,omitempty"`
	OrException bool              `json:"orException,omitempty"`
	Timeout     int               `json:"timeout,omitempty"`
	Transports  []string          `json:"transports,omitempty"`
	Ms          int               `json:"ms,omitempty"`
	Method      string            `json:"method,omitempty"`
	Path        string            `json:"path,omitempty"`
	Absent      string            `json:"absent,omitempty"`
	Auth        json.RawMessage   `json:"auth,omitempty"`
	Users       *int              `json:"users,omitempty"`
	Base        string            `json:"base,omitempty"` // another server than run's url
}

// result is one line the driver printed.
type result struct {
	C       string            `json:"c"`
	Op      string            `json:"op"`
	ID      string            `json:"id"`
	Event   string            `json:"event"`
	Args    []json.RawMessage `json:"args"`
	Message string            `json:"message"`
	Data    json.RawMessage   `json:"data"`
	Status  int               `json:"status"`
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers"`
	Events  []struct {
		Event string            `json:"event"`
		Args  []json.RawMessage `json:"args"`
	} `json:"events"`
}

func (r result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// arg returns argument i as compact JSON.
func (r result) arg(i int) string {
	if i >= len(r.Args) {
		return "<none>"
	}
	return compact(r.Args[i])
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// raw encodes v as one emit argument.
func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Step builders.
func connect(c, ns string) step { return step{Op: "connect", C: c, NS: ns} }
func emitAck(c, event string, v any) step {
	return step{Op: "emit", C: c, Event: event, Args: []json.RawMessage{raw(v)}, Ack: true, OrException: true}
}
func emitRaw(c, event string, args ...json.RawMessage) step {
	return step{Op: "emit", C: c, Event: event, Args: args, Ack: true, OrException: true}
}
func expect(c, event string) step { return step{Op: "expect", C: c, Event: event} }
func drain(c string) step         { return step{Op: "drain", C: c} }
func disconnect(c string) step    { return step{Op: "disconnect", C: c} }
func httpGet(path string) step    { return step{Op: "http", Path: path} }

// httpGetWithout polls path until its body does not contain absent ("$id:x"
// allowed), e.g. until a disconnected socket is gone from a room.
func httpGetWithout(path, absent string) step { return step{Op: "http", Path: path, Absent: absent} }

// httpRoomWithUsers polls GET path (a tutorial room) until it has n users.
func httpRoomWithUsers(path string, n int) step { return step{Op: "http", Path: path, Users: &n} }

// run executes steps with the real socket.io-client and returns the
// driver's lines (without the final "done").
func run(t *testing.T, url string, steps ...step) []result {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "driver.js"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	ns := testenv.StartNode(t, script, url, string(b))
	var out []result
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-ns.Lines:
			if !ok {
				t.Fatalf("driver exited before done; got %v", out)
			}
			var r result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("driver line %q: %v", line, err)
			}
			switch r.Op {
			case "done":
				return out
			case "error":
				t.Fatalf("driver error: %s", r.Message)
			}
			out = append(out, r)
		case <-deadline:
			t.Fatalf("driver timed out; got %v", out)
		}
	}
}

// find returns the i-th (0-based) result with op and client c.
func find(t *testing.T, rs []result, c, op string, i int) result {
	t.Helper()
	for _, r := range rs {
		if r.C == c && r.Op == op {
			if i == 0 {
				return r
			}
			i--
		}
	}
	t.Fatalf("no result %d for %s %s in %v", i, c, op, rs)
	return result{}
}

// httpGetJSON fetches url and returns status, headers and body.
func httpGetJSON(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, strings.TrimSpace(string(b))
}

// want fails unless got == want, naming what.
func want(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
