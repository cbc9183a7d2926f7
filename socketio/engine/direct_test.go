package engine

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio/internal/workpool"
)

// countWriterJobs makes the engine count the bursts handed to its writers.
func countWriterJobs(s *Server) *atomic.Int64 {
	var n atomic.Int64
	s.writers = workpool.New(func(j writerJob) { n.Add(1); j.run() }, workpool.Config{Idle: writerIdle, Start: s.goTracked})
	return &n
}

// TestSendDirect_NoWriter: a reply to an idle WebSocket is written by the
// caller, with no writer burst; replies mixed with Sends from one
// goroutine arrive in order.
func TestSendDirect_NoWriter(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: time.Hour})
	jobs := countWriterJobs(ts.eng)
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead() // open
	rec := ts.nextConn(t)
	waitIdle(t, rec.c)
	before := jobs.Load()
	for i := range 20 {
		if err := rec.c.SendDirect(TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if got := c.mustRead(); got != "4"+fmt.Sprint(i) {
			t.Fatalf("read %q, want 4%d", got, i)
		}
	}
	if n := jobs.Load() - before; n != 0 {
		t.Errorf("%d writer bursts for 20 replies to an idle connection, want 0", n)
	}
	for i := range 200 {
		m := TextMessage(fmt.Sprint(i))
		var err error
		if i%3 == 0 {
			err = rec.c.Send(m)
		} else {
			err = rec.c.SendDirect(m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if got := c.mustRead(); got != "4"+fmt.Sprint(i) {
			t.Fatalf("mixed: read %q, want 4%d", got, i)
		}
	}
}

// waitIdle waits until c has no writer (its open packet written).
func waitIdle(t *testing.T, c *Conn) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writing || len(c.queue) > 0 {
			return fmt.Errorf("writer running, %d queued", len(c.queue))
		}
		return nil
	})
}

// TestSendDirect_PartialWrite: a reply larger than the socket takes while
// the peer reads nothing returns at once (never waits for the peer); the
// rest, and a message sent after it, arrive whole and in order once the
// peer reads.
func TestSendDirect_PartialWrite(t *testing.T) {
	const size = 16 << 20
	ts := newTestServer(t, Config{PingInterval: time.Hour, SendQueueBytes: 64 << 20})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	waitIdle(t, rec.c)
	big := strings.Repeat("x", size)
	if err := rec.c.SendDirect(TextMessage(big)); err != nil { // returns although nobody reads
		t.Fatal(err)
	}
	rec.c.mu.Lock()
	queued := len(rec.c.queue) > 0 || rec.c.writing
	rec.c.mu.Unlock()
	if !queued {
		t.Fatal("16 MB went out in one non-blocking write: the test needs a partial write")
	}
	if err := rec.c.SendDirect(TextMessage("after")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.read(); err != nil || len(got) != size+1 || got[0] != '4' || strings.Trim(got[1:], "x") != "" {
		t.Fatalf("big reply: %d bytes, err %v", len(got), err)
	}
	if got := c.mustRead(); got != "4after" {
		t.Fatalf("then %q, want 4after", got)
	}
}
