package socketio

import (
	"context"
	"testing"
	"time"
)

// TestSocket_MiddlewarePanicAfterClientLeft: a middleware that panics after
// the connection closed under it (e.g. a slow auth lookup that fails once
// the client is gone) must still release the socket: Shutdown waits for
// every socket's lifecycle and would otherwise wait for its context.
func TestSocket_MiddlewarePanicAfterClientLeft(t *testing.T) {
	srv := New(Config{})
	entered := make(chan struct{})
	release := make(chan struct{})
	srv.Of("/").Use(func(s *Socket) error {
		s.Join("pending") // rooms joined in middleware must be released too
		close(entered)
		<-release
		panic("lookup failed")
	})
	cl := srv.newClient(&fakeConn{id: "mw"})
	cl.OnMessage([]byte("0"), false)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("middleware never ran")
	}
	cl.OnClose(ReasonTransportClose) // the connection ends during the middleware
	close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := srv.Of("/").Adapter().RoomSize("pending"); n != 0 {
		t.Errorf("room joined by the refused socket still has %d members", n)
	}
}
