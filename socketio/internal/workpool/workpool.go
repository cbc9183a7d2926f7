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
// Handing a job to a parked worker and parking take no lock: the parked
// workers are a lock-free stack (a compare-and-swap on a versioned head),
// so the owners that wake at once (every receiver of a broadcast wants a
// writer) and the workers that park meanwhile do not queue on one mutex,
// which they did twice per wake. The pool's mutex serves only the slow
// paths: a new worker's slot, the sweep timer.
//
// The pool does not order or serialise jobs: an owner that must be served
// by one worker at a time (all its users do) keeps a "running" flag of its
// own and submits a job only when it sets it.
package workpool

import (
	"sync"
	"sync/atomic"
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

	// head is the stack of parked workers: the low 32 bits are the slot of
	// the top worker plus one (0: none parked), the high 32 bits a version
	// bumped by every change, so that a stale compare-and-swap fails even
	// when the same worker is on top again (ABA).
	head     atomic.Uint64
	parked   atomic.Int64  // workers on the stack (Stats)
	started  atomic.Int64  // goroutines started (Stats)
	epoch    atomic.Uint64 // sweeps so far
	closed   atomic.Bool   // Close: workers exit instead of parking
	sweeping atomic.Bool   // the sweep timer is armed

	mu    sync.Mutex                                  // slots and the sweep timer; never on the hand-off path
	slots atomic.Pointer[[]atomic.Pointer[worker[T]]] // worker by slot; grown by copy under mu
	free  []uint32                                    // slots of exited workers, under mu
	sweep *time.Timer                                 // runs retire while workers are parked; under mu
}

// worker is a goroutine's mailbox and its place in the stack.
type worker[T any] struct {
	job   chan T        // capacity 1; closed to dismiss the worker
	next  atomic.Uint32 // slot+1 of the worker below it on the stack
	epoch uint64        // Pool.epoch when it parked
	slot  uint32
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
	if w := p.pop(); w != nil {
		w.job <- job // never blocks: a parked worker's mailbox is empty
		return
	}
	p.started.Add(1)
	p.start(func() { p.work(job) })
}

// work is a worker goroutine: the job, then park and wait for the next.
func (p *Pool[T]) work(job T) {
	w := p.newWorker()
	defer p.freeWorker(w)
	for {
		p.run(job)
		var zero T
		job = zero // do not keep the last job's memory while parked
		if !p.park(w) {
			return
		}
		var ok bool
		if job, ok = <-w.job; !ok {
			return
		}
	}
}

func pack(slot uint32, version uint64) uint64 { return version<<32 | uint64(slot) }

// worker returns the worker of slot (slot+1 as kept in head and next).
func (p *Pool[T]) worker(slot1 uint32) *worker[T] {
	return (*p.slots.Load())[slot1-1].Load()
}

// pop takes the top parked worker off the stack; nil when none is parked.
func (p *Pool[T]) pop() *worker[T] {
	for {
		h := p.head.Load()
		top := uint32(h)
		if top == 0 {
			return nil
		}
		// A worker popped meanwhile may have exited (its slot emptied or
		// reused): then head has moved on and the swap below fails.
		w := p.worker(top)
		if w == nil {
			continue
		}
		if p.head.CompareAndSwap(h, pack(w.next.Load(), h>>32+1)) {
			p.parked.Add(-1)
			return w
		}
	}
}

// push puts the chain first…last (linked by next) on top of the stack.
// The count follows the CAS, so that Stats never reports a worker parked
// that a Go cannot pop yet (a pop may briefly run it below zero instead).
func (p *Pool[T]) push(first, last *worker[T], n int64) {
	for {
		h := p.head.Load()
		last.next.Store(uint32(h))
		if p.head.CompareAndSwap(h, pack(first.slot+1, h>>32+1)) {
			p.parked.Add(n)
			return
		}
	}
}

// popAll empties the stack and returns its former top (the rest linked by
// next), which the caller now owns.
func (p *Pool[T]) popAll() *worker[T] {
	for {
		h := p.head.Load()
		if uint32(h) == 0 {
			return nil
		}
		if p.head.CompareAndSwap(h, pack(0, h>>32+1)) {
			return p.worker(uint32(h))
		}
	}
}

// newWorker gives a starting goroutine its mailbox and a slot.
func (p *Pool[T]) newWorker() *worker[T] {
	w := &worker[T]{job: make(chan T, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		w.slot = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		var cur []atomic.Pointer[worker[T]]
		if sp := p.slots.Load(); sp != nil {
			cur = *sp
		}
		w.slot = uint32(len(cur))
		var grown []atomic.Pointer[worker[T]]
		if len(cur) < cap(cur) {
			// Extended in place: readers holding the shorter header
			// never index the new slot (it was in no head yet).
			grown = cur[:len(cur)+1]
		} else {
			grown = make([]atomic.Pointer[worker[T]], len(cur)+1, max(2*len(cur), 8))
			for i := range cur {
				grown[i].Store(cur[i].Load())
			}
		}
		p.slots.Store(&grown)
	}
	(*p.slots.Load())[w.slot].Store(w)
	return w
}

// freeWorker releases the slot of an exiting worker (not on the stack).
func (p *Pool[T]) freeWorker(w *worker[T]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	(*p.slots.Load())[w.slot].Store(nil)
	p.free = append(p.free, w.slot)
}

// park adds w to the parked workers; false after Close (w exits).
func (p *Pool[T]) park(w *worker[T]) bool {
	if p.closed.Load() {
		return false
	}
	w.epoch = p.epoch.Load()
	p.push(w, w, 1)
	if p.closed.Load() {
		// Close ran between the check and the push: dismiss what it
		// may have missed (w included; it exits on its closed mailbox).
		p.dismiss(p.popAll(), 0)
		return true
	}
	if !p.sweeping.Load() && p.sweeping.CompareAndSwap(false, true) {
		p.armSweep()
	}
	return true
}

func (p *Pool[T]) armSweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.idle, p.retire)
		return
	}
	p.sweep.Reset(p.idle)
}

// dismiss closes the mailboxes of the chain from w on whose epoch+1 is
// before epoch (all when epoch is 0) and returns the others, in order,
// relinked, with their count.
func (p *Pool[T]) dismiss(w *worker[T], epoch uint64) (first, last *worker[T], n int64) {
	for w != nil {
		var next *worker[T]
		if s := w.next.Load(); s != 0 {
			next = p.worker(s)
		}
		if epoch == 0 || w.epoch+1 < epoch {
			p.parked.Add(-1)
			close(w.job)
		} else {
			if last != nil {
				last.next.Store(w.slot + 1)
			} else {
				first = w
			}
			last = w
			n++
		}
		w = next
	}
	return first, last, n
}

// retire runs every Idle period while workers are parked: it dismisses those
// parked before the previous sweep (unused for at least Idle). It takes the
// whole stack for a moment (a Go meanwhile starts a goroutine) and puts
// back the others, most recently parked on top as before.
func (p *Pool[T]) retire() {
	epoch := p.epoch.Add(1)
	if first, last, n := p.dismiss(p.popAll(), epoch); n > 0 {
		p.parked.Add(-n) // push counts them again
		p.push(first, last, n)
	}
	if p.closed.Load() {
		p.dismiss(p.popAll(), 0)
	}
	p.sweeping.Store(false)
	if p.head.Load()&(1<<32-1) != 0 && !p.closed.Load() && p.sweeping.CompareAndSwap(false, true) {
		p.armSweep()
	}
}

// Close dismisses the parked workers; busy workers exit when their job
// returns instead of parking. It is idempotent.
func (p *Pool[T]) Close() {
	p.closed.Store(true)
	p.dismiss(p.popAll(), 0)
}

// Stats is a snapshot of a Pool's workers.
type Stats struct {
	Parked  int // workers waiting for a job
	Started int // goroutines started since New
}

// Stats returns the pool's current counts (tests, metrics).
func (p *Pool[T]) Stats() Stats {
	return Stats{Parked: int(p.parked.Load()), Started: int(p.started.Load())}
}
