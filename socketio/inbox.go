package socketio

import (
	"errors"
	"sync"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// errServer refuses a connection whose middleware panicked.
var errServer = errors.New("server error")

type taskKind uint8

const (
	taskConnect taskKind = iota
	taskEvent
	taskClose
)

type task struct {
	kind   taskKind
	p      *parser.Packet
	reason string
	size   int64 // payload bytes accounted against inbox.maxBytes
}

// packetSize is what an inbound packet weighs in its socket's inbox.
func packetSize(p *parser.Packet) int64 {
	n := int64(len(p.Data))
	for _, b := range p.Attachments {
		n += int64(len(b))
	}
	return n
}

// inbox is a socket's bounded FIFO of inbound work. A worker (see
// workerPool) is assigned when the queue becomes non-empty and released when
// it is empty, so an idle socket costs no goroutine and a busy one exactly one.
//
// push blocks while the queue is full (InboundQueue tasks or InboundBytes
// of payload): this pauses the connection's
// OnMessage, i.e. reading from that connection only (back-pressure). ACKs
// never go through the inbox, but an ACK that arrives behind a blocked push
// waits for it too; an EmitWithAck in a handler of a flooded socket can
// therefore time out, never deadlock.
type inbox struct {
	s        *Socket
	max      int
	maxBytes int64
	mu       sync.Mutex
	notFull  sync.Cond
	q        []task
	head     int
	bytes    int64 // sum of the queued tasks' size
	running  bool
	closed   bool
}

// workerIdle is how long a parked worker waits for work before it exits
// (between one and two periods).
const workerIdle = time.Second

// workerPool runs the drains of the server's socket inboxes. A worker whose
// inbox is empty parks in the pool instead of exiting, and the next inbox
// that needs a worker takes a parked one: a fresh goroutine starts on a 2 KB
// stack that encoding/json outgrows, so starting one per event burst paid
// for growing (copying) the stack on nearly every event. Parked workers
// cost nothing per socket and exit after workerIdle without work.
//
// Per-socket order is unaffected: an inbox is drained by at most one worker
// at a time (inbox.running), whichever goroutine that is.
type workerPool struct {
	mu      sync.Mutex
	idle    []*worker // parked; the most recently parked last
	epoch   uint64    // sweeps so far
	sweep   *time.Timer
	closed  bool // Shutdown: workers exit instead of parking
	spawned int  // goroutines started (tests)
}

type worker struct {
	next  chan *inbox // capacity 1; nil tells the worker to exit
	epoch uint64      // pool epoch when it parked
}

// start has b drained by a parked worker, or by a new goroutine.
func (p *workerPool) start(b *inbox) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.next <- b // never blocks: a parked worker's channel is empty
		return
	}
	p.spawned++
	p.mu.Unlock()
	go p.run(b)
}

func (p *workerPool) run(b *inbox) {
	w := &worker{next: make(chan *inbox, 1)}
	for b != nil {
		b.drain()
		if !p.park(w) {
			return
		}
		b = <-w.next
	}
}

func (p *workerPool) park(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	w.epoch = p.epoch
	p.idle = append(p.idle, w)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(workerIdle, p.retire)
	}
	return true
}

// retire runs every workerIdle while workers are parked: it dismisses those
// parked before the previous sweep (idle for at least workerIdle). idle is
// ordered by parking time, so they are at its start.
func (p *workerPool) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
	n := 0
	for n < len(p.idle) && p.idle[n].epoch+1 < p.epoch {
		p.idle[n].next <- nil
		n++
	}
	k := copy(p.idle, p.idle[n:])
	clear(p.idle[k:])
	p.idle = p.idle[:k]
	if len(p.idle) > 0 && !p.closed {
		p.sweep.Reset(workerIdle)
	} else {
		p.sweep = nil
	}
}

// close dismisses the parked workers; workers still draining exit when done.
func (p *workerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, w := range p.idle {
		w.next <- nil
	}
	clear(p.idle)
	p.idle = nil
}

func (b *inbox) init(s *Socket, max int, maxBytes int64) {
	b.s = s
	b.max = max
	b.maxBytes = maxBytes
	b.notFull.L = &b.mu
}

func (b *inbox) len() int { return len(b.q) - b.head }

// fullLocked reports whether a task of size bytes must wait. A task always
// fits into an empty inbox, whatever its size.
func (b *inbox) fullLocked(size int64) bool {
	return b.len() >= b.max || (b.bytes > 0 && b.bytes+size > b.maxBytes)
}

func (b *inbox) queuedBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

func (b *inbox) push(t task) {
	b.mu.Lock()
	for b.fullLocked(t.size) && !b.closed {
		b.notFull.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.q = append(b.q, t)
	b.bytes += t.size
	b.startLocked()
	b.mu.Unlock()
}

// closeWith drops the queued work (events of a disconnected socket are not
// dispatched, as in Node), queues t as the last task and releases blocked
// pushers.
func (b *inbox) closeWith(t task) {
	b.mu.Lock()
	b.closed = true
	// Keep a pending connect task: it must run to release its resources.
	kept := b.q[:0]
	for _, x := range b.q[b.head:] {
		if x.kind == taskConnect {
			kept = append(kept, x)
		}
	}
	clear(b.q[len(kept):])
	b.q = append(kept, t)
	b.head = 0
	b.bytes = 0 // connect and close tasks weigh nothing
	b.startLocked()
	b.notFull.Broadcast()
	b.mu.Unlock()
}

func (b *inbox) startLocked() {
	if !b.running {
		b.running = true
		b.s.ns.srv.workers.start(b)
	}
}

func (b *inbox) drain() {
	for {
		b.mu.Lock()
		if b.len() == 0 {
			b.running = false
			b.q = b.q[:0]
			b.head = 0
			b.mu.Unlock()
			return
		}
		t := b.q[b.head]
		b.q[b.head] = task{}
		b.head++
		b.bytes -= t.size
		if b.head > 64 && b.head*2 > len(b.q) {
			n := copy(b.q, b.q[b.head:])
			clear(b.q[n:])
			b.q = b.q[:n]
			b.head = 0
		}
		b.notFull.Signal()
		b.mu.Unlock()
		b.run(t)
	}
}

func (b *inbox) run(t task) {
	s := b.s
	switch t.kind {
	case taskConnect:
		if !s.safe(s.runConnect) {
			switch s.state.Load() {
			case stateConnecting:
				s.refuse(errServer)
			case stateClosed:
				// Closed under the middleware, which then panicked:
				// nobody else releases a socket that never connected.
				s.finish()
			}
		}
	case taskEvent:
		s.safe(func() { s.runEvent(t.p) })
	case taskClose:
		s.runClose(t.reason)
	}
}
