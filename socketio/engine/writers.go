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
