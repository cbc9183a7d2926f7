package socketio

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestInbox_ExpiredEventsAnsweredAtTheirDeadline: events queued behind a
// handler that overruns are handed to OnExpired once their deadline passes,
// in arrival order, while that handler still runs; they are never run.
func TestInbox_ExpiredEventsAnsweredAtTheirDeadline(t *testing.T) {
	srv := New(Config{EventDeadline: 100 * time.Millisecond})
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(func() { free(); _ = srv.Shutdown(context.Background()) })
	handled := make(chan int, 10)
	ns := srv.Of("/")
	var expired []string
	expiredc := make(chan string, 10)
	var acked []error
	ns.OnExpired(func(s *Socket, event string, ack AckFunc) {
		if err := ack("expired " + event); err != nil {
			acked = append(acked, err)
		}
		expiredc <- event
	})
	ns.OnConnection(func(s *Socket) {
		s.On("e", func(s *Socket, args Args, ack AckFunc) {
			var i int
			_ = args.Decode(0, &i)
			if i == 0 {
				<-release
			}
			handled <- i
			_ = ack("ran")
		})
	})
	fc := &fakeConn{id: "expiry"}
	cl := srv.newClient(fc)
	cl.OnMessage([]byte("0"), false)
	for i := 0; i < 3; i++ {
		cl.OnMessage([]byte(fmt.Sprintf(`2%d["e",%d]`, i+1, i)), false)
	}
	// Both queued events are answered while event 0 still runs.
	for n := 0; n < 2; n++ {
		select {
		case ev := <-expiredc:
			expired = append(expired, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("OnExpired called %d times while event 0 runs, want 2", n)
		}
	}
	if len(acked) != 0 {
		t.Fatalf("ack errors: %v", acked)
	}
	free()
	// A later event runs after event 0; the expired ones never run.
	cl.OnMessage([]byte(`24["e",3]`), false)
	for _, want := range []int{0, 3} {
		if got := <-handled; got != want {
			t.Fatalf("handled %d, want %d (expired events must not run)", got, want)
		}
	}
	if fmt.Sprint(expired) != "[e e]" {
		t.Errorf("expired %q", expired)
	}
}
