package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// The hostile-input cases of the engine (issue 9, items 6 and 7): each
// bounds what a client that misbehaves on purpose costs the server, in
// heap (runtime.ReadMemStats deltas after a GC) and in held connections.
// The counts are small enough for `make test` on two loaded cores; the
// bounds are generous (2x what the configuration allows) and no test
// asserts a latency.

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// firstRead signals once on its channel when the first byte of a body has
// been read by the engine.
type firstRead struct {
	io.ReadCloser
	once atomic.Bool
	ch   chan struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if n > 0 && f.once.CompareAndSwap(false, true) {
		f.ch <- struct{}{}
	}
	return n, err
}

// TestHostile_SlowPollingBodies: POSTs declaring 1 MB and sending one byte
// reserve no megabyte each, and are answered and closed at BodyTimeout
// (before: buf.Grow(ContentLength) took 1 MB per POST at once and no POST
// was ever timed out).
func TestHostile_SlowPollingBodies(t *testing.T) {
	const n = 60
	started := make(chan struct{}, n)
	var rec []*recorder
	conns := make(chan *recorder, n)
	eng := New(Config{BodyTimeout: 300 * time.Millisecond}, func(c *Conn) {
		r := &recorder{c: c, msgs: make(chan inbound, 10), closed: make(chan string, 1)}
		c.SetHandler(r)
		conns <- r
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = &firstRead{ReadCloser: r.Body, ch: started}
		}
		eng.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { eng.Shutdown(t.Context()) })

	before := heapInUse()
	raw := make([]net.Conn, n)
	for i := range raw {
		status, body := doReq(t, http.MethodGet, srv.URL+"/engine.io/?EIO=4&transport=polling", "", nil)
		if status != 200 {
			t.Fatalf("handshake: %d %s", status, body)
		}
		var op openPayload
		json.Unmarshal([]byte(body[1:]), &op)
		rec = append(rec, <-conns)
		nc, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		fmt.Fprintf(nc, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n4", op.SID)
		raw[i] = nc
	}
	for range n {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the engine did not start reading the bodies")
		}
	}
	// Every POST is being read now: each may hold its few KB, not 1 MB.
	if grown := heapInUse() - before; grown > 8<<20 {
		t.Errorf("%d slow POSTs declaring 1 MB grew the heap by %d bytes; want ≤ 8 MiB (1 MB each before)", n, grown)
	}
	for i, nc := range raw {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("POST %d: no answer: %v", i, err)
		}
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("POST %d: status %d, want 408", i, resp.StatusCode)
		}
		resp.Body.Close()
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("POST %d: connection not closed by the server: %v", i, err)
		}
	}
	for _, r := range rec {
		if reason := recvClose(t, r); reason != ReasonTransportError {
			t.Errorf("session closed with %q, want %q", reason, ReasonTransportError)
		}
	}
}

// dialSlowReader opens a TCP connection whose receive buffer is small, so
// that a client that does not read stalls the server's writes soon.
func dialSlowReader(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: nil}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := nc.(*net.TCPConn)
	tc.SetReadBuffer(4096)
	t.Cleanup(func() { tc.Close() })
	return tc
}

// TestHostile_UnreadPollResponse: a GET whose client never reads its
// response does not pin the request: the write times out and the session
// closes with "write timeout" (before: the GET blocked until the client
// hung up).
func TestHostile_UnreadPollResponse(t *testing.T) {
	ts := newTestServer(t, Config{WriteTimeout: 300 * time.Millisecond, SendQueueBytes: 64 << 20})
	op := ts.handshake(t)
	r := ts.nextConn(t)
	chunk := strings.Repeat("x", 1<<20)
	for range 16 { // more than loopback's socket buffers hold
		if err := r.c.Send(TextMessage(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	nc := dialSlowReader(t, ts.http.Listener.Addr().String())
	fmt.Fprintf(nc, "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", op.SID)
	if reason := recvClose(t, r); reason != ReasonWriteTimeout {
		t.Fatalf("closed with %q, want %q", reason, ReasonWriteTimeout)
	}
}

// TestHostile_UnreadWebSocket: a WebSocket peer that reads nothing is
// closed after WriteTimeout with "write timeout" (before: 45 s, the
// heartbeat's interval plus timeout).
func TestHostile_UnreadWebSocket(t *testing.T) {
	ts := newTestServer(t, Config{WriteTimeout: 300 * time.Millisecond, SendQueueBytes: 64 << 20, PingInterval: time.Minute})
	r, _ := dialUnreadWS(t, ts)
	chunk := strings.Repeat("x", 1<<20)
	for range 16 {
		if err := r.c.Send(TextMessage(chunk)); err != nil {
			break // closed meanwhile
		}
	}
	if reason := recvClose(t, r); reason != ReasonWriteTimeout {
		t.Fatalf("closed with %q, want %q", reason, ReasonWriteTimeout)
	}
}

// dialUnreadWS opens a WebSocket session through a connection with a small
// receive buffer that the test never reads after the handshake response.
func dialUnreadWS(t *testing.T, ts *testServer) (*recorder, net.Conn) {
	t.Helper()
	nc := dialSlowReader(t, ts.http.Listener.Addr().String())
	fmt.Fprint(nc, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return ts.nextConn(t), nc
}

// TestHostile_SendQueueBytes: the send queue of a consumer that cannot keep
// up is bounded in bytes, not only in messages: 64 KB messages to a peer
// that reads nothing overflow it long before SendQueue's 4096 messages, the
// connection closes with "send queue overflow", and the heap held meanwhile
// stays within twice the bound (before: 200 such messages, 13 MB, were all
// queued).
func TestHostile_SendQueueBytes(t *testing.T) {
	const bound = 2 << 20
	ts := newTestServer(t, Config{SendQueueBytes: bound, PingInterval: time.Minute})
	before := heapInUse()
	r, _ := dialUnreadWS(t, ts)
	payload := make([]byte, 64<<10)
	var err error
	peak := int64(0)
	for i := 0; i < 200 && err == nil; i++ {
		err = r.c.Send(BinaryMessage(payload))
		if i%16 == 0 {
			peak = max(peak, heapInUse()-before)
		}
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("200 messages of 64 KB to a peer that reads nothing: Send = %v, want ErrQueueFull", err)
	}
	if reason := recvClose(t, r); reason != ReasonQueueOverflow {
		t.Fatalf("closed with %q, want %q", reason, ReasonQueueOverflow)
	}
	if peak > 2*bound {
		t.Errorf("heap grew by %d bytes while queuing; want ≤ %d (2x SendQueueBytes)", peak, 2*bound)
	}
}

// TestHandshakeError: a *HandshakeError from AllowRequest chooses the
// status, the message of Node's JSON body (what a client can show) and
// headers (before: 403/429 with "Forbidden" and no header).
func TestHandshakeError(t *testing.T) {
	ts := newTestServer(t, Config{AllowRequest: func(r *http.Request) error {
		return &HandshakeError{Status: http.StatusTooManyRequests, Message: "Too many requests, retry in 7s.",
			Header: http.Header{"Retry-After": {"7"}}}
	}})
	status, body, hdr, err := doReqErr(http.MethodGet, ts.url("transport=polling"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "7" || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("refusal: %d %v", status, hdr)
	}
	var b struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Code != codeForbidden || b.Message != "Too many requests, retry in 7s." {
		t.Fatalf("body %s (%v)", body, err)
	}
}

// TestMaxConnsPerIP: beyond MaxConnsPerIP open sessions of one address, a
// handshake is refused with 429 and a reason; a closed session frees its
// slot.
func TestMaxConnsPerIP(t *testing.T) {
	var reasons atomic.Int64
	ts := newTestServer(t, Config{MaxConnsPerIP: 2, OnDisconnect: func(string) { reasons.Add(1) }})
	a := ts.handshake(t)
	ts.handshake(t)
	status, body := ts.get(t, "transport=polling")
	if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many connections from this address (limit 2)") {
		t.Fatalf("third session: %d %s", status, body)
	}
	if status, _ := ts.post(t, "transport=polling&sid="+url.QueryEscape(a.SID), "1"); status != 200 {
		t.Fatalf("close: %d", status)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if status, body := ts.get(t, "transport=polling"); status != 200 {
			return fmt.Errorf("after a close: %d %s", status, body)
		}
		return nil
	})
	if reasons.Load() != 1 {
		t.Errorf("OnDisconnect called %d times, want 1", reasons.Load())
	}
}

// TestHostile_PayloadBomb: a 1 MB polling payload of 333,000 noops costs
// about its own bytes to decode (before: a []packet of 40 bytes per
// 3-byte packet, 13 MB).
func TestHostile_PayloadBomb(t *testing.T) {
	ts := newTestServer(t, Config{})
	op := ts.handshake(t)
	body := strings.Repeat("6\x1e", 499_999) + "6"
	url := ts.url("transport=polling&sid=" + op.SID)
	ts.nextConn(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if status, _ := doReq(t, http.MethodPost, url, body, nil); status != 200 {
		t.Fatalf("POST: %d", status)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6<<20 {
		t.Fatalf("a %d-byte payload of noops allocated %d bytes; want ≤ 6 MiB", len(body), alloc)
	}
}
