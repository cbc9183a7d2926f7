package testenv

import (
	"errors"
	"testing"
	"time"
)

func TestWaitFor_ReturnsWhenConditionHolds(t *testing.T) {
	calls := 0
	WaitFor(t, time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

func TestWaitFor_FailsAfterDeadline(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("recovered %v, want the recorder's Fatalf", r)
			}
		}()
		WaitFor(rec, 50*time.Millisecond, func() error { return errors.New("never") })
	}()
	if rec.msg == "" {
		t.Fatal("WaitFor did not fail the test")
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("failed after %v, before its deadline", el)
	}
}
