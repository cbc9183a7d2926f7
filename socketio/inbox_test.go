package socketio

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestInbox_BoundedInBytes: the inbox bounds the bytes of queued events, not
// only their number, so a client flooding a slow handler with large events
// cannot make one socket hold InboundQueue × MaxPayload bytes.
func TestInbox_BoundedInBytes(t *testing.T) {
	srv := New(Config{InboundQueue: 100, InboundBytes: 1000})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	release := make(chan struct{})
	handled := make(chan int, 10)
	connected := make(chan *Socket, 1)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("e", func(s *Socket, args Args, _ AckFunc) {
			var i int
			_ = args.Decode(0, &i)
			if i == 0 {
				<-release
			}
			handled <- i
		})
		connected <- s
	})
	cl := srv.newClient(&fakeConn{id: "bytes"})
	cl.OnMessage([]byte("0"), false)
	sock := <-connected

	pad := strings.Repeat("x", 400)
	returned := make(chan int, 10)
	go func() {
		for i := 0; i < 5; i++ {
			cl.OnMessage([]byte(fmt.Sprintf(`2["e",%d,"%s"]`, i, pad)), false)
			returned <- i
		}
	}()
	// Event 0 runs (blocked); 1 and 2 (~820 bytes) fit in 1000 bytes; 3 does not.
	expectBackPressure(t, returned, 3, func() string {
		return fmt.Sprintf("with %d bytes queued (limit 1000)", sock.in.queuedBytes())
	})
	close(release)
	for want := 0; want < 5; want++ {
		select {
		case got := <-handled:
			if got != want {
				t.Fatalf("handled %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d not handled", want)
		}
	}
	testenv.WaitFor(t, 2*time.Second, func() error {
		if n := sock.in.queuedBytes(); n != 0 {
			return fmt.Errorf("%d bytes still accounted in an empty inbox", n)
		}
		return nil
	})
}

// TestInbox_OversizedEventStillAdmitted: an event larger than InboundBytes
// is admitted into an empty inbox (the byte bound delays, never refuses).
func TestInbox_OversizedEventStillAdmitted(t *testing.T) {
	srv := New(Config{InboundBytes: 10})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	handled := make(chan string, 2)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("big", func(s *Socket, args Args, _ AckFunc) {
			var v string
			_ = args.Decode(0, &v)
			handled <- v
		})
	})
	cl := srv.newClient(&fakeConn{id: "big"})
	cl.OnMessage([]byte("0"), false)
	big := strings.Repeat("y", 100)
	done := make(chan struct{})
	go func() {
		cl.OnMessage([]byte(`2["big","`+big+`"]`), false)
		cl.OnMessage([]byte(`2["big","`+big+`"]`), false)
		close(done)
	}()
	for i := 0; i < 2; i++ {
		select {
		case v := <-handled:
			if v != big {
				t.Fatalf("got %q", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("oversized event never handled")
		}
	}
	<-done
}

// TestInbox_ShrinksWhenDrained: a drained inbox keeps no queue, so an
// idle socket does not hold the largest burst it ever queued.
func TestInbox_ShrinksWhenDrained(t *testing.T) {
	release := make(chan struct{})
	var conns *sockets
	_, url := newTestServer(t, Config{}, func(s *Server) {
		conns = collect(s.Of("/"))
		s.Of("/").On("block", func(*Socket, Args, AckFunc) { <-release })
		s.Of("/").On("ping", func(_ *Socket, _ Args, ack AckFunc) { _ = ack() })
	})
	c, _ := connect(t, url, "/", nil)
	s := conns.next(t)
	if err := c.Emit("/", "block"); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := c.Emit("/", "ping"); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		s.in.mu.Lock()
		defer s.in.mu.Unlock()
		if n := s.in.len(); n < 100 {
			return fmt.Errorf("%d queued", n)
		}
		return nil
	})
	close(release)
	if _, err := c.EmitWithAck(testCtx(t), "/", "ping"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		s.in.mu.Lock()
		defer s.in.mu.Unlock()
		if s.in.running || s.in.q != nil {
			return fmt.Errorf("drained inbox: running %v, queue capacity %d", s.in.running, cap(s.in.q))
		}
		return nil
	})
}
