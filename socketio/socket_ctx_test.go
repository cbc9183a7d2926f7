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

// TestSocket_ContextDerived: contexts derived from a socket's Context and
// context.AfterFunc callbacks end with the socket; a stopped AfterFunc
// never runs; after the end, a new AfterFunc runs at once.
func TestSocket_ContextDerived(t *testing.T) {
	sockets := make(chan *Socket, 1)
	_, url := newTestServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	})
	c, _ := connect(t, url, "/", nil)
	s := <-sockets
	child, cancel := context.WithTimeout(s.Context(), time.Hour)
	defer cancel()
	ran := make(chan struct{})
	context.AfterFunc(s.Context(), func() { close(ran) })
	stopped := context.AfterFunc(s.Context(), func() { t.Error("stopped AfterFunc ran") })
	if !stopped() {
		t.Fatal("stop before the end reported false")
	}
	if child.Err() != nil {
		t.Fatalf("child of a connected socket: %v", child.Err())
	}
	c.Close()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("derived context not cancelled on disconnect")
	}
	if !errors.Is(child.Err(), context.Canceled) || !errors.Is(context.Cause(s.Context()), context.Canceled) {
		t.Fatalf("child err %v, cause %v", child.Err(), context.Cause(s.Context()))
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc did not run on disconnect")
	}
	late := make(chan struct{})
	context.AfterFunc(s.Context(), func() { close(late) })
	select {
	case <-late:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc after the end did not run")
	}
}

// TestShutdown_EndsContextsOfOverrunningHandlers: a handler still running
// when Shutdown's deadline passes has its socket's Context cancelled.
func TestShutdown_EndsContextsOfOverrunningHandlers(t *testing.T) {
	running := make(chan struct{})
	released := make(chan error, 1)
	srv, url := newTestServer(t, Config{}, func(srv *Server) {
		srv.Of("/").OnConnection(func(s *Socket) {
			s.On("stuck", func(s *Socket, _ Args, _ AckFunc) {
				close(running)
				select {
				case <-s.Context().Done():
					released <- nil
				case <-time.After(10 * time.Second):
					released <- fmt.Errorf("context not cancelled")
				}
			})
		})
	})
	c, _ := connect(t, url, "/", nil)
	if err := c.Emit("/", "stuck"); err != nil {
		t.Fatal(err)
	}
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := <-released; err != nil {
		t.Fatal(err)
	}
}
