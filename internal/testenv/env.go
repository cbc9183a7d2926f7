// Package testenv gives tests the real services they need: PostgreSQL,
// Redis and Node.js with the pinned socket.io-client.
//
// A service that cannot be reached skips the test with the reason when run
// by hand, and fails it under CI=true: CI never passes by skipping.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Unavailable reports that a service the test needs cannot be used: the test
// fails under CI and is skipped otherwise.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("testenv: %s unavailable under CI=true: %v", service, err)
	}
	t.Skipf("testenv: %s unavailable (set CI=true to make this a failure): %v", service, err)
}
