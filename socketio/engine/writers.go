package engine

import (
	"time"

	"github.com/sockgate/sockgate/socketio/internal/workpool"
)

// writerIdle is how long a parked writer goroutine waits for a connection
// to write before it exits (between one and two periods).
const writerIdle = time.Second

// A WebSocket connection's writer runs only while its queue is non-empty.
// Instead of a new goroutine per burst (creation, exit and the Server.mu
// bookkeeping of goTracked for every ack reply), a writer that has drained
// its connection parks in the Server's pool (Server.writers) and the next
// connection that needs a writer takes it. Taking a parked writer and
// parking take no lock (the pool's stack is lock-free): the receivers of a
// broadcast, woken at once, do not queue on the engine's mutex for their
// writers, which each did twice per wake. Still one writer per connection
// at a time (Conn.writing); parked writers belong to no connection, count
// as engine goroutines for Shutdown (started by goTracked; Shutdown
// dismisses them) and exit after writerIdle unused.
//
// A connection on plain TCP is not given a writer goroutine of its own at
// first: startWriter puts it on the Server's dirty stack (lock-free, an
// intrusive list through Conn.nextDirty) and a flusher, a writer not tied
// to a connection, writes the queues of the connections it finds there,
// one non-blocking writev each (flush). Waking one goroutine per receiver
// of a broadcast (a channel send, a switch, a park each) was ~12% of a
// lockstep fan-out's CPU; a flusher serves them all in one run. A queue
// the socket does not take at once (a slow peer) moves to a writer
// goroutine of its own (runWriter), which may wait for the peer without
// holding up the others. At most GOMAXPROCS flushers run at once.
type writerJob struct {
	c  *Conn // nil: a flusher
	wc *wsConn
	s  *Server
}

func (j writerJob) run() {
	if j.c == nil {
		j.s.runFlusher()
		return
	}
	j.c.runWriter(j.wc)
}

func newWriterPool(s *Server) *workpool.Pool[writerJob] {
	return workpool.New(writerJob.run, workpool.Config{Idle: writerIdle, Start: s.goTracked})
}

// startWriter makes c's queue written on wc: by a flusher when wc can take
// non-blocking writes, else by c.runWriter on a parked writer or a new
// tracked goroutine. Called with c.mu held and c.writing set (lock order
// Conn.mu → Server.mu, which goTracked takes when no writer is parked).
func (s *Server) startWriter(c *Conn, wc *wsConn) {
	if wc.directOK() {
		s.markDirty(c)
		return
	}
	s.startBlockingWriter(c, wc)
}

// startBlockingWriter runs c.runWriter(wc), which waits for the peer when
// its socket is full.
func (s *Server) startBlockingWriter(c *Conn, wc *wsConn) {
	s.writers.Go(writerJob{c: c, wc: wc})
}

// markDirty pushes c on the dirty stack and makes sure a flusher will see
// it.
func (s *Server) markDirty(c *Conn) {
	for {
		head := s.dirty.Load()
		c.nextDirty = head
		if s.dirty.CompareAndSwap(head, c) {
			break
		}
	}
	s.wakeFlusher()
}

// wakeFlusher starts a flusher unless maxFlushers run already.
func (s *Server) wakeFlusher() {
	for {
		n := s.flushers.Load()
		if n >= s.maxFlushers {
			return
		}
		if s.flushers.CompareAndSwap(n, n+1) {
			s.writers.Go(writerJob{s: s})
			return
		}
	}
}

// runFlusher flushes dirty connections until the stack is empty. Its exit
// re-checks the stack: a push that saw it still running started none.
func (s *Server) runFlusher() {
	for {
		for {
			top := s.dirty.Swap(nil)
			if top == nil {
				break
			}
			// The stack holds the latest first; flush in the order
			// the connections were marked.
			var list *Conn
			n := 0
			for top != nil {
				next := top.nextDirty
				top.nextDirty = list
				list, top = top, next
				n++
			}
			if n >= 2*minShare && s.flushers.Load() < s.maxFlushers {
				s.share(list, n/2)
			}
			for list != nil {
				c := list
				list = c.nextDirty
				c.nextDirty = nil
				c.flush()
			}
		}
		s.flushers.Add(-1)
		if s.dirty.Load() == nil {
			return
		}
		n := s.flushers.Load()
		if n >= s.maxFlushers || !s.flushers.CompareAndSwap(n, n+1) {
			return // another flusher runs, or will
		}
	}
}

// minShare is the fewest connections a flusher hands to another one.
const minShare = 16

// share gives the connections after the first keep of list (whose last
// flusher-owned link it cuts) back to the dirty stack for another flusher:
// with several CPUs, a broadcast's receivers are written in parallel.
func (s *Server) share(list *Conn, keep int) {
	last := list
	for range keep - 1 {
		last = last.nextDirty
	}
	first := last.nextDirty
	last.nextDirty = nil
	// The given part goes back in reverse (the stack's order), so the
	// taker's reversal restores the marking order.
	var rev *Conn
	for c := first; c != nil; {
		next := c.nextDirty
		c.nextDirty = rev
		rev, c = c, next
	}
	for {
		head := s.dirty.Load()
		first.nextDirty = head // first is rev's last now
		if s.dirty.CompareAndSwap(head, rev) {
			break
		}
	}
	s.wakeFlusher()
}

// flush writes c's queue with one non-blocking writev (a flusher is its
// writer: c.writing is set). What the socket does not take goes to a
// writer goroutine of c's own; messages queued meanwhile put c back on the
// dirty stack.
func (c *Conn) flush() {
	c.mu.Lock()
	wc := c.ws
	if wc == nil || c.state == stateClosed {
		c.writing = false
		c.mu.Unlock()
		return
	}
	if len(c.queue) == 0 || len(c.queue) > maxFlush {
		// The close handshake after the flush, or a long queue: the
		// connection's own writer does it.
		c.s.startBlockingWriter(c, wc)
		c.mu.Unlock()
		return
	}
	q := c.takeQueueLocked()
	c.mu.Unlock()
	rest, err := wc.writeDirect(q)
	if err != nil {
		c.recycle(q)
		c.writeFailed(err)
		return
	}
	if len(rest) > 0 {
		rest = append(rest[:0:0], rest...) // rest may be q itself
	}
	c.recycle(q)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != wc || c.state == stateClosed {
		c.writing = false
		return
	}
	if len(rest) > 0 {
		c.queue = append(rest, c.queue...)
		for _, m := range rest {
			c.nbytes += m.size()
		}
		c.s.startBlockingWriter(c, wc) // the peer is slow: wait on its own
		return
	}
	if len(c.queue) > 0 || c.closeAfterFlush {
		c.s.markDirty(c)
		return
	}
	c.writing = false
}

// writeFailed ends a write that failed: the connection's writer role is
// released and the session closes with the failure's reason.
func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	c.writing = false
	c.mu.Unlock()
	c.closeWith(c.writeFailure(err), false)
	c.finish()
}

// SendDirect is Send for a reply written by the goroutine that produced it
// (an ack, from its socket's worker). When the connection is a WebSocket
// with nothing queued and no writer running, that goroutine is the writer
// for this one batch: it writes msgs at once without waiting (a
// non-blocking writev), so a reply costs no hand-off to a writer goroutine.
// What the socket buffer does not take, or anything queued meanwhile, goes
// to a writer as usual. Otherwise it is Send. It never blocks on the peer.
//
// Only replies take this path: a broadcast's receivers are written by
// their writers, which coalesce what queues up behind a busy connection
// into one writev (written inline, every delivery would be a system call
// of its own).
func (c *Conn) SendDirect(msgs ...*Message) error {
	var size int64
	for _, m := range msgs {
		size += m.size()
	}
	c.mu.Lock()
	wc := c.ws
	if c.state != stateOpen || c.transport != "websocket" || wc == nil || c.writing || len(c.queue) > 0 ||
		len(msgs) > maxDirect || len(msgs) > c.s.cfg.SendQueue || !wc.directOK() {
		c.mu.Unlock()
		return c.Send(msgs...)
	}
	c.writing = true // one writer at a time: this goroutine, until it hands over
	c.inflight = size
	c.mu.Unlock()
	rest, err := wc.writeDirect(msgs)
	c.mu.Lock()
	c.inflight = 0
	if err != nil {
		c.writing = false
		c.mu.Unlock()
		c.closeWith(c.writeFailure(err), false)
		c.finish()
		return nil // queued, then the connection failed: as Send
	}
	if c.ws != wc || c.state == stateClosed {
		c.writing = false
		c.mu.Unlock()
		return nil
	}
	if len(rest) > 0 {
		// The unwritten rest goes first, ahead of what was queued meanwhile
		// (rare: the peer's receive window is full).
		c.queue = append(rest, c.queue...)
		for _, m := range rest {
			c.nbytes += m.size()
		}
	}
	if len(c.queue) > 0 || c.closeAfterFlush {
		c.s.startWriter(c, wc) // c.writing stays set: the writer takes over
	} else {
		c.writing = false
	}
	c.mu.Unlock()
	return nil
}

// maxDirect bounds the messages of one direct write (a reply and its
// binary attachments); more go through a writer.
const maxDirect = 8

// maxFlush bounds the frames of one flush (one writev); a longer queue
// goes to the connection's writer, which writes it in one writev too.
const maxFlush = 64

// rawFrame returns a message whose WebSocket form is b, already framed: the
// unwritten end of a frame a direct write wrote in part.
func rawFrame(b []byte) *Message {
	m := &Message{typ: typeMessage, wsFrame: b}
	m.wsOnce.Do(func() {})
	return m
}
