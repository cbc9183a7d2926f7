package socketio

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestServer_ShutdownLeavesNoGoroutines: after Shutdown every goroutine of
// the server (engine readers and writers, socket workers, timers'
// callbacks) has ended and every socket's disconnect handlers have run,
// with WebSocket and polling clients, a handler in progress and pending
// server→client acks.
func TestServer_ShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := New(Config{})
	var disconnected, inHandler atomic.Int32
	release := make(chan struct{})
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnDisconnect(func(*Socket, string) { disconnected.Add(1) })
		s.On("slow", func(s *Socket, _ Args, _ AckFunc) {
			inHandler.Add(1)
			<-release
		})
		s.On("ask", func(s *Socket, _ Args, _ AckFunc) {
			// Waits for an ack the client never sends: Shutdown must end it.
			_, _ = s.EmitWithAck(context.Background(), "question")
		})
	})
	hs := httptest.NewServer(srv)
	url := hs.URL + "/socket.io/"

	c1, _ := connect(t, url, "/", nil)
	c2, _ := connect(t, url, "/", nil)
	if err := c1.Emit("/", "slow"); err != nil {
		t.Fatal(err)
	}
	if err := c2.Emit("/", "ask"); err != nil {
		t.Fatal(err)
	}
	pc := newPollingClient(t, url)
	pc.post("40")
	pc.packets(1) // CONNECT reply
	testenv.WaitFor(t, 5*time.Second, func() error {
		if inHandler.Load() != 1 {
			return fmt.Errorf("slow handler not running")
		}
		return nil
	})

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	close(release) // the running handler returns; its socket disconnects after it
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if n := disconnected.Load(); n != 3 {
		t.Fatalf("%d disconnect handlers ran before Shutdown returned, want 3", n)
	}
	c1.Close()
	c2.Close()
	hs.CloseClientConnections()
	hs.Close()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}
