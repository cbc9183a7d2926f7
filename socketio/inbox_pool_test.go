package socketio

import (
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestInbox_WorkersFromServerPool: the inboxes of a server's sockets are
// drained by the server's pool of parked workers: events that each find
// their socket's inbox empty, on one socket or on several, reuse one
// goroutine, and Shutdown dismisses the parked workers. (The pool itself is
// tested in internal/workpool.)
func TestInbox_WorkersFromServerPool(t *testing.T) {
	srv := New(Config{})
	handled := make(chan string)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("e", func(s *Socket, _ Args, _ AckFunc) { handled <- s.ID() })
		handled <- "connected"
	})
	parked := func() error {
		if st := srv.workers.Stats(); st.Parked != 1 || st.Started != 1 {
			return fmt.Errorf("pool %+v, want 1 parked worker, 1 started", st)
		}
		return nil
	}
	var clients []*client
	for i := range 3 {
		cl := srv.newClient(&fakeConn{id: fmt.Sprint("c", i)})
		cl.OnMessage([]byte("0"), false)
		<-handled
		testenv.WaitFor(t, 5*time.Second, parked)
		clients = append(clients, cl)
	}
	for i := range 30 {
		clients[i%3].OnMessage([]byte(`2["e"]`), false)
		<-handled
		testenv.WaitFor(t, 5*time.Second, parked)
	}
	if err := srv.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := srv.workers.Stats(); st.Parked != 0 {
		t.Fatalf("after Shutdown: %+v, want no parked worker", st)
	}
}
