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

// allowN calls Allow n times and fails on any refusal or error.
func allowN(t *testing.T, l *Limiter, rule, key string, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Allow(context.Background(), rule, key); err != nil {
			t.Fatalf("event %d of %d refused: %v", i+1, n, err)
		}
	}
}

// limited calls Allow once and returns the *LimitedError it must produce.
func limited(t *testing.T, l *Limiter, rule, key string) *LimitedError {
	t.Helper()
	res, err := l.Allow(context.Background(), rule, key)
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

		for i := int64(1); i <= 10; i++ {
			res, err := l.Allow(context.Background(), "/chat:sendMessage", "user:1")
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if res.Limit != 10 || res.Remaining != 10-i {
				t.Fatalf("event %d: result %+v, want limit 10 remaining %d", i, res, 10-i)
			}
			if until := time.Until(res.Reset); until <= 0 || until > period {
				t.Fatalf("event %d: reset in %v, want within (0, %v]", i, until, period)
			}
		}
		before := time.Now()
		le := limited(t, l, "/chat:sendMessage", "user:1")
		if le.Rule != "/chat:sendMessage" || le.Limit != 10 {
			t.Fatalf("LimitedError = %+v", le)
		}
		if le.RetryAfter <= period-2*time.Second || le.RetryAfter > period {
			t.Fatalf("RetryAfter = %v, want just under %v", le.RetryAfter, period)
		}
		if d := le.Reset.Sub(before); d < le.RetryAfter-time.Second || d > period+time.Second {
			t.Fatalf("Reset %v from now, RetryAfter %v", d, le.RetryAfter)
		}
		if le.Error() != "ratelimit: too many requests" {
			t.Fatalf("Error() = %q", le.Error())
		}
		// Still refused: refused events count too.
		limited(t, l, "/chat:sendMessage", "user:1")

		// Other keys and unknown or unlimited rules are unaffected.
		allowN(t, l, "/chat:sendMessage", "user:2", 10)
		allowN(t, l, "unknown", "user:1", 100)
		allowN(t, l, "off", "user:1", 100)
		if res, err := l.Allow(context.Background(), "unknown", "user:1"); err != nil || res != (Result{}) {
			t.Fatalf("unknown rule = %+v, %v", res, err)
		}
	})
}

func TestLimiter_WindowExpiry(t *testing.T) {
	limiterKinds(t, func(t *testing.T, newLimiter func(map[string]Rule) *Limiter) {
		const period = 300 * time.Millisecond
		l := newLimiter(map[string]Rule{"r": {Limit: 3, Period: period}})
		start := time.Now()
		allowN(t, l, "r", "ip:1.2.3.4", 3)
		le := limited(t, l, "r", "ip:1.2.3.4")
		if le.RetryAfter <= 0 || le.RetryAfter > period {
			t.Fatalf("RetryAfter = %v, want within (0, %v]", le.RetryAfter, period)
		}
		testenv.WaitFor(t, 3*time.Second, func() error {
			_, err := l.Allow(context.Background(), "r", "ip:1.2.3.4")
			return err
		})
		if elapsed := time.Since(start); elapsed < period-50*time.Millisecond {
			t.Fatalf("window reopened after %v, period %v", elapsed, period)
		}
		// A fresh window: the reopening event was the first of three.
		allowN(t, l, "r", "ip:1.2.3.4", 2)
		limited(t, l, "r", "ip:1.2.3.4")
	})
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
	n, err := client.Get(context.Background(), prefix+"shared:/:chat|user:9").Int64()
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
					_, err := l.Allow(context.Background(), "r", "k")
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

func TestResetOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 10, 700_000_000, time.UTC)
	tests := []struct {
		name      string
		unix      int64
		period    time.Duration
		wantRetry time.Duration
	}{
		{"EndOfSecond", now.Unix() + 5, time.Minute, 5*time.Second + 300*time.Millisecond},
		{"CappedAtPeriod", now.Unix() + 1, 500 * time.Millisecond, 500 * time.Millisecond},
		{"AtLeastOneMillisecond", now.Unix() - 2, time.Minute, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset, retry := resetOf(tt.unix, now, tt.period)
			if retry != tt.wantRetry || !reset.Equal(now.Add(retry)) {
				t.Fatalf("resetOf = %v, %v; want retry %v", reset, retry, tt.wantRetry)
			}
		})
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
