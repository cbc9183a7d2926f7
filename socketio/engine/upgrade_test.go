package engine

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	waitFor(t, 2*time.Second, func() error {
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
		waitFor(t, 2*time.Second, func() error {
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
