package socketio

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestSocket_ContextCancelledOnDisconnect: the socket's Context (created
// lazily) is live while connected and cancelled on disconnect, whether it
// was first asked for before the disconnect or only after it.
func TestSocket_ContextCancelledOnDisconnect(t *testing.T) {
	sockets := make(chan *Socket, 2)
	liveCtx := make(chan context.Context, 2)
	_, url := newTestServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnection(func(s *Socket) {
			sockets <- s
			s.On("ctx", func(s *Socket, _ Args, _ AckFunc) { liveCtx <- s.Context() })
		})
	})
	c1, _ := connect(t, url, "/", nil)
	c2, _ := connect(t, url, "/", nil)
	s1, s2 := <-sockets, <-sockets
	if err := c1.Emit("/", "ctx"); err != nil {
		t.Fatal(err)
	}
	var early context.Context
	select {
	case early = <-liveCtx:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not run")
	}
	if early.Err() != nil {
		t.Fatalf("context of a connected socket: %v", early.Err())
	}
	c1.Close()
	c2.Close()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if s1.Connected() || s2.Connected() {
			return fmt.Errorf("still connected")
		}
		return nil
	})
	for name, ctx := range map[string]context.Context{"asked before": early, "asked after": s2.Context()} {
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("%s disconnect: %v", name, ctx.Err())
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s disconnect: context not cancelled", name)
		}
	}
	if s1.Context() != early {
		t.Error("Context returned a different context on a second call")
	}
}
