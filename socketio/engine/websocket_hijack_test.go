package engine

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWebSocket_FramesBehindUpgradeRequest: frames a client sends in the
// same write as its upgrade request (so the HTTP server's reader has them
// buffered when the connection is hijacked) are delivered, in order, and the
// handshake's headers and request target stay readable (Conn.Header,
// Conn.RequestURI), Host among the headers.
func TestWebSocket_FramesBehindUpgradeRequest(t *testing.T) {
	ts := newTestServer(t, Config{})
	addr := strings.TrimPrefix(ts.http.URL, "http://")
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })

	var req bytes.Buffer
	req.WriteString("GET /engine.io/?EIO=4&transport=websocket&room=r1 HTTP/1.1\r\n" +
		"Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"X-Test: kept\r\n\r\n")
	// Enough frames to overflow a small read buffer too.
	want := []string{"early", strings.Repeat("x", 3000), "second"}
	for _, m := range want {
		f := ws.NewTextFrame([]byte("4" + m))
		f = ws.MaskFrameInPlace(f)
		if err := ws.WriteFrame(&req, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := nc.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	rec := ts.nextConn(t)
	for _, w := range want {
		if got := recvMsg(t, rec); got != (inbound{w, false}) {
			t.Fatalf("got %.20q, want %.20q", got.data, w)
		}
	}
	h, uri := rec.c.Header(), rec.c.RequestURI()
	if h.Get("X-Test") != "kept" || h.Get("Host") != addr || uri != "/engine.io/?EIO=4&transport=websocket&room=r1" {
		t.Fatalf("handshake: header %v, uri %q", h, uri)
	}
}
