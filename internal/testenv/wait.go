package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond until it returns nil, failing the test with cond's last
// error once d has passed. Tests synchronise with it instead of sleeping.
func WaitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
