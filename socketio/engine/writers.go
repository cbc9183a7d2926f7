package engine

import "time"

// writerIdle is how long a parked writer goroutine waits for a connection
// to write before it exits (between one and two periods).
const writerIdle = time.Second

// A WebSocket connection's writer runs only while its queue is non-empty.
// Instead of a new goroutine per burst (creation, exit and the Server.mu
// bookkeeping of goTracked for every ack reply), a writer that has drained
// its connection parks and the next connection that needs a writer takes
// it. Still one writer per connection at a time (Conn.writing); parked
// writers belong to no connection, count as engine goroutines for
// Shutdown (which dismisses them) and exit after writerIdle unused.
type parkedWriter struct {
	next  chan writerJob // capacity 1; the zero job dismisses the writer
	epoch uint64         // Server.wEpoch when it parked
}

type writerJob struct {
	c  *Conn
	wc *wsConn
}

// startWriter runs c.runWriter(wc) on a parked writer or a new tracked
// goroutine. Called with c.mu held (lock order Conn.mu → Server.mu).
func (s *Server) startWriter(c *Conn, wc *wsConn) {
	s.mu.Lock()
	if n := len(s.writers); n > 0 {
		w := s.writers[n-1]
		s.writers[n-1] = nil
		s.writers = s.writers[:n-1]
		s.mu.Unlock()
		w.next <- writerJob{c, wc} // never blocks: a parked writer's channel is empty
		return
	}
	s.running++
	s.mu.Unlock()
	go s.writerLoop(writerJob{c, wc})
}

func (s *Server) writerLoop(j writerJob) {
	defer s.trackedDone()
	w := &parkedWriter{next: make(chan writerJob, 1)}
	for j.c != nil {
		j.c.runWriter(j.wc)
		j = writerJob{}
		if !s.parkWriter(w) {
			return
		}
		j = <-w.next
	}
}

// parkWriter adds w to the parked writers; false when shutting down (the
// writer exits).
func (s *Server) parkWriter(w *parkedWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	w.epoch = s.wEpoch
	s.writers = append(s.writers, w)
	if s.wSweep == nil {
		s.wSweep = time.AfterFunc(writerIdle, s.retireWriters)
	}
	return true
}

// retireWriters runs every writerIdle while writers are parked and
// dismisses those parked before the previous run. s.writers is ordered by
// parking time, so they are at its start.
func (s *Server) retireWriters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wEpoch++
	n := 0
	for n < len(s.writers) && s.writers[n].epoch+1 < s.wEpoch {
		s.writers[n].next <- writerJob{}
		n++
	}
	k := copy(s.writers, s.writers[n:])
	clear(s.writers[k:])
	s.writers = s.writers[:k]
	if len(s.writers) > 0 {
		s.wSweep.Reset(writerIdle)
	} else {
		s.wSweep = nil
	}
}

// dismissWritersLocked ends every parked writer (Shutdown).
func (s *Server) dismissWritersLocked() {
	for _, w := range s.writers {
		w.next <- writerJob{}
	}
	clear(s.writers)
	s.writers = nil
}
