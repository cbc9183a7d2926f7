package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func (s *Server) parkedWriters() int { return s.writers.Stats().Parked }

// TestWriters_ParkedAndRetired: a connection's bursts reuse one parked
// writer goroutine; it exits after writerIdle unused.
func TestWriters_ParkedAndRetired(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead() // open
	rec := ts.nextConn(t)
	before := ts.eng.goroutines()
	for i := range 50 {
		if err := rec.c.Send(TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if got := c.mustRead(); got != "4"+fmt.Sprint(i) {
			t.Fatalf("read %q, want %q", got, "4"+fmt.Sprint(i))
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n := ts.eng.parkedWriters(); n != 1 {
				return fmt.Errorf("%d parked writers, want 1", n)
			}
			return nil
		})
	}
	if n := ts.eng.goroutines(); n != before {
		t.Fatalf("engine goroutines %d after 50 bursts, %d before", n, before)
	}
	testenv.WaitFor(t, 5*writerIdle, func() error {
		if n := ts.eng.parkedWriters(); n != 0 {
			return fmt.Errorf("%d parked writers", n)
		}
		if n := ts.eng.goroutines(); n != before-1 {
			return fmt.Errorf("engine goroutines %d, want %d (the writer retired)", n, before-1)
		}
		return nil
	})
}

func (s *Server) goroutines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}
