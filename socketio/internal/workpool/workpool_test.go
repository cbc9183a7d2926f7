package workpool

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// counted returns a Config whose Start counts the live worker goroutines.
func counted(idle time.Duration) (Config, *atomic.Int64) {
	var live atomic.Int64
	return Config{Idle: idle, Start: func(f func()) {
		live.Add(1)
		go func() {
			defer live.Add(-1)
			f()
		}()
	}}, &live
}

func statsAre(p interface{ Stats() Stats }, want Stats) func() error {
	return func() error {
		if got := p.Stats(); got != want {
			return fmt.Errorf("stats %+v, want %+v", got, want)
		}
		return nil
	}
}

func liveIs(live *atomic.Int64, want int64) func() error {
	return func() error {
		if n := live.Load(); n != want {
			return fmt.Errorf("%d live workers, want %d", n, want)
		}
		return nil
	}
}

// TestPool_ReusesParkedWorker: jobs submitted one after the other run on
// one goroutine that parks between them; it exits once unused for Idle.
func TestPool_ReusesParkedWorker(t *testing.T) {
	t.Run("Reuse", func(t *testing.T) {
		// No sweep during the jobs: one that ran meanwhile would take the
		// stack for a moment, and a Go then starts a goroutine (by design).
		cfg, live := counted(time.Hour)
		done := make(chan int)
		p := New(func(i int) { done <- i }, cfg)
		for i := range 50 {
			p.Go(i)
			if got := <-done; got != i {
				t.Fatalf("ran job %d, want %d", got, i)
			}
			testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 1, Started: 1}))
		}
		p.Close()
		testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
	})
	t.Run("ExitsWhenIdle", func(t *testing.T) {
		cfg, live := counted(50 * time.Millisecond)
		done := make(chan int)
		p := New(func(i int) { done <- i }, cfg)
		p.Go(1)
		<-done
		testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 0, Started: 1}))
		testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
	})
}

// TestPool_ConcurrentJobs: jobs running at once each get a worker; all of
// them park afterwards and serve the next jobs without new goroutines.
func TestPool_ConcurrentJobs(t *testing.T) {
	const n = 8
	cfg, live := counted(time.Hour)
	var running sync.WaitGroup
	release := make(chan struct{})
	p := New(func(int) { running.Done(); <-release }, cfg)
	t.Cleanup(p.Close)
	for round := range 3 {
		running.Add(n)
		for i := range n {
			p.Go(i)
		}
		running.Wait() // n jobs at once: n workers
		for range n {
			release <- struct{}{}
		}
		testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: n, Started: n}))
		if got := live.Load(); got != n {
			t.Fatalf("round %d: %d live workers, want %d", round, got, n)
		}
	}
	p.Close()
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
}

// TestPool_RetireAfterOneFullPeriod: a sweep dismisses only the workers
// parked before the previous sweep, i.e. unused for at least Idle; the
// most recently parked stay.
func TestPool_RetireAfterOneFullPeriod(t *testing.T) {
	cfg, live := counted(time.Hour) // the test runs the sweeps itself
	var running sync.WaitGroup
	release := make(chan struct{})
	p := New(func(int) { running.Done(); <-release }, cfg)
	t.Cleanup(p.Close)
	busy := func(n int) {
		running.Add(n)
		for i := range n {
			p.Go(i)
		}
		running.Wait()
	}
	busy(2)
	release <- struct{}{} // one parks before sweep 1
	testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 1, Started: 2}))
	p.retire() // sweep 1: parked for less than a period
	if got := p.Stats().Parked; got != 1 {
		t.Fatalf("sweep 1 left %d parked, want 1", got)
	}
	release <- struct{}{} // the other parks after sweep 1
	testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 2, Started: 2}))
	p.retire() // sweep 2: the first has been parked a full period
	if got := p.Stats().Parked; got != 1 {
		t.Fatalf("sweep 2 left %d parked, want 1", got)
	}
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 1))
	busy(1) // the survivor takes it: no new goroutine
	if got := p.Stats().Started; got != 2 {
		t.Fatalf("%d goroutines started, want 2 (the parked one reused)", got)
	}
	release <- struct{}{}
	testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 1, Started: 2}))
	p.retire()
	p.retire()
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
	if got := p.Stats().Parked; got != 0 {
		t.Fatalf("%d parked after two sweeps", got)
	}
}

// TestPool_Close: Close dismisses the parked workers, lets a busy one finish
// its job and exit, and jobs submitted afterwards still run.
func TestPool_Close(t *testing.T) {
	cfg, live := counted(time.Hour)
	var running sync.WaitGroup
	release := make(chan struct{})
	ran := make(chan int, 10)
	p := New(func(i int) {
		running.Done()
		<-release
		ran <- i
	}, cfg)
	running.Add(2)
	p.Go(1)
	p.Go(2)
	running.Wait()
	release <- struct{}{}
	<-ran
	testenv.WaitFor(t, 5*time.Second, statsAre(p, Stats{Parked: 1, Started: 2}))
	p.Close()
	p.Close() // idempotent
	// The parked worker left.
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 1))
	release <- struct{}{}
	<-ran
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 0)) // the busy one did not park
	running.Add(1)
	p.Go(3)
	running.Wait()
	release <- struct{}{}
	if got := <-ran; got != 3 {
		t.Fatalf("after Close ran %d, want 3", got)
	}
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
	if s := p.Stats(); s.Parked != 0 || s.Started != 3 {
		t.Fatalf("after Close: %+v, want 0 parked, 3 started", s)
	}
}

// owner is a queue served by at most one worker at a time, the way the
// pool's users (inboxes, WebSocket writers) use it.
type owner struct {
	p       *Pool[*owner]
	mu      sync.Mutex
	queue   []int
	running bool
	ran     []int
	inJob   atomic.Int32
}

func (o *owner) push(v int) {
	o.mu.Lock()
	o.queue = append(o.queue, v)
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		o.p.Go(o)
	}
}

func (o *owner) drain() {
	if o.inJob.Add(1) != 1 {
		panic("two workers drain one owner")
	}
	for {
		o.mu.Lock()
		if len(o.queue) == 0 {
			// Out of the job before running is cleared: the next push may
			// start another worker at once (a deferred decrement raced it).
			o.inJob.Add(-1)
			o.running = false
			o.mu.Unlock()
			return
		}
		v := o.queue[0]
		o.queue = o.queue[1:]
		o.ran = append(o.ran, v)
		o.mu.Unlock()
	}
}

// TestPool_Stress: many owners fed from many goroutines while sweeps run
// (a short Idle): every value is drained once, in order per producer, and
// no worker survives Close. Meant for -race.
func TestPool_Stress(t *testing.T) {
	const owners, producers, values = 16, 4, 500
	cfg, live := counted(time.Millisecond)
	p := New((*owner).drain, cfg)
	all := make([]*owner, owners)
	for i := range all {
		all[i] = &owner{p: p}
	}
	var wg sync.WaitGroup
	for pr := range producers {
		wg.Go(func() {
			for v := range values {
				all[(v+pr)%owners].push(pr*values + v)
			}
		})
	}
	wg.Wait()
	testenv.WaitFor(t, 10*time.Second, func() error {
		for i, o := range all {
			o.mu.Lock()
			busy := o.running
			o.mu.Unlock()
			if busy {
				return fmt.Errorf("owner %d still draining", i)
			}
		}
		return nil
	})
	last := map[int]int{} // producer → last value seen, per owner
	total := 0
	for i, o := range all {
		clear(last)
		for _, v := range o.ran {
			pr := v / values
			if prev, ok := last[pr]; ok && v <= prev {
				t.Fatalf("owner %d: value %d after %d from producer %d", i, v, prev, pr)
			}
			last[pr] = v
		}
		total += len(o.ran)
	}
	if total != producers*values {
		t.Fatalf("%d values drained, want %d", total, producers*values)
	}
	p.Close()
	testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
}

// TestPool_ConcurrentWakes: owners woken from many goroutines at once while
// their workers park (the lock-free hand-off's contended case), then Close
// racing with workers parking: every value is drained once, no owner is
// drained by two workers at once (owner.drain panics), and no worker
// survives Close, even one that parked as Close ran.
func TestPool_ConcurrentWakes(t *testing.T) {
	const owners, producers, values = 64, 8, 300
	for round := range 5 {
		cfg, live := counted(time.Hour)
		p := New((*owner).drain, cfg)
		all := make([]*owner, owners)
		for i := range all {
			all[i] = &owner{p: p}
		}
		var wg sync.WaitGroup
		for pr := range producers {
			wg.Go(func() {
				for v := range values {
					all[(v*7+pr)%owners].push(pr*values + v)
				}
			})
		}
		if round%2 == 1 {
			wg.Go(p.Close) // while the workers park
		}
		wg.Wait()
		testenv.WaitFor(t, 10*time.Second, func() error {
			total := 0
			for _, o := range all {
				o.mu.Lock()
				total += len(o.ran)
				o.mu.Unlock()
			}
			if total != producers*values {
				return fmt.Errorf("round %d: %d values drained, want %d", round, total, producers*values)
			}
			return nil
		})
		p.Close()
		testenv.WaitFor(t, 5*time.Second, liveIs(live, 0))
		if s := p.Stats(); s.Parked != 0 {
			t.Fatalf("round %d: %d parked after Close", round, s.Parked)
		}
	}
}

// BenchmarkPool_Wake is the hand-off alone: per op, a job to a parked
// worker, which runs it and parks again, from GOMAXPROCS goroutines at
// once (the receivers of broadcasts waking their writers).
func BenchmarkPool_Wake(b *testing.B) {
	p := New(func(done chan struct{}) { done <- struct{}{} }, Config{Idle: time.Hour})
	b.Cleanup(p.Close)
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan struct{})
		for pb.Next() {
			p.Go(done)
			<-done
		}
	})
}
