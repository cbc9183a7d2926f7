package engine

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestUpgrade_Ordering upgrades a polling session to WebSocket while the
// server sends 500 numbered messages in phases (before, during, after the
// probe) plus 500 more from a concurrent goroutine, and the client sends
// 400 (half over polling, half over WebSocket): every stream arrives
// complete and in order.
func TestUpgrade_Ordering(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	q := "transport=polling&sid=" + sid

	var (
		mu       sync.Mutex
		received []string
	)
	record := func(s string) {
		mu.Lock()
		received = append(received, s)
		mu.Unlock()
	}

	var upgrading atomic.Bool
	pollDone := make(chan error, 1)
	go func() {
		for {
			status, body, _, err := doReqErr("GET", ts.url(q), "", nil)
			if err != nil || status != 200 {
				pollDone <- fmt.Errorf("GET: %d %q %v", status, body, err)
				return
			}
			noop := false
			for _, p := range strings.Split(body, "\x1e") {
				switch {
				case p == "6":
					noop = true
				case strings.HasPrefix(p, "4"):
					record(p[1:])
				default:
					pollDone <- fmt.Errorf("unexpected packet %q", p)
					return
				}
			}
			if noop && upgrading.Load() {
				pollDone <- nil
				return
			}
		}
	}()

	const total = 500
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		for i := range total {
			if err := rec.c.Send(TextMessage(fmt.Sprint("b", i))); err != nil {
				t.Errorf("background Send: %v", err)
				return
			}
			runtime.Gosched()
		}
	}()
	sendN := func(from, to int) {
		for i := from; i < to; i++ {
			if err := rec.c.Send(TextMessage(fmt.Sprint("n", i))); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}

	// Phase 1: polling both ways.
	sendN(0, 200)
	for i := 0; i < 200; i += 20 {
		parts := make([]string, 20)
		for j := range parts {
			parts[j] = fmt.Sprint("4c", i+j)
		}
		if status, body := ts.post(t, q, strings.Join(parts, "\x1e")); status != 200 {
			t.Fatalf("POST: %d %q", status, body)
		}
	}

	// Phase 2: probe.
	upgrading.Store(true)
	c := ts.dialWS(t, "transport=websocket&sid="+sid)
	c.sendText("2probe")
	if s := c.mustRead(); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	sendN(200, 350)
	if err := <-pollDone; err != nil {
		t.Fatal(err)
	}

	// Phase 3: upgraded.
	c.sendText("5")
	testenv.WaitFor(t, 2*time.Second, func() error {
		if tr := rec.c.Transport(); tr != "websocket" {
			return fmt.Errorf("transport %q", tr)
		}
		return nil
	})
	sendN(350, total)
	for i := 200; i < 400; i++ {
		c.sendText(fmt.Sprint("4c", i))
	}
	<-bgDone

	counts := func() (n, b int) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range received {
			switch s[0] {
			case 'n':
				n++
			case 'b':
				b++
			}
		}
		return
	}
	for {
		n, b := counts()
		if n == total && b == total {
			break
		}
		s := c.mustRead()
		if !strings.HasPrefix(s, "4") {
			t.Fatalf("unexpected ws packet %q", s)
		}
		record(s[1:])
	}
	var gotN, gotB []string
	for _, s := range received {
		if s[0] == 'n' {
			gotN = append(gotN, s)
		} else {
			gotB = append(gotB, s)
		}
	}
	for i := range total {
		if gotN[i] != fmt.Sprint("n", i) {
			t.Fatalf("phased stream out of order at %d: %q", i, gotN[i])
		}
		if gotB[i] != fmt.Sprint("b", i) {
			t.Fatalf("background stream out of order at %d: %q", i, gotB[i])
		}
	}
	for i := range 400 {
		if m := recvMsg(t, rec); m.data != fmt.Sprint("c", i) {
			t.Fatalf("inbound %d: got %q", i, m.data)
		}
	}
	// Polling is over for this session.
	if status, _ := ts.get(t, q); status != 400 {
		t.Errorf("GET after upgrade: %d", status)
	}
}

func TestUpgrade_Failures(t *testing.T) {
	t.Run("Timeout", func(t *testing.T) {
		ts := newTestServer(t, Config{UpgradeTimeout: 50 * time.Millisecond})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		c := ts.dialWS(t, "transport=websocket&sid="+sid)
		c.expectClose()
		rec.c.Send(TextMessage("still polling"))
		if _, body := ts.get(t, "transport=polling&sid="+sid); body != "4still polling" {
			t.Errorf("GET %q", body)
		}
	})
	t.Run("BadProbe", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		c := ts.dialWS(t, "transport=websocket&sid="+sid)
		c.sendText("4x")
		c.expectClose()
		if rec.c.Transport() != "polling" {
			t.Errorf("transport %q", rec.c.Transport())
		}
		select {
		case m := <-rec.msgs:
			t.Errorf("probe connection delivered %+v", m)
		default:
		}
		rec.c.Send(TextMessage("ok"))
		if _, body := ts.get(t, "transport=polling&sid="+sid); body != "4ok" {
			t.Errorf("GET %q", body)
		}
	})
	t.Run("SecondWebSocket", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		c := ts.dialWS(t, "transport=websocket&sid="+sid)
		c.sendText("2probe")
		c.mustRead()
		c.sendText("5")
		testenv.WaitFor(t, 2*time.Second, func() error {
			if rec.c.Transport() != "websocket" {
				return fmt.Errorf("not upgraded")
			}
			return nil
		})
		c2 := ts.dialWS(t, "transport=websocket&sid="+sid)
		c2.expectClose()
		c.sendText("4hello")
		if m := recvMsg(t, rec); m.data != "hello" {
			t.Errorf("got %+v", m)
		}
	})
	t.Run("DisableUpgrades", func(t *testing.T) {
		ts := newTestServer(t, Config{DisableUpgrades: true})
		p := ts.handshake(t)
		if len(p.Upgrades) != 0 {
			t.Errorf("upgrades %v", p.Upgrades)
		}
		c := ts.dialWS(t, "transport=websocket&sid="+p.SID)
		c.expectClose()
	})
}

// TestUpgrade_CloseWhileProbed: the server closes (with flush) a polling
// session whose upgrade probe succeeded, while the client has paused polling
// and its "5" is still on the way. Like Node, the upgrade completes, what is
// queued goes out over the WebSocket, then the close frame: the client gets
// its last messages (a Socket.IO DISCONNECT) instead of a dead transport.
func TestUpgrade_CloseWhileProbed(t *testing.T) {
	probed := func(t *testing.T, cfg Config) (*testServer, *recorder, *wsClient, string) {
		t.Helper()
		ts := newTestServer(t, cfg)
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		c := ts.dialWS(t, "transport=websocket&sid="+sid)
		c.sendText("2probe")
		if s := c.mustRead(); s != "3probe" {
			t.Fatalf("probe answer %q", s)
		}
		return ts, rec, c, sid
	}
	expectClosed := func(t *testing.T, c *wsClient, rec *recorder, reason string) {
		t.Helper()
		if code := c.expectClose(); code != closeNormal {
			t.Errorf("close code %d, want %d (a closing handshake after the upgrade)", code, closeNormal)
		}
		if got := recvClose(t, rec); got != reason {
			t.Errorf("OnClose reason %q, want %q", got, reason)
		}
	}

	t.Run("QueuedGoesOverWebSocket", func(t *testing.T) {
		_, rec, c, _ := probed(t, Config{})
		rec.c.Send(TextMessage("bye"))
		rec.c.Close("kicked")
		c.sendText("5")
		if s := c.mustRead(); s != "4bye" {
			t.Fatalf("after upgrade got %q, want the queued message", s)
		}
		expectClosed(t, c, rec, "kicked")
	})

	t.Run("WaitingGetTakesQueue", func(t *testing.T) {
		// A GET was still waiting when the server sent and closed: it
		// carries the queue (whether Send's wake-up or Close's released
		// it), and the close itself follows on the upgraded WebSocket
		// (the client polls no more).
		ts, rec, c, sid := probed(t, Config{})
		got := make(chan string, 1)
		get := func() {
			_, body, _, _ := doReqErr("GET", ts.url("transport=polling&sid="+sid), "", nil)
			got <- body
		}
		go get()
		testenv.WaitFor(t, 5*time.Second, func() error {
			select {
			case body := <-got:
				// The probe's 100ms noop came before we saw the GET
				// waiting (a loaded machine): poll again.
				if body != "6" {
					t.Fatalf("GET %q before the close", body)
				}
				go get()
			default:
			}
			rec.c.mu.Lock()
			defer rec.c.mu.Unlock()
			if !rec.c.pollActive {
				return fmt.Errorf("GET not waiting")
			}
			return nil
		})
		rec.c.Send(TextMessage("bye"))
		rec.c.Close("kicked")
		if body := <-got; body != "4bye" && body != "6" {
			t.Fatalf("GET %q", body)
		} else if body == "6" {
			// The 100ms probe release won the race: the queue is still
			// waiting, for the WebSocket.
			c.sendText("5")
			if s := c.mustRead(); s != "4bye" {
				t.Fatalf("after upgrade got %q", s)
			}
			expectClosed(t, c, rec, "kicked")
			return
		}
		c.sendText("5")
		expectClosed(t, c, rec, "kicked")
	})

	t.Run("NothingQueued", func(t *testing.T) {
		_, rec, c, _ := probed(t, Config{})
		rec.c.Close("kicked")
		c.sendText("5")
		expectClosed(t, c, rec, "kicked")
	})

	t.Run("LateGetDoesNotCutFlush", func(t *testing.T) {
		// A polling GET reaching an upgraded, closing session is refused
		// (400) and must not end the session under the WebSocket writer
		// still flushing the last messages.
		ts, rec, c, sid := probed(t, Config{})
		big := strings.Repeat("x", 8<<20) // more than the socket buffers hold: the writer blocks
		rec.c.Send(TextMessage(big), TextMessage("bye"))
		rec.c.Close("kicked")
		c.sendText("5")
		testenv.WaitFor(t, 2*time.Second, func() error {
			if tr := rec.c.Transport(); tr != "websocket" {
				return fmt.Errorf("transport %q", tr)
			}
			return nil
		})
		if status, body := ts.get(t, "transport=polling&sid="+sid); status != 400 {
			t.Errorf("GET on the upgraded session: %d %q, want 400", status, body)
		}
		if s := c.mustRead(); s != "4"+big {
			t.Fatalf("big message cut: %d bytes", len(s))
		}
		if s := c.mustRead(); s != "4bye" {
			t.Fatalf("got %q, want the last message", s)
		}
		expectClosed(t, c, rec, "kicked")
	})

	t.Run("NoUpgradePacket", func(t *testing.T) {
		// The client never sends "5": the close timer (min(PingTimeout,
		// 2s)) still ends the session and the probe.
		_, rec, c, _ := probed(t, Config{PingTimeout: 200 * time.Millisecond})
		rec.c.Send(TextMessage("bye"))
		start := time.Now()
		rec.c.Close("kicked")
		if got := recvClose(t, rec); got != "kicked" {
			t.Errorf("OnClose reason %q", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("OnClose after %v, want about the close wait (200ms)", d)
		}
		c.expectClose()
	})
}
