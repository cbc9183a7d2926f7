package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/sockgate/sockgate/internal/testenv"
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestWebSocket_Only(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	if open := c.mustRead(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q", open)
	}
	rec := ts.nextConn(t)

	c.sendText("4hello")
	c.sendBinary([]byte{1, 2, 3})
	c.sendText("6")
	c.sendText("4")
	c.sendText("bAQID") // base64 binary in a text frame, as Node accepts
	for _, w := range []inbound{{"hello", false}, {"\x01\x02\x03", true}, {"", false}, {"\x01\x02\x03", true}} {
		if got := recvMsg(t, rec); got != w {
			t.Errorf("got %+v, want %+v", got, w)
		}
	}

	testenv.WaitFor(t, 2*time.Second, func() error {
		if !rec.c.SendVolatile(TextMessage("v")) {
			return fmt.Errorf("idle WebSocket not writable")
		}
		return nil
	})
	if s := c.mustRead(); s != "4v" {
		t.Fatalf("volatile: %q", s)
	}
	if err := rec.c.Send(TextMessage("a"), BinaryMessage([]byte{9, 8}), TextMessage("b")); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		s  string
		op ws.OpCode
	}{{"4a", ws.OpText}, {"\x09\x08", ws.OpBinary}, {"4b", ws.OpText}}
	for _, w := range want {
		s, op, err := c.read()
		if err != nil || s != w.s || op != w.op {
			t.Errorf("read %q op %v err %v, want %q op %v", s, op, err, w.s, w.op)
		}
	}

	c.sendText("1")
	if reason := recvClose(t, rec); reason != ReasonTransportClose {
		t.Errorf("reason %q", reason)
	}
}

func TestWebSocket_Errors(t *testing.T) {
	tests := []struct {
		name   string
		send   func(c *wsClient)
		code   ws.StatusCode
		skip   bool // don't check the close frame
		reason string
	}{
		{"ParseError", func(c *wsClient) { c.sendText("abc") }, 0, false, ReasonParseError},
		{"EmptyText", func(c *wsClient) { c.sendText("") }, 0, false, ReasonParseError},
		{"BadBase64OverWebSocket", func(c *wsClient) { c.sendText("b!!") }, 0, false, ReasonParseError},
		{"TooBig", func(c *wsClient) { c.sendText("4" + strings.Repeat("x", 200)) }, ws.StatusMessageTooBig, false, ReasonTransportError},
		{"TooBigBinary", func(c *wsClient) { c.sendBinary(make([]byte, 101)) }, ws.StatusMessageTooBig, false, ReasonTransportError},
		{"ClientPing", func(c *wsClient) { c.sendText("2") }, 0, false, ReasonTransportError},
		{"Unmasked", func(c *wsClient) {
			ws.WriteFrame(c.nc, ws.NewTextFrame([]byte("4x")))
		}, ws.StatusProtocolError, false, ReasonTransportError},
		{"CloseFrame", func(c *wsClient) {
			ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		}, ws.StatusNormalClosure, false, ReasonTransportClose},
		{"TCPClose", func(c *wsClient) { c.nc.Close() }, 0, true, ReasonTransportClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{MaxPayload: 100})
			c := ts.dialWS(t, "transport=websocket")
			c.mustRead()
			rec := ts.nextConn(t)
			tt.send(c)
			if reason := recvClose(t, rec); reason != tt.reason {
				t.Errorf("reason %q, want %q", reason, tt.reason)
			}
			if !tt.skip {
				if code := c.expectClose(); code != tt.code {
					t.Errorf("close code %d, want %d", code, tt.code)
				}
			}
			if ts.eng.Count() != 0 {
				t.Errorf("Count = %d", ts.eng.Count())
			}
		})
	}
}

func TestWebSocket_Fragmented(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte("4hel"))))
	ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPingFrame([]byte("p"))))
	ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("lo"))))
	if m := recvMsg(t, rec); m.data != "hello" {
		t.Errorf("got %+v", m)
	}
}

func TestWebSocket_CloseFlushes(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	for i := range 100 {
		rec.c.Send(TextMessage(fmt.Sprint(i)))
	}
	rec.c.Close("bye")
	for i := range 100 {
		if s := c.mustRead(); s != fmt.Sprint("4", i) {
			t.Fatalf("message %d: %q", i, s)
		}
	}
	if code := c.expectClose(); code != ws.StatusNormalClosure {
		t.Errorf("close code %d", code)
	}
	if reason := recvClose(t, rec); reason != "bye" {
		t.Errorf("reason %q", reason)
	}
}

func TestHeartbeat_WebSocket(t *testing.T) {
	cfg := Config{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond}
	t.Run("PongKeepsAlive", func(t *testing.T) {
		ts := newTestServer(t, cfg)
		c := ts.dialWS(t, "transport=websocket")
		c.mustRead()
		rec := ts.nextConn(t)
		for i := range 4 {
			if s := c.mustRead(); s != "2" {
				t.Fatalf("ping %d: %q", i, s)
			}
			c.sendText("3")
		}
		select {
		case r := <-rec.closed:
			t.Fatalf("closed: %q", r)
		default:
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		ts := newTestServer(t, cfg)
		c := ts.dialWS(t, "transport=websocket")
		c.mustRead()
		rec := ts.nextConn(t)
		if s := c.mustRead(); s != "2" {
			t.Fatalf("ping: %q", s)
		}
		if reason := recvClose(t, rec); reason != ReasonPingTimeout {
			t.Errorf("reason %q", reason)
		}
	})
	t.Run("WhileHandlerBlocks", func(t *testing.T) {
		ts := newTestServer(t, cfg)
		c := ts.dialWS(t, "transport=websocket")
		c.mustRead()
		rec := ts.nextConn(t)
		rec.block = make(chan struct{})
		c.sendText("4slow")
		// The next ping comes while OnMessage blocks; the client's pong
		// waits behind the handler.
		if s := c.mustRead(); s != "2" {
			t.Fatalf("ping: %q", s)
		}
		c.sendText("3")
		// Several ping timeouts elapse: the connection must stay open
		// (nothing is sent: the pong is outstanding until read).
		c.nc.SetReadDeadline(time.Now().Add(6 * (cfg.PingInterval + cfg.PingTimeout)))
		if b, _, err := wsutil.ReadServerData(c.rw); err == nil || !isTimeout(err) {
			t.Fatalf("while the handler blocked: frame %q err %v", b, err)
		}
		select {
		case r := <-rec.closed:
			t.Fatalf("closed while the handler blocked: %q", r)
		default:
		}
		close(rec.block)
		if m := recvMsg(t, rec); m.data != "slow" {
			t.Errorf("got %+v", m)
		}
		for range 2 {
			if s := c.mustRead(); s != "2" {
				t.Fatalf("ping after unblocking: %q", s)
			}
			c.sendText("3")
		}
		select {
		case r := <-rec.closed:
			t.Fatalf("closed: %q", r)
		default:
		}
	})
}

func TestConn_OnCloseAfterOnMessage(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	rec.block = make(chan struct{})
	c.sendText("4x")
	testenv.WaitFor(t, 2*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if !rec.c.inHandler {
			return fmt.Errorf("OnMessage not running")
		}
		return nil
	})
	rec.c.Close("")
	c.expectClose()
	select {
	case r := <-rec.closed:
		t.Fatalf("OnClose(%q) while OnMessage runs", r)
	default:
	}
	close(rec.block)
	recvMsg(t, rec)
	if reason := recvClose(t, rec); reason != ReasonForcedClose {
		t.Errorf("reason %q", reason)
	}
}

func TestMessage_EncodedOnce(t *testing.T) {
	ts := newTestServer(t, Config{})
	const n = 20
	clients := make([]*wsClient, n)
	recs := make([]*recorder, n)
	for i := range n {
		clients[i] = ts.dialWS(t, "transport=websocket")
		clients[i].mustRead()
		recs[i] = ts.nextConn(t)
	}
	// Polling receivers share the polling form.
	sids := make([]string, 3)
	precs := make([]*recorder, 3)
	for i := range sids {
		sids[i] = ts.handshake(t).SID
		precs[i] = ts.nextConn(t)
	}
	m := BinaryMessage([]byte("shared payload"))
	before := encodeCount.Load()
	var wg sync.WaitGroup
	for _, r := range append(recs, precs...) {
		wg.Add(1)
		go func() { defer wg.Done(); r.c.Send(m) }()
	}
	wg.Wait()
	for i, c := range clients {
		s, op, err := c.read()
		if err != nil || s != "shared payload" || op != ws.OpBinary {
			t.Fatalf("client %d: %q %v %v", i, s, op, err)
		}
	}
	for _, sid := range sids {
		if _, body := ts.get(t, "transport=polling&sid="+sid); body != "bc2hhcmVkIHBheWxvYWQ=" {
			t.Fatalf("poll %q", body)
		}
	}
	if got := encodeCount.Load() - before; got != 2 {
		t.Errorf("%d encodings for %d receivers, want 2 (one per wire form)", got, n+len(sids))
	}
	f := m.frameBytes()
	if &f[0] != &m.frameBytes()[0] || !bytes.HasSuffix(f, []byte("shared payload")) {
		t.Error("frame not cached")
	}
}

// TestConn_ConcurrentSendClose races senders, Close, the peer's messages
// and its disconnect: OnClose exactly once (the recorder panics otherwise),
// after the last OnMessage, and Send only fails with ErrClosed (or
// ErrQueueFull when the senders outrun the writer before Close).
func TestConn_ConcurrentSendClose(t *testing.T) {
	ts := newTestServer(t, Config{})
	for round := range 20 {
		c := ts.dialWS(t, "transport=websocket")
		c.mustRead()
		rec := ts.nextConn(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					err := rec.c.Send(TextMessage(fmt.Sprint(i)))
					if err == ErrClosed || err == ErrQueueFull {
						return
					}
					if err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
		}
		go func() {
			for range 50 {
				if wsutil.WriteClientMessage(c.nc, ws.OpText, []byte("4m")) != nil {
					return
				}
			}
			if round%2 == 0 {
				c.nc.Close()
			}
		}()
		go func() {
			// Drain so the writer is not blocked by TCP back-pressure;
			// close on the server's FIN, as a client does.
			io.Copy(io.Discard, c.nc)
			c.nc.Close()
		}()
		rec.c.Close("")
		wg.Wait()
		recvClose(t, rec)
		n := len(rec.msgs)
		if n > 50 {
			t.Fatalf("%d messages", n)
		}
		if rec.c.SendVolatile(TextMessage("x")) {
			t.Fatal("SendVolatile after close")
		}
	}
	testenv.WaitFor(t, 2*time.Second, func() error {
		if n := ts.eng.Count(); n != 0 {
			return fmt.Errorf("Count = %d", n)
		}
		return nil
	})
}
