package socketio

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio/internal/sioclient"
)

// newTestServer serves a Server built from cfg over httptest; setup
// registers namespaces before the first connection.
func newTestServer(t *testing.T, cfg Config, setup func(s *Server)) (*Server, string) {
	t.Helper()
	s := New(cfg)
	if setup != nil {
		setup(s)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	return s, hs.URL + "/socket.io/"
}

// dial opens an Engine.IO connection to url.
func dial(t *testing.T, url string) *sioclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := sioclient.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect opens a connection and joins ns; it returns the client and the socket id.
func connect(t *testing.T, url, ns string, auth any) (*sioclient.Client, string) {
	t.Helper()
	c := dial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := c.Connect(ctx, ns, auth)
	if err != nil {
		t.Fatalf("connect %s: %v", ns, err)
	}
	return c, id
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expectBackPressure reads the indexes a goroutine calling OnMessage sends
// after each call returns: the first n calls must return in order, and the
// next one must stay blocked (the inbox is full). why describes the queue
// state in the failure message.
func expectBackPressure(t *testing.T, returned <-chan int, n int, why func() string) {
	t.Helper()
	for want := 0; want < n; want++ {
		select {
		case got := <-returned:
			if got != want {
				t.Fatalf("OnMessage %d returned, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("OnMessage %d did not return", want)
		}
	}
	select {
	case got := <-returned:
		t.Fatalf("OnMessage %d returned %s", got, why())
	case <-time.After(100 * time.Millisecond):
	}
}
