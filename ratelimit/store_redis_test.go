package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestLimiter_RedisPaused: a Redis that hangs (SIGSTOP) costs each call at
// most Config.Timeout, calls within the cooldown fail at once, and the
// counts Redis only gets to after SIGCONT (their callers gave up) are not
// hits: after the pause the counter holds only what was answered.
func TestLimiter_RedisPaused(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	rc := srv.Client(t)
	const timeout = 100 * time.Millisecond
	l, err := New(Config{
		Rules: map[string]Rule{"r": {Limit: 5, Period: time.Minute}}, Redis: rc, Prefix: "p",
		Timeout: timeout, Cooldown: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allowN(t, l, "r", "k", 1)

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var slowest time.Duration
	failFast := false
	for range 6 { // each after the cooldown: each reaches the hung Redis
		start := time.Now()
		_, err := l.AllowAt(ctx, "r", "k", testAt)
		took := time.Since(start)
		slowest = max(slowest, took)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Allow while Redis is paused = %v, want ErrUnavailable", err)
		}
		// Within the cooldown: no store access, no wait.
		start = time.Now()
		if _, err := l.AllowAt(ctx, "r", "k", testAt); !errors.Is(err, ErrUnavailable) || time.Since(start) > 10*time.Millisecond {
			t.Fatalf("Allow within the cooldown = %v after %v, want ErrUnavailable at once", err, time.Since(start))
		} else {
			failFast = true
		}
		testenv.WaitFor(t, time.Second, func() error {
			if time.Now().UnixNano() < l.downUntil.Load() {
				return errors.New("cooling down")
			}
			return nil
		})
	}
	t.Logf("slowest call while paused: %v (timeout %v), fail-fast within cooldown: %v", slowest, timeout, failFast)
	if slowest > timeout+150*time.Millisecond {
		t.Errorf("a call waited %v for a paused Redis, timeout %v", slowest, timeout)
	}

	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error { _, err := l.AllowAt(ctx, "r", "k", testAt); return err })
	// One round trip after Redis woke: it has run what was queued in its
	// sockets before it reads this GET.
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	w, _ := windowOf(testAt, time.Minute)
	n, err := rc.Get(ctx, fmt.Sprintf("p:r|k|%d", w)).Int64()
	if err != nil || n != 2 {
		t.Fatalf("counter after the pause = %d, %v; want 2 (the calls answered, not the 6 abandoned)", n, err)
	}
	allowN(t, l, "r", "k", 3)
	limited(t, l, "r", "k")
}

func TestParseFailureMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FailureMode
		ok   bool
	}{{"", FailOpen, true}, {"open", FailOpen, true}, {"closed", FailClosed, true}, {"Closed", "", false}, {"no", "", false}} {
		got, err := ParseFailureMode(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseFailureMode(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := New(Config{Failure: "sometimes"}); err == nil {
		t.Error("New accepted failure mode \"sometimes\"")
	}
}
