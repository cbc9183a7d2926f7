package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// inbound is one message a recorder received.
type inbound struct {
	data   string
	binary bool
}

// recorder is a ConnHandler that records what it gets.
type recorder struct {
	c      *Conn
	msgs   chan inbound
	closed chan string
	block  chan struct{} // when non-nil, OnMessage waits on it
}

func (r *recorder) OnMessage(data []byte, binary bool) {
	if r.block != nil {
		<-r.block
	}
	r.msgs <- inbound{string(data), binary}
}

func (r *recorder) OnClose(reason string) {
	select {
	case r.closed <- reason:
	default:
		panic("OnClose called twice")
	}
}

// testServer is an engine Server behind httptest with a recorder per conn.
type testServer struct {
	eng   *Server
	http  *httptest.Server
	conns chan *recorder
	// bodyRead counts the request body bytes the engine read.
	bodyRead chan int64
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{conns: make(chan *recorder, 100), bodyRead: make(chan int64, 100)}
	ts.eng = New(cfg, func(c *Conn) {
		rec := &recorder{c: c, msgs: make(chan inbound, 10000), closed: make(chan string, 1)}
		c.SetHandler(rec)
		ts.conns <- rec
	})
	ts.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := &countingReader{r: r.Body}
		r.Body = cr
		ts.eng.ServeHTTP(w, r)
		select {
		case ts.bodyRead <- cr.n:
		default:
		}
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.eng.Shutdown(ctx)
		ts.http.Close()
	})
	return ts
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
func (c *countingReader) Close() error { return c.r.Close() }

func (ts *testServer) url(query string) string {
	return ts.http.URL + "/engine.io/?EIO=4&" + query
}

func (ts *testServer) nextConn(t *testing.T) *recorder {
	t.Helper()
	select {
	case r := <-ts.conns:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// handshake opens a polling session and returns the open packet's payload.
func (ts *testServer) handshake(t *testing.T) openPayload {
	t.Helper()
	status, body := ts.get(t, "transport=polling")
	if status != 200 || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var p openPayload
	if err := json.Unmarshal([]byte(body[1:]), &p); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return p
}

func (ts *testServer) get(t *testing.T, query string) (int, string) {
	t.Helper()
	return doReq(t, http.MethodGet, ts.url(query), "", nil)
}

func (ts *testServer) post(t *testing.T, query, body string) (int, string) {
	t.Helper()
	return doReq(t, http.MethodPost, ts.url(query), body, nil)
}

func doReq(t *testing.T, method, url, body string, hdr http.Header) (int, string) {
	t.Helper()
	status, b, _, err := doReqErr(method, url, body, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, b
}

func doReqErr(method, url, body string, hdr http.Header) (int, string, http.Header, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

func recvMsg(t *testing.T, r *recorder) inbound {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
		return inbound{}
	}
}

func recvClose(t *testing.T, r *recorder) string {
	t.Helper()
	select {
	case reason := <-r.closed:
		return reason
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
		return ""
	}
}

// wsClient is a raw gobwas WebSocket client.
type wsClient struct {
	t  *testing.T
	nc net.Conn
	rw io.ReadWriter
}

func (ts *testServer) dialWS(t *testing.T, query string) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.url(query), "http")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, u)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { nc.Close() })
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	return &wsClient{t: t, nc: nc, rw: struct {
		io.Reader
		io.Writer
	}{r, nc}}
}

func (c *wsClient) sendText(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientMessage(c.nc, ws.OpText, []byte(s)); err != nil {
		c.t.Fatalf("ws send: %v", err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := wsutil.WriteClientMessage(c.nc, ws.OpBinary, b); err != nil {
		c.t.Fatalf("ws send: %v", err)
	}
}

// read returns the next data frame; a close frame yields err ClosedError.
func (c *wsClient) read() (string, ws.OpCode, error) {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, op, err := wsutil.ReadServerData(c.rw)
	return string(b), op, err
}

func (c *wsClient) mustRead() string {
	c.t.Helper()
	s, _, err := c.read()
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	return s
}

// expectClose reads until the connection ends and returns the close code
// (0 when the connection ended without a close frame).
func (c *wsClient) expectClose() ws.StatusCode {
	c.t.Helper()
	for {
		_, _, err := c.read()
		if err == nil {
			continue
		}
		var ce wsutil.ClosedError
		if errors.As(err, &ce) {
			c.nc.Close() // as a client does after the closing handshake
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("connection not closed")
		}
		return 0
	}
}

var _ = bufio.NewReader
