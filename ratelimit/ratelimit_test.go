package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testenv"
)

// testAt is when the events of allowN and limited arrive: one instant, so
// that a test's events all fall in one window however long it runs.
var testAt = time.Now()

// allowN counts n events arriving at testAt and fails on any refusal or
// error.
func allowN(t *testing.T, l *Limiter, rule, key string, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.AllowAt(context.Background(), rule, key, testAt); err != nil {
			t.Fatalf("event %d of %d refused: %v", i+1, n, err)
		}
	}
}

// limited counts one event arriving at testAt and returns the
// *LimitedError it must produce.
func limited(t *testing.T, l *Limiter, rule, key string) *LimitedError {
	t.Helper()
	res, err := l.AllowAt(context.Background(), rule, key, testAt)
	var le *LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("Allow = %+v, %v; want *LimitedError", res, err)
	}
	return le
}

// limiterKinds runs f against the memory store and a real Redis.
func limiterKinds(t *testing.T, f func(t *testing.T, newLimiter func(rules map[string]Rule) *Limiter)) {
	t.Run("Memory", func(t *testing.T) {
		f(t, func(rules map[string]Rule) *Limiter {
			l, err := New(Config{Rules: rules})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		})
	})
	t.Run("Redis", func(t *testing.T) {
		client, prefix := testenv.Redis(t)
		f(t, func(rules map[string]Rule) *Limiter {
			l, err := New(Config{Rules: rules, Redis: client, Prefix: prefix + "rl"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		})
	})
}

func TestLimiter_Allow(t *testing.T) {
	limiterKinds(t, func(t *testing.T, newLimiter func(map[string]Rule) *Limiter) {
		const period = 30 * time.Second
		l := newLimiter(map[string]Rule{"/chat:sendMessage": {Limit: 10, Period: period}, "off": {Limit: 0, Period: time.Second}})
		at := time.Now() // every event arrives then: no window boundary between them
		_, end := windowOf(at, period)
		limitedAt := func() *LimitedError {
			t.Helper()
			res, err := l.AllowAt(context.Background(), "/chat:sendMessage", "user:1", at)
			var le *LimitedError
			if !errors.As(err, &le) {
				t.Fatalf("AllowAt = %+v, %v; want *LimitedError", res, err)
			}
			return le
		}

		for i := int64(1); i <= 10; i++ {
			res, err := l.AllowAt(context.Background(), "/chat:sendMessage", "user:1", at)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if res.Limit != 10 || res.Remaining != 10-i || !res.Reset.Equal(end) {
				t.Fatalf("event %d: result %+v, want limit 10 remaining %d reset %v", i, res, 10-i, end)
			}
		}
		le := limitedAt()
		if le.Rule != "/chat:sendMessage" || le.Limit != 10 || !le.Reset.Equal(end) {
			t.Fatalf("LimitedError = %+v, want reset %v", le, end)
		}
		if want := time.Until(end); le.RetryAfter < want || le.RetryAfter > want+time.Second {
			t.Fatalf("RetryAfter = %v, want the time to the window's end (%v)", le.RetryAfter, want)
		}
		if le.Error() != "ratelimit: too many requests" {
			t.Fatalf("Error() = %q", le.Error())
		}
		// Still refused: refused events count too.
		limitedAt()

		// Other keys and unknown or unlimited rules are unaffected.
		allowN(t, l, "/chat:sendMessage", "user:2", 10)
		allowN(t, l, "unknown", "user:1", 100)
		allowN(t, l, "off", "user:1", 100)
		if res, err := l.Allow(context.Background(), "unknown", "user:1"); err != nil || res != (Result{}) {
			t.Fatalf("unknown rule = %+v, %v", res, err)
		}
	})
}

// TestLimiter_CountsByArrival: an event counts in the window it arrived
// in, whenever it is checked. A client whose events waited behind a stalled
// handler and are checked together after it resumes is not refused for the
// backlog, and events of a later window have that window's whole budget.
func TestLimiter_CountsByArrival(t *testing.T) {
	limiterKinds(t, func(t *testing.T, newLimiter func(map[string]Rule) *Limiter) {
		const period = time.Second
		l := newLimiter(map[string]Rule{"r": {Limit: 3, Period: period}})
		n, _ := windowOf(time.Now(), period)
		earlier := time.Unix(0, (n-1)*int64(period)+int64(period/2)) // the previous window
		now := time.Unix(0, n*int64(period)+int64(period/2))
		for i := range 3 { // checked now, arrived in the previous window
			if _, err := l.AllowAt(context.Background(), "r", "k", earlier); err != nil {
				t.Fatalf("backlog event %d: %v", i+1, err)
			}
		}
		for i := range 3 {
			if _, err := l.AllowAt(context.Background(), "r", "k", now); err != nil {
				t.Fatalf("event %d of the current window refused after a backlog of the previous one: %v", i+1, err)
			}
		}
		var le *LimitedError
		if _, err := l.AllowAt(context.Background(), "r", "k", now); !errors.As(err, &le) {
			t.Fatalf("4th event of the window = %v, want refused", err)
		}
		if _, err := l.AllowAt(context.Background(), "r", "k", earlier); !errors.As(err, &le) {
			t.Fatalf("4th event of the previous window = %v, want refused", err)
		}
		if le.RetryAfter != time.Millisecond {
			t.Fatalf("RetryAfter of a window already over = %v, want 1ms", le.RetryAfter)
		}
	})
}

func TestWindowOf(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 10, 700_000_000, time.UTC)
	tests := []struct {
		period  time.Duration
		wantEnd time.Time
	}{
		{time.Second, time.Date(2026, 1, 1, 0, 0, 11, 0, time.UTC)},
		{time.Minute, time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)},
		{300 * time.Millisecond, time.Date(2026, 1, 1, 0, 0, 10, 800_000_000, time.UTC)},
	}
	for _, tt := range tests {
		n, end := windowOf(at, tt.period)
		if !end.Equal(tt.wantEnd) || n != at.UnixNano()/int64(tt.period) {
			t.Errorf("windowOf(%v, %v) = %d, %v; want end %v", at, tt.period, n, end, tt.wantEnd)
		}
		if m, _ := windowOf(end.Add(-time.Nanosecond), tt.period); m != n {
			t.Errorf("period %v: the window's last instant is in window %d, want %d", tt.period, m, n)
		}
		if m, _ := windowOf(end, tt.period); m != n+1 {
			t.Errorf("period %v: the window's end is in window %d, want %d", tt.period, m, n+1)
		}
	}
}

func TestLimiter_SharedRedis(t *testing.T) {
	client, prefix := testenv.Redis(t)
	rules := map[string]Rule{"/:chat": {Limit: 10, Period: time.Minute}}
	var ls [2]*Limiter
	for i := range ls {
		l, err := New(Config{Rules: rules, Redis: client, Prefix: prefix + "shared"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls[i] = l
	}
	allowN(t, ls[0], "/:chat", "user:9", 6)
	allowN(t, ls[1], "/:chat", "user:9", 4)
	limited(t, ls[0], "/:chat", "user:9")
	limited(t, ls[1], "/:chat", "user:9")

	// The counter is where the docs say, under the prefix.
	w, _ := windowOf(testAt, time.Minute)
	n, err := client.Get(context.Background(), fmt.Sprintf("%sshared:/:chat|user:9|%d", prefix, w)).Int64()
	if err != nil || n != 12 {
		t.Fatalf("redis counter = %d, %v; want 12", n, err)
	}

	// A third instance on another prefix does not share the count.
	other, err := New(Config{Rules: rules, Redis: client, Prefix: prefix + "other"})
	if err != nil {
		t.Fatal(err)
	}
	allowN(t, other, "/:chat", "user:9", 10)
}

func TestLimiter_MemoryPerInstance(t *testing.T) {
	rules := map[string]Rule{"/:chat": {Limit: 10, Period: time.Minute}}
	a, err := New(Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	allowN(t, a, "/:chat", "user:1", 10)
	limited(t, a, "/:chat", "user:1")
	allowN(t, b, "/:chat", "user:1", 10)
	limited(t, b, "/:chat", "user:1")
}

func TestLimiter_Concurrent(t *testing.T) {
	limiterKinds(t, func(t *testing.T, newLimiter func(map[string]Rule) *Limiter) {
		l := newLimiter(map[string]Rule{"r": {Limit: 50, Period: time.Minute}})
		errs := make(chan error, 200)
		for range 8 {
			go func() {
				for range 25 {
					_, err := l.AllowAt(context.Background(), "r", "k", testAt)
					errs <- err
				}
			}()
		}
		var allowed, refused int
		for range 200 {
			var le *LimitedError
			switch err := <-errs; {
			case err == nil:
				allowed++
			case errors.As(err, &le):
				refused++
			default:
				t.Fatal(err)
			}
		}
		if allowed != 50 || refused != 150 {
			t.Fatalf("allowed %d refused %d, want 50/150", allowed, refused)
		}
	})
}

func TestLimiter_RedisDown(t *testing.T) {
	shared, prefix := testenv.Redis(t)
	// A client of our own to close: the shared one is needed for cleanup.
	client := redis.NewClient(shared.Options())
	l, err := New(Config{Rules: map[string]Rule{"r": {Limit: 1, Period: time.Minute}}, Redis: client, Prefix: prefix + "down"})
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	_, err = l.Allow(context.Background(), "r", "k")
	var le *LimitedError
	if err == nil || errors.As(err, &le) {
		t.Fatalf("Allow with closed client = %v, want a store error", err)
	}
}

func TestNew_Errors(t *testing.T) {
	if _, err := New(Config{Rules: map[string]Rule{"bad": {Limit: 1}}}); err == nil {
		t.Fatal("New accepted a limited rule without period")
	}
	l, err := New(Config{Rules: map[string]Rule{"a": {Limit: 2, Period: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := l.Rule("a"); !ok || r != (Rule{Limit: 2, Period: time.Second}) {
		t.Fatalf("Rule(a) = %+v, %v", r, ok)
	}
	if _, ok := l.Rule("b"); ok {
		t.Fatal("Rule(b) found")
	}
}

func TestSetHeaders(t *testing.T) {
	reset := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	SetHeaders(h, Result{Limit: 10, Remaining: 3, Reset: reset})
	want := map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1800000000"}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	h = http.Header{}
	SetHeaders(h, Result{})
	if len(h) != 0 {
		t.Errorf("unlimited result set headers %v", h)
	}

	for _, c := range []struct {
		retry time.Duration
		want  string
	}{{time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {29*time.Second + 300*time.Millisecond, "30"}} {
		h := http.Header{}
		SetLimitedHeaders(h, &LimitedError{Rule: "r", Limit: 10, RetryAfter: c.retry, Reset: reset})
		if got := h.Get("Retry-After"); got != c.want {
			t.Errorf("RetryAfter %v: Retry-After = %q, want %q", c.retry, got, c.want)
		}
		if h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Limit") != "10" || h.Get("X-RateLimit-Reset") != "1800000000" {
			t.Errorf("limited headers = %v", h)
		}
	}
}

func ExampleParseRules() {
	rules, err := ParseRules("/:chat=10/30s, http:GET /chats=60/m")
	fmt.Println(rules["/:chat"], rules["http:GET /chats"], err)
	// Output: {10 30s} {60 1m0s} <nil>
}
