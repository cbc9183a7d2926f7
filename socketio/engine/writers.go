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
type writerJob struct {
	c  *Conn
	wc *wsConn
}

func (j writerJob) run() { j.c.runWriter(j.wc) }

func newWriterPool(s *Server) *workpool.Pool[writerJob] {
	return workpool.New(writerJob.run, workpool.Config{Idle: writerIdle, Start: s.goTracked})
}

// startWriter runs c.runWriter(wc) on a parked writer or a new tracked
// goroutine. Called with c.mu held (lock order Conn.mu → Server.mu, which
// goTracked takes when no writer is parked).
func (s *Server) startWriter(c *Conn, wc *wsConn) { s.writers.Go(writerJob{c, wc}) }

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

// rawFrame returns a message whose WebSocket form is b, already framed: the
// unwritten end of a frame a direct write wrote in part.
func rawFrame(b []byte) *Message {
	m := &Message{typ: typeMessage, wsFrame: b}
	m.wsOnce.Do(func() {})
	return m
}
