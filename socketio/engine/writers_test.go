package engine

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestWriters_ParkedAndRetired: a connection's bursts reuse one parked
// writer goroutine; it exits after writerIdle unused. Counted in the
// writers' pool, not in the engine's goroutines: the connection's reader
// may park in epoll or resume on a new goroutine meanwhile (idlepoll).
func TestWriters_ParkedAndRetired(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead() // open
	rec := ts.nextConn(t)
	started := 0 // writers started once the first burst's writer parked
	for i := range 50 {
		if err := rec.c.Send(TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if got := c.mustRead(); got != "4"+fmt.Sprint(i) {
			t.Fatalf("read %q, want %q", got, "4"+fmt.Sprint(i))
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if st := ts.eng.writers.Stats(); st.Parked < 1 {
				return fmt.Errorf("burst %d: %+v, want a parked writer", i, st)
			}
			return nil
		})
		if i == 0 {
			started = ts.eng.writers.Stats().Started
		}
	}
	// A burst may find the previous writer still on its way to park and
	// start another (never one per burst).
	if st := ts.eng.writers.Stats(); st.Started > started+1 {
		t.Fatalf("writers %+v after 50 bursts, %d started after the first", st, started)
	}
	testenv.WaitFor(t, 5*writerIdle, func() error {
		if st := ts.eng.writers.Stats(); st.Parked != 0 {
			return fmt.Errorf("%+v: the writers did not retire", st)
		}
		return nil
	})
}

// TestWriters_ConcurrentWakes: many connections woken at once from several
// goroutines (broadcast-like bursts whose writers park as the next burst
// wakes them): each client reads every message once, in each sender's
// order, and once the queues are empty no connection holds a writer.
func TestWriters_ConcurrentWakes(t *testing.T) {
	const conns, senders, bursts = 20, 4, 100
	ts := newTestServer(t, Config{PingInterval: time.Hour})
	clients := make([]*wsClient, conns)
	recs := make([]*recorder, conns)
	for i := range clients {
		clients[i] = ts.dialWS(t, "transport=websocket")
		clients[i].mustRead() // open
		recs[i] = ts.nextConn(t)
	}
	errs := make(chan error, conns)
	for _, c := range clients {
		go func() {
			next := make([]int, senders)
			for range senders * bursts {
				msg, _, err := c.read()
				if err != nil {
					errs <- err
					return
				}
				var s, b int
				if _, err := fmt.Sscanf(msg, "4%d-%d", &s, &b); err != nil || b != next[s] {
					errs <- fmt.Errorf("read %q, want burst %d of sender %d next", msg, next[s], s)
					return
				}
				next[s]++
			}
			errs <- nil
		}()
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for b := range bursts {
				m := TextMessage(fmt.Sprintf("%d-%d", s, b))
				for _, r := range recs {
					if err := r.c.Send(m); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		for i, r := range recs {
			r.c.mu.Lock()
			writing := r.c.writing
			r.c.mu.Unlock()
			if writing {
				return fmt.Errorf("connection %d still has a writer with nothing to write", i)
			}
		}
		if st := ts.eng.writers.Stats(); st.Parked > st.Started {
			return fmt.Errorf("writers %+v: more parked than started", st)
		}
		return nil
	})
}

// TestWriters_SlowPeerAside: a peer that reads nothing while its queue
// exceeds what its socket takes is moved to a writer of its own; the other
// connections, flushed by the same flushers, still get every message.
func TestWriters_SlowPeerAside(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: time.Hour, SendQueueBytes: 256 << 20})
	slow := ts.dialWS(t, "transport=websocket")
	slow.mustRead()
	slowRec := ts.nextConn(t)
	fast := ts.dialWS(t, "transport=websocket")
	fast.mustRead()
	fastRec := ts.nextConn(t)
	big := TextMessage(strings.Repeat("x", 1<<20))
	for i := range 64 { // 64 MB: far more than the slow socket takes
		if err := slowRec.c.Send(big); err != nil {
			t.Fatal(err)
		}
		if err := fastRec.c.Send(TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if got := fast.mustRead(); got != "4"+fmt.Sprint(i) {
			t.Fatalf("fast peer read %q, want 4%d", got, i)
		}
	}
	for i := range 64 {
		if got := slow.mustRead(); len(got) != 1<<20+1 {
			t.Fatalf("slow peer message %d: %d bytes", i, len(got))
		}
	}
}
