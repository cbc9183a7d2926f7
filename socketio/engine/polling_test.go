package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func TestPolling_RoundTrip(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	q := "transport=polling&sid=" + sid

	status, body := ts.post(t, q, "4hello\x1ebAQIDBA==\x1e6\x1e4")
	if status != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
	want := []inbound{{"hello", false}, {"\x01\x02\x03\x04", true}, {"", false}}
	for _, w := range want {
		if got := recvMsg(t, rec); got != w {
			t.Errorf("got %+v, want %+v", got, w)
		}
	}

	if err := rec.c.Send(TextMessage("hi"), BinaryMessage([]byte{1, 2, 3}), TextMessage("é")); err != nil {
		t.Fatal(err)
	}
	status, body, hdr, err := doReqErr("GET", ts.url(q), "", nil)
	if err != nil || status != 200 {
		t.Fatalf("GET: %d %v", status, err)
	}
	if body != "4hi\x1ebAQID\x1e4é" {
		t.Errorf("GET body %q", body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content-type %q", ct)
	}
}

func TestPolling_WaitingGet(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	got := make(chan string, 1)
	go func() {
		_, body, _, _ := doReqErr("GET", ts.url("transport=polling&sid="+sid), "", nil)
		got <- body
	}()
	testenv.WaitFor(t, 2*time.Second, func() error {
		if !rec.c.SendVolatile(TextMessage("v")) {
			return fmt.Errorf("not writable yet")
		}
		return nil
	})
	if body := <-got; body != "4v" {
		t.Errorf("body %q", body)
	}
	if rec.c.SendVolatile(TextMessage("dropped")) {
		t.Error("SendVolatile succeeded without a waiting GET")
	}
}

func TestPolling_OversizedPost(t *testing.T) {
	ts := newTestServer(t, Config{MaxPayload: 100})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	<-ts.bodyRead // handshake
	u := ts.url("transport=polling&sid=" + sid)

	t.Run("ContentLength", func(t *testing.T) {
		// Announce 1 MB and send none of it: the answer must come from
		// the headers alone.
		nc, err := net.Dial("tcp", ts.http.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		path := strings.TrimPrefix(u, ts.http.URL)
		fmt.Fprintf(nc, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, 1<<20)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := <-ts.bodyRead; n != 0 {
			t.Errorf("engine read %d body bytes before refusing", n)
		}
	})
	t.Run("Chunked", func(t *testing.T) {
		req, _ := http.NewRequest("POST", u, io.MultiReader(strings.NewReader("4"), strings.NewReader(strings.Repeat("y", 1<<20))))
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if n := <-ts.bodyRead; n > 100+4096 {
			t.Errorf("engine read %d body bytes, cap 100", n)
		}
	})
	// The session survives (Node's behaviour) and nothing was delivered.
	if status, body := ts.post(t, "transport=polling&sid="+sid, "4small"); status != 200 || body != "ok" {
		t.Fatalf("POST after 413: %d %q", status, body)
	}
	if m := recvMsg(t, rec); m.data != "small" {
		t.Errorf("got %+v", m)
	}
}

func TestPolling_ConcurrentGet(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	u := ts.url("transport=polling&sid=" + sid)
	first := make(chan string, 1)
	go func() {
		_, body, _, _ := doReqErr("GET", u, "", nil)
		first <- body
	}()
	testenv.WaitFor(t, 2*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if !rec.c.pollActive {
			return fmt.Errorf("first GET not waiting")
		}
		return nil
	})
	status, body := doReq(t, "GET", u, "", nil)
	if status != 400 {
		t.Errorf("second GET: %d %q", status, body)
	}
	if body := <-first; body != "1" {
		t.Errorf("first GET got %q, want close packet", body)
	}
	if reason := recvClose(t, rec); reason != ReasonTransportError {
		t.Errorf("reason %q", reason)
	}
	if status, _ := doReq(t, "GET", u, "", nil); status != 400 {
		t.Errorf("GET after close: %d", status)
	}
}

func TestPolling_Close(t *testing.T) {
	t.Run("ClientClose", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		u := ts.url("transport=polling&sid=" + sid)
		got := make(chan string, 1)
		go func() { _, body, _, _ := doReqErr("GET", u, "", nil); got <- body }()
		testenv.WaitFor(t, 2*time.Second, func() error {
			rec.c.mu.Lock()
			defer rec.c.mu.Unlock()
			if !rec.c.pollActive {
				return fmt.Errorf("GET not waiting")
			}
			return nil
		})
		if status, _ := doReq(t, "POST", u, "4last\x1e1\x1e4ignored", nil); status != 200 {
			t.Fatalf("POST status %d", status)
		}
		if body := <-got; body != "6" {
			t.Errorf("GET got %q, want noop", body)
		}
		if m := recvMsg(t, rec); m.data != "last" {
			t.Errorf("got %+v", m)
		}
		if reason := recvClose(t, rec); reason != ReasonTransportClose {
			t.Errorf("reason %q", reason)
		}
		select {
		case m := <-rec.msgs:
			t.Errorf("message after close packet delivered: %+v", m)
		default:
		}
	})
	t.Run("ParseError", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		if status, _ := ts.post(t, "transport=polling&sid="+sid, "4ok\x1eabc"); status != 400 {
			t.Errorf("status %d", status)
		}
		if reason := recvClose(t, rec); reason != ReasonParseError {
			t.Errorf("reason %q", reason)
		}
		select {
		case m := <-rec.msgs:
			t.Errorf("message of a malformed payload delivered: %+v", m)
		default:
		}
	})
	t.Run("ServerCloseFlushes", func(t *testing.T) {
		ts := newTestServer(t, Config{})
		sid := ts.handshake(t).SID
		rec := ts.nextConn(t)
		rec.c.Send(TextMessage("bye"))
		rec.c.Close("kicked")
		if err := rec.c.Send(TextMessage("late")); err != ErrClosed {
			t.Errorf("Send after Close: %v", err)
		}
		// Like Node: the last messages, then the close packet alone.
		if _, body := ts.get(t, "transport=polling&sid="+sid); body != "4bye" {
			t.Errorf("GET %q", body)
		}
		if _, body := ts.get(t, "transport=polling&sid="+sid); body != "1" {
			t.Errorf("second GET %q", body)
		}
		if reason := recvClose(t, rec); reason != "kicked" {
			t.Errorf("reason %q", reason)
		}
	})
}

func TestSend_QueueOverflow(t *testing.T) {
	ts := newTestServer(t, Config{SendQueue: 4})
	ts.handshake(t)
	rec := ts.nextConn(t)
	for i := range 4 {
		if err := rec.c.Send(TextMessage(fmt.Sprint(i))); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if err := rec.c.Send(TextMessage("overflow")); err != ErrQueueFull {
		t.Fatalf("Send beyond the queue: %v", err)
	}
	if reason := recvClose(t, rec); reason != ReasonQueueOverflow {
		t.Errorf("reason %q", reason)
	}
	if err := rec.c.Send(TextMessage("x")); err != ErrClosed {
		t.Errorf("Send after overflow: %v", err)
	}
	if ts.eng.Count() != 0 {
		t.Errorf("Count = %d", ts.eng.Count())
	}
}

func TestHeartbeat_Polling(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 500 * time.Millisecond})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	q := "transport=polling&sid=" + sid
	for i := range 3 {
		if _, body := ts.get(t, q); body != "2" {
			t.Fatalf("ping %d: got %q", i, body)
		}
		if status, _ := ts.post(t, q, "3"); status != 200 {
			t.Fatalf("pong %d: %d", i, status)
		}
	}
	if reason := recvClose(t, rec); reason != ReasonPingTimeout {
		t.Errorf("reason %q", reason)
	}
}

func TestPolling_ConcurrentPost(t *testing.T) {
	ts := newTestServer(t, Config{})
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	rec.block = make(chan struct{})
	q := "transport=polling&sid=" + sid
	first := make(chan int, 1)
	go func() {
		status, _, _, _ := doReqErr("POST", ts.url(q), "4first", nil)
		first <- status
	}()
	testenv.WaitFor(t, 2*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if !rec.c.inHandler {
			return fmt.Errorf("first POST not in OnMessage")
		}
		return nil
	})
	if status, _ := ts.post(t, q, "4second"); status != 400 {
		t.Errorf("overlapping POST: %d", status)
	}
	close(rec.block)
	if status := <-first; status != 200 {
		t.Errorf("first POST: %d", status)
	}
	if m := recvMsg(t, rec); m.data != "first" {
		t.Errorf("got %+v", m)
	}
	if reason := recvClose(t, rec); reason != ReasonTransportError {
		t.Errorf("reason %q", reason)
	}
	select {
	case m := <-rec.msgs:
		t.Errorf("overlapping POST delivered %+v", m)
	default:
	}
}
