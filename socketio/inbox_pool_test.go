package socketio

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func (p *workerPool) counts() (idle, spawned int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle), p.spawned
}

// TestWorkerPool_ReusesParkedWorkers: inboxes needing a worker one after the
// other are drained by one goroutine that parks between them; parked workers
// exit after workerIdle, and at once when the pool closes.
func TestWorkerPool_ReusesParkedWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	var p workerPool
	idleIs := func(n int) func() error {
		return func() error {
			if idle, _ := p.counts(); idle != n {
				return fmt.Errorf("%d parked workers, want %d", idle, n)
			}
			return nil
		}
	}
	for range 50 {
		p.start(&inbox{running: true}) // as startLocked hands it over
		testenv.WaitFor(t, 5*time.Second, idleIs(1))
	}
	if _, spawned := p.counts(); spawned != 1 {
		t.Fatalf("%d goroutines started for 50 sequential drains, want 1", spawned)
	}
	testenv.WaitFor(t, 5*workerIdle, idleIs(0)) // retired when idle
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})

	p.start(&inbox{running: true})
	testenv.WaitFor(t, 5*time.Second, idleIs(1))
	p.close()
	p.start(&inbox{running: true}) // after close: drains, then exits
	if idle, spawned := p.counts(); idle != 0 || spawned != 3 {
		t.Fatalf("after close: %d parked, %d started; want 0, 3", idle, spawned)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines after close, %d before", n, before)
		}
		return nil
	})
}
