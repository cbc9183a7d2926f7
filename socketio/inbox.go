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
	taskDrain // Shutdown: disconnect once the queued events have run
)

type task struct {
	kind   taskKind
	p      *parser.Packet
	reason string
	size   int64     // payload bytes accounted against inbox.maxBytes
	at     time.Time // when the packet arrived (events), for Args.ReceivedAt
}

// packetSize is what an inbound packet weighs in its socket's inbox.
func packetSize(p *parser.Packet) int64 {
	n := int64(len(p.Data))
	for _, b := range p.Attachments {
		n += int64(len(b))
	}
	return n
}

// inbox is a socket's bounded FIFO of inbound work. A worker from the
// server's pool (Server.workers) is assigned when the queue becomes
// non-empty (running set) and released when it is empty, so an idle socket
// costs no goroutine and a busy one exactly one: an inbox is drained by at
// most one worker at a time, whichever goroutine that is, which keeps the
// socket's order.
//
// push blocks while the queue is full (InboundQueue tasks or InboundBytes
// of payload): this pauses the connection's OnMessage, i.e. reading from
// that connection only (back-pressure). ACKs
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
	expiry   *time.Timer // armed while events wait behind a running task (Config.EventDeadline)
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
	if b.running {
		b.armLocked()
	}
	b.startLocked()
	b.mu.Unlock()
}

// armLocked arms the expiry timer for the oldest queued event, if the
// server has an EventDeadline, the namespace an ExpiredHandler and no timer
// is armed.
func (b *inbox) armLocked() {
	d := b.s.ns.srv.cfg.EventDeadline
	if d <= 0 || b.expiry != nil || b.len() == 0 || b.q[b.head].kind != taskEvent || b.s.ns.expiredHandler() == nil {
		return
	}
	b.expiry = time.AfterFunc(time.Until(b.q[b.head].at.Add(d)), b.expire)
}

// expire takes the expired events off the head of the queue (arrival
// order: the oldest first, and none behind one that has not expired),
// re-arms for the next one, and hands them to the ExpiredHandler.
func (b *inbox) expire() {
	d := b.s.ns.srv.cfg.EventDeadline
	now := time.Now()
	var expired []task
	b.mu.Lock()
	b.expiry = nil
	for b.len() > 0 && b.q[b.head].kind == taskEvent && !now.Before(b.q[b.head].at.Add(d)) {
		expired = append(expired, b.popLocked())
	}
	if len(expired) > 0 {
		b.notFull.Broadcast()
	}
	if b.running && !b.closed {
		b.armLocked()
	}
	b.mu.Unlock()
	for _, t := range expired {
		b.s.safe(func() { b.s.expireEvent(t.p) })
	}
}

// closeWith drops the queued work (events of a disconnected socket are not
// dispatched, as in Node), queues t as the last task and releases blocked
// pushers.
func (b *inbox) closeWith(t task) {
	b.mu.Lock()
	b.closed = true
	if b.expiry != nil {
		b.expiry.Stop()
		b.expiry = nil
	}
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

// closeAfter takes no more tasks and queues t behind the queued ones
// (Shutdown's drain: the events already read still run).
func (b *inbox) closeAfter(t task) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	b.q = append(b.q, t)
	b.startLocked()
	b.notFull.Broadcast()
}

func (b *inbox) startLocked() {
	if !b.running {
		b.running = true
		b.s.ns.srv.workers.Go(b)
	}
}

// popLocked takes the head task off the queue, compacting it now and then.
func (b *inbox) popLocked() task {
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
	return t
}

func (b *inbox) drain() {
	for {
		b.mu.Lock()
		if b.len() == 0 {
			// An idle socket keeps no queue: the next burst allocates
			// one, sized to it.
			b.running = false
			b.q = nil
			b.head = 0
			b.mu.Unlock()
			return
		}
		t := b.popLocked()
		b.notFull.Signal()
		b.armLocked()
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
		s.safe(func() { s.runEvent(t.p, t.at) })
	case taskClose:
		s.runClose(t.reason)
	case taskDrain:
		// A close of the transport meanwhile replaced this task (closeWith).
		if s.state.CompareAndSwap(stateConnected, stateClosing) {
			s.end()
			s.client.remove(s)
			s.runClose(t.reason)
		}
	}
}
