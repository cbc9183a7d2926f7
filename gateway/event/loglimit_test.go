package event

import (
	"strconv"
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLogLimiter(time.Minute, func() time.Time { return now })
	step := func(key string, wantOK bool, wantSuppressed int) {
		t.Helper()
		if ok, n := l.Allow(key); ok != wantOK || n != wantSuppressed {
			t.Fatalf("%v Allow(%q) = %v, %d; want %v, %d", now.Format("15:04:05"), key, ok, n, wantOK, wantSuppressed)
		}
	}
	step("a", true, 0)
	step("a", false, 0)
	step("b", true, 0) // keys are independent
	now = now.Add(59 * time.Second)
	step("a", false, 0)
	now = now.Add(time.Second)
	step("a", true, 2) // a minute later, with the count of what was held back
	step("a", false, 0)
	now = now.Add(time.Minute)
	step("a", true, 1)
	step("b", true, 0)
}

// TestLogLimiter_Bounded: client-chosen keys cannot grow the limiter
// without bound: beyond the cap they share one overflow key.
func TestLogLimiter_Bounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLogLimiter(time.Minute, func() time.Time { return now })
	for i := range logLimitMaxKeys {
		if ok, _ := l.Allow("k" + strconv.Itoa(i)); !ok {
			t.Fatalf("key %d refused", i)
		}
	}
	if ok, _ := l.Allow("one-more"); !ok {
		t.Fatal("first overflowing key not logged")
	}
	if ok, _ := l.Allow("yet-another"); ok {
		t.Fatal("second overflowing key logged within the period")
	}
	if n := len(l.keys); n > logLimitMaxKeys {
		t.Fatalf("%d keys remembered, cap %d", n, logLimitMaxKeys)
	}
	// Once the period is over, old keys are forgotten and new ones logged.
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("fresh"); !ok {
		t.Fatal("new key after the period not logged")
	}
	if n := len(l.keys); n != 1 {
		t.Fatalf("%d keys after pruning, want 1", n)
	}
}
