package chats

import (
	"testing"
	"time"
)

// TestPacer: a hook that worked payEvery pauses as long as it worked
// (within maxPause) while events run, and not at all when none do.
func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		busy   bool
		worked time.Duration
		paused bool
	}{
		{"BusyWorked", true, 3 * time.Millisecond, true},
		{"BusyLongWork", true, time.Second, true},
		{"IdleWorked", false, 3 * time.Millisecond, false},
		{"BusyLittleWork", true, payEvery / 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pauses []time.Duration
			p := &pacer{busy: func() bool { return tc.busy }, sleep: func(d time.Duration) { pauses = append(pauses, d) },
				mark: time.Now().Add(-tc.worked)}
			p.yield()
			if !tc.paused {
				if len(pauses) != 0 {
					t.Fatalf("paused %v", pauses)
				}
				return
			}
			if len(pauses) != 1 || pauses[0] < min(tc.worked, maxPause) || pauses[0] > maxPause {
				t.Fatalf("pauses %v after %v of work, want one of [%v, %v]", pauses, tc.worked, min(tc.worked, maxPause), maxPause)
			}
			if since := time.Since(p.mark); since > tc.worked/2 {
				t.Fatalf("mark not reset after the pause: %v ago", since)
			}
		})
	}
}
