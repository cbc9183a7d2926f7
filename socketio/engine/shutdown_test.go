package engine

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestServer_ShutdownWaitsForPollingHandler: a message delivered by a
// polling POST runs OnMessage on the request goroutine, which Shutdown does
// not own. Shutdown must still return only once that OnMessage has returned
// and the connection's OnClose has been called ("OnClose exactly once, then
// Shutdown returns"), or the application tears down state (adapters, stores)
// while a handler still uses it and an OnClose arrives after shutdown.
func TestServer_ShutdownWaitsForPollingHandler(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	rec.block = make(chan struct{})
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(rec.block) }) }
	t.Cleanup(release) // before the server's cleanup (LIFO): never leave the POST stuck

	posted := make(chan struct{})
	go func() {
		defer close(posted)
		ts.post(t, "transport=polling&sid="+sid, "4hello")
	}()
	// Wait until OnMessage runs (the session is then inside its handler).
	testenv.WaitFor(t, 5*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if !rec.c.inHandler {
			return fmt.Errorf("OnMessage not running yet")
		}
		return nil
	})

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- ts.eng.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while OnMessage was still running", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after OnMessage returned")
	}
	select {
	case reason := <-rec.closed:
		if reason != ReasonShutdown {
			t.Errorf("OnClose(%q), want %q", reason, ReasonShutdown)
		}
	default:
		t.Fatal("Shutdown returned before OnClose was called")
	}
	if n := ts.eng.Count(); n != 0 {
		t.Errorf("Count() = %d after Shutdown", n)
	}
	<-posted
}

// TestServer_ShutdownLeavesNoGoroutines: after Shutdown, every engine
// goroutine (readers, writers, timers' callbacks) of polling, WebSocket and
// upgraded sessions has ended.
func TestServer_ShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := newTestServer(t, Config{})
	// A polling session with a waiting GET, a WebSocket session, an upgraded one.
	sid := ts.handshake(t).SID
	ts.nextConn(t)
	getDone := make(chan struct{})
	go func() { defer close(getDone); ts.get(t, "transport=polling&sid="+sid) }()
	wsc := ts.dialWS(t, "transport=websocket")
	wsc.mustRead() // open packet
	ts.nextConn(t)
	sid2 := ts.handshake(t).SID
	ts.nextConn(t)
	up := ts.dialWS(t, "transport=websocket&sid="+sid2)
	up.sendText("2probe")
	if got := up.mustRead(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	up.sendText("5")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.eng.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-getDone
	wsc.nc.Close()
	up.nc.Close()
	ts.http.Close()
	ts.http.CloseClientConnections()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}
