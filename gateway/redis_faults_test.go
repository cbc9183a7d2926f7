package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
)

// The Redis fault tests (issue 8, item 7 and acceptance 5): a private
// redis-server that the test kills, restarts or pauses, two instances wired
// as cmd/sockgate wires them (one go-redis client each with
// ContextTimeoutEnabled for the adapter, the shared state and the limiter;
// /readyz pinging Redis), and real socket.io-client sockets driven by
// testdata/fault_client.js.

const (
	faultEventTimeout = 3 * time.Second
	faultPause        = 5 * time.Second
	// faultMargin is what a loaded, race-enabled run may add to a deadline.
	faultMargin = time.Second
)

// faultRules keep the tests' streams well under their limits: typing sends
// 40 events per 2s window, sendMessage at most 20.
func faultRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"/chat:typing":      {Limit: 100, Period: 2 * time.Second},
		"/chat:sendMessage": {Limit: 50, Period: 2 * time.Second},
		"/chat:joinChat":    {Limit: 100, Period: time.Minute},
	}
}

type faultEnv struct {
	t     *testing.T
	redis *testenv.RedisServer
	urls  [2]string
	js    *jsClient
}

func newFaultEnv(t *testing.T, mode ratelimit.FailureMode) *faultEnv {
	t.Helper()
	e := &faultEnv{t: t, redis: testenv.StartRedisServer(t)}
	for i := range e.urls {
		rc := e.redis.Client(t)
		lim, err := ratelimit.New(ratelimit.Config{Rules: faultRules(), Redis: rc, Prefix: "t:rl", Failure: mode})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(nil, nil, lim, Config{
			Redis: rc, RedisPrefix: "t", AdapterKey: "t", EventTimeout: faultEventTimeout,
			ReadyChecks: map[string]func(context.Context) error{"redis": func(ctx context.Context) error { return rc.Ping(ctx).Err() }},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.urls[i] = serve(t, s)
	}
	e.js = startScript(t, "fault_client.js", e.urls[0])
	return e
}

// connect connects client c to "/chat" on instance i.
func (e *faultEnv) connect(c string, i int) {
	e.t.Helper()
	if r := e.js.do(map[string]any{"op": "connect", "c": c, "ns": "/chat", "base": e.urls[i]}); r.Op != "connect" {
		e.t.Fatalf("%s: %s %s", c, r.Op, r.Message)
	}
}

// join makes c a member of the lobby (sendMessage needs it).
func (e *faultEnv) join(c string) {
	e.t.Helper()
	if r := e.js.do(map[string]any{"op": "emit", "c": c, "event": "joinChat", "args": []any{map[string]any{"username": c}}}); r.Op != "ack" {
		e.t.Fatalf("%s joinChat: %s", c, r.Op)
	}
}

// stream starts emitting event from c every interval (sequential: each
// waits for the previous ack); "$i" in arg becomes the emit's number.
func (e *faultEnv) stream(id, c, event string, arg any, interval time.Duration, sequential bool) {
	e.t.Helper()
	e.js.do(map[string]any{"op": "stream", "id": id, "c": c, "event": event, "args": []any{arg},
		"interval": interval.Milliseconds(), "sequential": sequential})
}

// streamStats are a stream's acks since the last reset: by result ("ok"
// or the error code) and the slowest, in ms.
type streamStats struct {
	Sent, Acked, Noack int
	MaxMs              int64 `json:"maxMs"`
	Codes              map[string]int
}

func (e *faultEnv) stats(op, id string, reset bool) streamStats {
	e.t.Helper()
	r := e.js.do(map[string]any{"op": op, "id": id, "reset": reset})
	var s streamStats
	if err := json.Unmarshal([]byte(r.line), &s); err != nil {
		e.t.Fatalf("stats %s: %v", r.line, err)
	}
	return s
}

// waitOK waits until stream id has n ok acks since its last reset.
func (e *faultEnv) waitOK(id string, n int, within time.Duration) {
	e.t.Helper()
	testenv.WaitFor(e.t, within, func() error {
		if s := e.stats("stats", id, false); s.Codes["ok"] < n {
			return fmt.Errorf("stream %s: %+v, want %d ok", id, s, n)
		}
		return nil
	})
}

// count is how many event c has received.
func (e *faultEnv) count(c, event string) int {
	e.t.Helper()
	var r struct{ N int }
	_ = json.Unmarshal([]byte(e.js.do(map[string]any{"op": "count", "c": c, "event": event}).line), &r)
	return r.N
}

// waitReady waits until both instances' /readyz answer status.
func (e *faultEnv) waitReady(status int, within time.Duration) {
	e.t.Helper()
	testenv.WaitFor(e.t, within, func() error {
		for _, u := range e.urls {
			res, err := http.Get(u + "/readyz")
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != status {
				return fmt.Errorf("%s/readyz = %d, want %d", u, res.StatusCode, status)
			}
		}
		return nil
	})
}

func (e *faultEnv) signal(sig syscall.Signal) {
	e.t.Helper()
	if err := e.redis.Signal(sig); err != nil {
		e.t.Fatal(err)
	}
}

// servers is the line of sockgate_adapter_servers{namespace="/chat"} on
// instance i's /metrics ("" when absent), and how long the scrape took.
func (e *faultEnv) servers(i int) (string, time.Duration) {
	e.t.Helper()
	start := time.Now()
	res, err := http.Get(e.urls[i] + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, `sockgate_adapter_servers{namespace="/chat"}`) {
			return l, time.Since(start)
		}
	}
	return "", time.Since(start)
}

// waitServers waits until instance i counts n servers on "/chat".
func (e *faultEnv) waitServers(i, n int) {
	e.t.Helper()
	testenv.WaitFor(e.t, 5*time.Second, func() error {
		if l, _ := e.servers(i); !strings.HasSuffix(l, fmt.Sprintf("} %d", n)) {
			return fmt.Errorf("instance %d: %q, want %d servers", i, l, n)
		}
		return nil
	})
}

// noRefusals fails if s holds rate_limited refusals or lost acks.
func noRefusals(t *testing.T, phase string, s streamStats) {
	t.Helper()
	if s.Codes["rate_limited"] > 0 || s.Noack > 0 {
		t.Errorf("%s: %+v: want no rate_limited and no lost ack", phase, s)
	}
}

// TestRedisFaults_Restart: Redis killed during traffic between two
// instances and started again (empty, as after a crash): /readyz follows
// it, and a message sent on A reaches B again within 5s of Redis being back.
func TestRedisFaults_Restart(t *testing.T) {
	e := newFaultEnv(t, ratelimit.FailOpen)
	e.connect("s", 0)
	e.connect("x", 1)
	e.join("s")
	e.stream("msg", "s", "sendMessage", map[string]any{"message": "m$i"}, 50*time.Millisecond, true)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := e.count("x", "newMessage"); n < 3 {
			return fmt.Errorf("B received %d messages from A", n)
		}
		return nil
	})

	e.waitServers(0, 2)
	e.redis.Kill()
	e.waitReady(http.StatusServiceUnavailable, 3*time.Second)
	if l, took := e.servers(0); l != "" || took > 2*serverCountTimeout+faultMargin {
		t.Errorf("/metrics with Redis down: servers %q after %v, want none, quickly", l, took)
	}
	e.redis.Start(t)
	up := time.Now()
	before := e.count("x", "newMessage")
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := e.count("x", "newMessage"); n <= before {
			return fmt.Errorf("B received nothing since Redis came back (%v ago)", time.Since(up))
		}
		return nil
	})
	resumed := time.Since(up)
	e.waitReady(http.StatusOK, 3*time.Second)
	e.waitServers(0, 2)
	e.waitServers(1, 2)
	st := e.stats("stop", "msg", false)
	t.Logf("relaying resumed %v after Redis came back; sender's acks %+v", resumed.Round(time.Millisecond), st)
	if resumed > 5*time.Second {
		t.Errorf("relaying resumed %v after Redis came back, want within 5s", resumed)
	}
	noRefusals(t, "restart", st)
}

// TestRedisFaults_Pause: Redis paused (SIGSTOP) for 5s under a steady
// stream of events, in both limiter modes. No ack comes later than its
// deadline (typing, which only meets the limiter: its 250ms timeout;
// sendMessage, which also broadcasts: the event's deadline), local delivery
// goes on (fail open), /readyz is 503 while paused and 200 after, and
// nobody well under a limit is refused rate_limited, during or after.
func TestRedisFaults_Pause(t *testing.T) {
	for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
		t.Run(string(mode), func(t *testing.T) { testPause(t, mode) })
	}
}

func testPause(t *testing.T, mode ratelimit.FailureMode) {
	e := newFaultEnv(t, mode)
	for i, c := range []string{"t", "s", "r", "x"} {
		e.connect(c, i/3) // x on B, the others on A
	}
	e.join("s")
	// typing from a socket that did not join: the limiter and the ack only.
	e.stream("typing", "t", "typing", map[string]any{"isTyping": true}, 50*time.Millisecond, false)
	e.stream("msg", "s", "sendMessage", map[string]any{"message": "m$i"}, 100*time.Millisecond, true)
	e.waitOK("typing", 10, 5*time.Second)
	e.waitOK("msg", 5, 5*time.Second)
	noRefusals(t, "before", e.stats("stats", "typing", true))
	noRefusals(t, "before", e.stats("stats", "msg", true))

	delivered := e.count("r", "newMessage")
	paused := time.Now()
	e.signal(syscall.SIGSTOP)
	t.Cleanup(func() { _ = e.redis.Signal(syscall.SIGCONT) }) // lets a failed test's servers stop
	e.waitReady(http.StatusServiceUnavailable, 3*time.Second)
	if mode == ratelimit.FailOpen {
		testenv.WaitFor(t, 3*time.Second, func() error {
			if n := e.count("r", "newMessage") - delivered; n < 2 {
				return fmt.Errorf("local delivery while paused: %d messages", n)
			}
			return nil
		})
	}
	<-time.After(time.Until(paused.Add(faultPause))) // the fault's length, not a synchronisation
	typing, msg := e.stats("stats", "typing", true), e.stats("stats", "msg", true)
	e.signal(syscall.SIGCONT)
	e.waitReady(http.StatusOK, 3*time.Second)
	e.waitOK("typing", 50, 10*time.Second) // 2.5s of stream: windows that saw the resume
	e.waitOK("msg", 10, 10*time.Second)
	typingAfter, msgAfter := e.stats("stop", "typing", false), e.stats("stop", "msg", false)

	t.Logf("%s, while paused: typing %+v; sendMessage %+v", mode, typing, msg)
	t.Logf("%s, after: typing %+v; sendMessage %+v", mode, typingAfter, msgAfter)
	if limit := (ratelimit.DefaultTimeout + faultMargin).Milliseconds(); typing.MaxMs > limit || typingAfter.MaxMs > limit {
		t.Errorf("typing acks took up to %d/%d ms, want ≤ %d (limiter timeout + margin)", typing.MaxMs, typingAfter.MaxMs, limit)
	}
	if limit := (faultEventTimeout + faultMargin).Milliseconds(); msg.MaxMs > limit || msgAfter.MaxMs > limit {
		t.Errorf("sendMessage acks took up to %d/%d ms, want ≤ %d (event deadline + margin)", msg.MaxMs, msgAfter.MaxMs, limit)
	}
	for phase, s := range map[string]streamStats{"typing paused": typing, "sendMessage paused": msg, "typing after": typingAfter, "sendMessage after": msgAfter} {
		noRefusals(t, phase, s)
	}
	if mode == ratelimit.FailClosed && typing.Codes["unavailable"] == 0 {
		t.Errorf("fail closed: typing while paused %+v, want unavailable refusals", typing)
	}
	if mode == ratelimit.FailOpen && (typing.Codes["ok"] == 0 || len(typing.Codes) != 1) {
		t.Errorf("fail open: typing while paused %+v, want only ok", typing)
	}
}
