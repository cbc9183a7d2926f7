// Package workpool runs short jobs on a pool of goroutines that park
// between jobs instead of exiting.
//
// It serves work that comes in bursts per owner (a socket's inbox, a
// WebSocket connection's send queue): the owner asks for a worker when it
// gets work and the worker returns to the pool when the owner has none
// left, so an idle owner costs no goroutine and no goroutine is started
// per job. A fresh goroutine starts on a small stack that the work (JSON
// encoding, writev) grows again every time; a parked worker keeps its grown
// stack for the next job.
//
// Parked workers are bounded in time: one unused for Config.Idle exits
// (between one and two periods after it parked), so at most the workers of
// the busiest moment of the last two periods stay parked, and none once the
// load is gone. Close dismisses the parked workers at once; busy workers
// exit when their job returns.
//
// The pool does not order or serialise jobs: an owner that must be served
// by one worker at a time (all its users do) keeps a "running" flag of its
// own and submits a job only when it sets it.
package workpool

import (
	"sync"
	"time"
)

// Config tunes a Pool; zero values select the defaults written beside them.
type Config struct {
	// Idle is how long a parked worker waits for a job before it exits
	// (it exits between one and two Idle periods after parking). Zero
	// means 1s.
	Idle time.Duration
	// Start starts a worker goroutine running f, e.g. one its owner
	// counts for its shutdown. Nil means `go f()`.
	Start func(f func())
}

// Pool runs jobs of type T with its run function on parked or new
// goroutines. Its methods may be called from any goroutine; the pool's lock
// is never held while calling run, Config.Start or anything else, so they may
// be called with the caller's own locks held.
type Pool[T any] struct {
	run   func(T)
	idle  time.Duration
	start func(f func())

	mu      sync.Mutex
	parked  []*worker[T] // the most recently parked last
	epoch   uint64       // sweeps so far
	sweep   *time.Timer  // runs retire while workers are parked
	closed  bool         // Close: workers exit instead of parking
	started int          // goroutines started
}

// worker is a parked goroutine's mailbox.
type worker[T any] struct {
	next  chan T // capacity 1; closed to dismiss the worker
	epoch uint64 // Pool.epoch when it parked
}

// New returns a Pool that runs each job with run.
func New[T any](run func(T), cfg Config) *Pool[T] {
	if cfg.Idle <= 0 {
		cfg.Idle = time.Second
	}
	if cfg.Start == nil {
		cfg.Start = func(f func()) { go f() }
	}
	return &Pool[T]{run: run, idle: cfg.Idle, start: cfg.Start}
}

// Go runs job on the most recently parked worker, or on a new goroutine
// when none is parked. It never blocks on a worker. After Close it still
// runs job (on a new goroutine, which exits when the job returns).
func (p *Pool[T]) Go(job T) {
	p.mu.Lock()
	if n := len(p.parked); n > 0 {
		w := p.parked[n-1]
		p.parked[n-1] = nil
		p.parked = p.parked[:n-1]
		p.mu.Unlock()
		w.next <- job // never blocks: a parked worker's mailbox is empty
		return
	}
	p.started++
	p.mu.Unlock()
	p.start(func() { p.work(job) })
}

// work is a worker goroutine: the job, then park and wait for the next.
func (p *Pool[T]) work(job T) {
	w := &worker[T]{next: make(chan T, 1)}
	for {
		p.run(job)
		var zero T
		job = zero // do not keep the last job's memory while parked
		if !p.park(w) {
			return
		}
		var ok bool
		if job, ok = <-w.next; !ok {
			return
		}
	}
}

// park adds w to the parked workers; false after Close (w exits).
func (p *Pool[T]) park(w *worker[T]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	w.epoch = p.epoch
	p.parked = append(p.parked, w)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.idle, p.retire)
	}
	return true
}

// retire runs every Idle period while workers are parked: it dismisses those
// parked before the previous sweep (unused for at least Idle). parked is
// ordered by parking time, so they are at its start.
func (p *Pool[T]) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
	n := 0
	for n < len(p.parked) && p.parked[n].epoch+1 < p.epoch {
		close(p.parked[n].next)
		n++
	}
	k := copy(p.parked, p.parked[n:])
	clear(p.parked[k:])
	p.parked = p.parked[:k]
	if len(p.parked) > 0 && !p.closed {
		p.sweep.Reset(p.idle)
	} else {
		p.sweep = nil
	}
}

// Close dismisses the parked workers; busy workers exit when their job
// returns instead of parking. It is idempotent.
func (p *Pool[T]) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, w := range p.parked {
		close(w.next)
	}
	clear(p.parked)
	p.parked = nil
}

// Stats is a snapshot of a Pool's workers.
type Stats struct {
	Parked  int // workers waiting for a job
	Started int // goroutines started since New
}

// Stats returns the pool's current counts (tests, metrics).
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Parked: len(p.parked), Started: p.started}
}
