package engine

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/sockgate/sockgate/internal/testenv"
)

// readerStacks returns the stacks of the goroutines running a WebSocket
// reader.
func readerStacks() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "engine.(*wsReader).loop") {
			out = append(out, g)
		}
	}
	return out
}

// parkedReaders returns how many readers are parked.
func (s *Server) parkedReaders() int {
	s.parking.mu.Lock()
	defer s.parking.mu.Unlock()
	return len(s.parking.parked)
}

// connectParked opens a WebSocket session, has its first burst read and
// waits until its reader is parked (no reader goroutine left).
func connectParked(t *testing.T, ts *testServer) (*wsClient, *recorder) {
	t.Helper()
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	c.sendText("4first")
	if m := recvMsg(t, rec); m.data != "first" {
		t.Fatalf("got %+v", m)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := len(readerStacks()); n != 0 || ts.eng.parkedReaders() != 1 {
			return fmt.Errorf("%d reader goroutines, %d parked", n, ts.eng.parkedReaders())
		}
		return nil
	})
	ts.eng.parking.mu.Lock()
	for _, r := range ts.eng.parking.parked {
		if r.wc.rb != nil {
			t.Error("a parked reader holds its read buffer")
		}
	}
	ts.eng.parking.mu.Unlock()
	return c, rec
}

// TestWebSocket_IdleReaderParks: after a connection's first burst its
// reader holds no goroutine; bytes, a server close, a peer close and
// Shutdown each resume it and end or continue the session as before.
func TestWebSocket_IdleReaderParks(t *testing.T) {
	t.Run("Message", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		c, rec := connectParked(t, ts)
		c.sendText("4second")
		if m := recvMsg(t, rec); m.data != "second" {
			t.Fatalf("got %+v", m)
		}
		if n := ts.eng.parkedReaders(); n != 0 {
			t.Fatalf("%d parked after a message (the burst followed a short wait)", n)
		}
	})
	t.Run("ServerClose", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		c, rec := connectParked(t, ts)
		rec.c.Close("")
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if f, err := ws.ReadFrame(c.rw); err != nil || f.Header.OpCode != ws.OpClose {
			t.Fatalf("read: %+v, %v; want the close frame", f.Header, err)
		}
		if r := <-rec.closed; r != ReasonForcedClose {
			t.Fatalf("reason %q", r)
		}
		// The client does not answer: the reader, resumed to wait for
		// the answer under its deadline, closes the connection and ends
		// (left parked, it would hold the connection forever).
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n, p := len(readerStacks()), ts.eng.parkedReaders(); n != 0 || p != 0 {
				return fmt.Errorf("%d reader goroutines, %d parked", n, p)
			}
			return nil
		})
	})
	t.Run("PeerClose", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		c, rec := connectParked(t, ts)
		c.nc.Close()
		select {
		case r := <-rec.closed:
			if r != ReasonTransportClose {
				t.Fatalf("reason %q", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no OnClose after the peer closed")
		}
	})
	t.Run("Shutdown", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		c, rec := connectParked(t, ts)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- ts.eng.Shutdown(ctx)
		}()
		if code := c.expectClose(); code != ws.StatusNormalClosure {
			t.Fatalf("close code %d", code)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if r := <-rec.closed; r != ReasonShutdown {
			t.Fatalf("reason %q", r)
		}
		if n := ts.eng.parkedReaders(); n != 0 {
			t.Fatalf("%d readers still parked after Shutdown", n)
		}
	})
}

// TestWebSocket_ReaderRespawn: where a reader cannot park, it continues on
// a fresh goroutine after the connection's first burst (the one that
// handled the burst, with its grown stack, exits), and goes on reading.
func TestWebSocket_ReaderRespawn(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.eng.parking.mu.Lock()
	ts.eng.parking.closed = true
	ts.eng.parking.mu.Unlock()
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	c.sendText("4first")
	if m := recvMsg(t, rec); m.data != "first" {
		t.Fatalf("got %+v", m)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		st := readerStacks()
		if len(st) != 1 {
			return fmt.Errorf("%d readers", len(st))
		}
		if strings.Contains(st[0], "engine.(*Conn).readLoop") {
			return fmt.Errorf("the first reader still runs:\n%s", st[0])
		}
		if !strings.Contains(st[0], "engine.(*wsConn).await") {
			return fmt.Errorf("the reader does not wait in await:\n%s", st[0])
		}
		return nil
	})
	c.sendText("4second")
	if m := recvMsg(t, rec); m.data != "second" {
		t.Fatalf("got %+v", m)
	}
}
