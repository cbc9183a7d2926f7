package engine

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/sockgate/sockgate/internal/testenv"
)

// FuzzReadLoop feeds arbitrary client bytes to a WebSocket connection's
// reader: it must end (no hang) without panicking, and close the session.
func FuzzReadLoop(f *testing.F) {
	frame := func(fr ws.Frame) []byte { return ws.MustCompileFrame(ws.MaskFrame(fr)) }
	f.Add(frame(ws.NewTextFrame([]byte("4hello"))))
	f.Add(frame(ws.NewBinaryFrame([]byte{1, 2, 3})))
	f.Add(append(frame(ws.NewFrame(ws.OpText, false, []byte("4a"))), frame(ws.NewFrame(ws.OpContinuation, true, []byte("b")))...))
	f.Add(frame(ws.NewPingFrame([]byte("x"))))
	f.Add(frame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	f.Add(frame(ws.NewTextFrame([]byte("abc"))))
	f.Add(ws.MustCompileFrame(ws.NewTextFrame([]byte("4unmasked"))))
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(Config{MaxPayload: 1 << 10, PingInterval: time.Hour}, nil)
		srvSide, cliSide := net.Pipe()
		c := newConn(s, newSID(), httptest.NewRequest("GET", "/", nil), "websocket")
		wc := newWSConn(srvSide, nil)
		c.ws = wc
		if !s.register(c) {
			t.Fatal("register")
		}
		go c.readLoop(wc, false)
		go io.Copy(io.Discard, cliSide) // server writes (pong, close)
		cliSide.SetWriteDeadline(time.Now().Add(time.Second))
		cliSide.Write(in)
		cliSide.Close()
		// The reader may hand the connection to a new goroutine after a
		// burst: the session's end, not readLoop's return, is the result.
		testenv.WaitFor(t, 5*time.Second, func() error {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.state != stateClosed {
				return fmt.Errorf("session still open after its connection ended")
			}
			return nil
		})
	})
}
