package event

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// TestPacer: a hook that worked payEvery pauses factor times as long as it
// worked (within maxPause), and not at all when no events flow.
func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		factor time.Duration
		worked time.Duration
		want   time.Duration // 0: no pause
	}{
		{"Flowing", 1, 3 * time.Millisecond, 3 * time.Millisecond},
		{"Running", 3, 3 * time.Millisecond, 9 * time.Millisecond},
		{"LongWork", 3, time.Second, maxPause},
		{"NoEvents", 0, 3 * time.Millisecond, 0},
		{"LittleWork", 3, payEvery / 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pauses []time.Duration
			p := &Pacer{factor: func() time.Duration { return tc.factor }, sleep: func(d time.Duration) { pauses = append(pauses, d) },
				mark: time.Now().Add(-tc.worked)}
			p.Yield()
			if tc.want == 0 {
				if len(pauses) != 0 {
					t.Fatalf("paused %v", pauses)
				}
				return
			}
			// The work measured includes yield's own time: at most a
			// little more than tc.worked.
			if len(pauses) != 1 || pauses[0] < tc.want || pauses[0] > min(tc.want+tc.factor*payEvery, maxPause) {
				t.Fatalf("pauses %v after %v of work, factor %d; want one of about %v", pauses, tc.worked, tc.factor, tc.want)
			}
			if since := time.Since(p.mark); since > tc.worked/2 {
				t.Fatalf("mark not reset after the pause: %v ago", since)
			}
		})
	}
}

// TestPacer_Pay: pay pauses for all the work since the last pause, even
// below payEvery (a short hook about to give its slot up), and not at all
// when no events flow.
func TestPacer_Pay(t *testing.T) {
	for _, factor := range []time.Duration{0, 1, 3} {
		var pauses []time.Duration
		worked := payEvery / 4
		p := &Pacer{factor: func() time.Duration { return factor }, sleep: func(d time.Duration) { pauses = append(pauses, d) },
			mark: time.Now().Add(-worked)}
		p.Pay()
		switch {
		case factor == 0 && len(pauses) != 0:
			t.Errorf("factor 0: paused %v", pauses)
		case factor > 0 && (len(pauses) != 1 || pauses[0] < factor*worked || pauses[0] > maxPause):
			t.Errorf("factor %d: pauses %v after %v of work, want one of at least %v", factor, pauses, worked, factor*worked)
		}
		if since := time.Since(p.mark); since > worked/2 {
			t.Errorf("factor %d: mark not reset: %v ago", factor, since)
		}
	}
}

func TestPauseFactor(t *testing.T) {
	for _, tc := range []struct {
		running, flowing bool
		want             time.Duration
	}{
		{false, false, 0}, {false, true, 1}, {true, true, 3}, {true, false, 3},
	} {
		if got := pauseFactor(tc.running, tc.flowing); got != tc.want {
			t.Errorf("pauseFactor(running %v, flowing %v) = %d, want %d", tc.running, tc.flowing, got, tc.want)
		}
	}
}

// TestAdmitHandshake: with no events a handshake takes no slot; while one
// runs, handshakes take the slots one each, a second waits for the first's
// release (after its pause), and one whose client left returns at once.
func TestAdmitHandshake(t *testing.T) {
	p := &Pipeline{handshakes: make(Slots, 1)}
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	p.AdmitHandshake(req)()
	if len(p.handshakes) != 0 {
		t.Fatal("a handshake took a slot with no events")
	}
	p.running.Add(1) // an event is running
	release := p.AdmitHandshake(req)
	if len(p.handshakes) != 1 {
		t.Fatalf("slots in use %d while events run, want 1", len(p.handshakes))
	}
	second := make(chan func(), 1)
	go func() { second <- p.AdmitHandshake(req) }()
	select {
	case <-second:
		t.Fatal("a second handshake ran beside the first")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case r := <-second:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the second handshake was not admitted after the first's release")
	}
	if len(p.handshakes) != 0 {
		t.Fatalf("slots in use %d after both releases, want 0", len(p.handshakes))
	}

	hold := p.AdmitHandshake(req)
	defer hold()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := p.AdmitHandshake(req.WithContext(ctx)) // its client left
	gone()
	if len(p.handshakes) != 1 {
		t.Fatalf("slots in use %d after a departed client's release, want 1 (the held one)", len(p.handshakes))
	}
}

// TestSlots_Admit: at most len(slots) pieces of work hold a slot; a waiter
// gets one when a holder releases it, and runs unadmitted (a no-op release)
// when its context ends first, so the bound never fails a connection.
func TestSlots_Admit(t *testing.T) {
	slots := make(Slots, 1)
	release := slots.Admit(context.Background())
	got := make(chan func(), 1)
	go func() { got <- slots.Admit(context.Background()) }()
	select {
	case <-got:
		t.Fatal("a second piece of work got the only slot while it was held")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case r := <-got:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not get the released slot")
	}
	held := slots.Admit(context.Background())
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	slots.Admit(ctx)() // returns at the deadline; its release must not free the held slot
	if len(slots) != 1 {
		t.Fatalf("slots in use %d after an unadmitted release, want 1", len(slots))
	}
}
