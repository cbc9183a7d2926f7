//go:build !race

package testenv

// raceEnabled: the tests run without the race detector, and so do the
// binaries they build (SockgateBinary).
const raceEnabled = false
