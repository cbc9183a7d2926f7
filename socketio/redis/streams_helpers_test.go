package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// switchProxy is a TCP proxy in front of one server at a time: cut closes
// every proxied connection and holds new ones until resume names the
// server they go to, so a real client is cut from one server and
// reconnects (by itself) to another.
type switchProxy struct {
	ln net.Listener

	mu      sync.Mutex
	backend string
	open    chan struct{} // closed while connections may proceed
	conns   map[net.Conn]struct{}
}

func startProxy(t *testing.T, backend string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, backend: backend, open: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	close(p.open)
	t.Cleanup(func() { ln.Close(); p.cut(); p.resume("127.0.0.1:1") })
	go p.serve()
	return p
}

// url is the proxy's Socket.IO URL.
func (p *switchProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *switchProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *switchProxy) pipe(c net.Conn) {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	<-open
	p.mu.Lock()
	backend := p.backend
	p.mu.Unlock()
	b, err := net.DialTimeout("tcp", backend, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(b, c); b.Close() }()
	_, _ = io.Copy(c, b)
	c.Close()
}

// cut closes the proxied connections and holds new ones until resume.
func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// resume lets connections through to backend (host:port).
func (p *switchProxy) resume(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = backend
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// recoveryNode is a sockgate server in streams mode with connection-state
// recovery, on r, whose sockets join the rooms of their auth (unless
// recovered).
type recoveryNode struct {
	*node
	addr string // host:port
	stop func() // shuts the server down (once; also at the test's end)
}

func startRecoveryNode(t *testing.T, r *testenv.RedisServer, cfg Config) *recoveryNode {
	t.Helper()
	cfg.Mode = ModeStreams
	rdb := r.Client(t)
	srv, err := socketio.Open(socketio.Config{
		Adapter: NewAdapter(rdb, cfg), AckTimeout: 3 * time.Second,
		Recovery: &socketio.RecoveryConfig{MaxDisconnectionDuration: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			joinFromAuth(s)
		}
	})
	hs := httptest.NewServer(srv)
	n := &recoveryNode{node: &node{srv: srv, url: hs.URL + "/socket.io/", rdb: rdb}, addr: hs.Listener.Addr().String()}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			hs.Close()
		})
	}
	t.Cleanup(func() { n.stop() })
	return n
}

// streamsNode is testdata/streams_node.js: real socket.io-client clients
// and, with a server, a Node socket.io server with the streams adapter.
type streamsNode struct {
	*nodeServer
	port int // the Node server's, 0 without
}

func startStreamsNode(t *testing.T, r *testenv.RedisServer, stream string, server bool) *streamsNode {
	t.Helper()
	n := &nodeServer{redis: r.URL(), results: make(map[int]chan nodeResult),
		clients: make(map[string]chan nodeEvent), ready: make(chan int, 1)}
	args := []string{r.URL(), stream}
	if server {
		args = append(args, "server")
	}
	n.p = testenv.StartNode(t, filepath.Join("testdata", "streams_node.js"), args...)
	go n.route(t)
	select {
	case port := <-n.ready:
		return &streamsNode{nodeServer: n, port: max(port, 0)}
	case <-time.After(15 * time.Second):
		t.Fatal("streams_node.js not ready")
	}
	return nil
}

// addr is the Node server's host:port.
func (n *streamsNode) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// realClient is a socket.io-client of streams_node.js.
type realClient struct {
	n       *streamsNode
	name    string
	id      string
	pending []nodeEvent // events read before a connect event
}

func (n *streamsNode) connect(t *testing.T, name, url string, rooms ...string) *realClient {
	t.Helper()
	c := &realClient{n: n, name: name}
	n.call(t, map[string]any{"op": "client", "name": name, "url": url, "joins": rooms}, &c.id)
	c.next(t) // its connect event
	return c
}

// next returns the client's next event.
func (c *realClient) next(t *testing.T) nodeEvent {
	t.Helper()
	if len(c.pending) > 0 {
		e := c.pending[0]
		c.pending = c.pending[1:]
		return e
	}
	select {
	case e := <-c.n.clientChan(c.name):
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("client %s: no event", c.name)
	}
	return nodeEvent{}
}

// expect reads the next event: event whose arguments, less a trailing
// offset (returned, "" if none), are the JSON array args.
func (c *realClient) expect(t *testing.T, event, args string) (offset string) {
	t.Helper()
	e := c.next(t)
	var elems []json.RawMessage
	_ = json.Unmarshal(e.Args, &elems)
	if n := len(elems); n > 0 {
		var s string
		if json.Unmarshal(elems[n-1], &s) == nil && offsetPattern.MatchString(s) {
			offset, elems = s, elems[:n-1]
		}
	}
	got := make([]string, len(elems))
	for i, a := range elems {
		got[i] = string(a)
	}
	if e.Event != event || "["+strings.Join(got, ",")+"]" != args {
		t.Fatalf("client %s got %s%s, want %s%s", c.name, e.Event, e.Args, event, args)
	}
	return offset
}

// expectReconnect reads the disconnect, then the connect event, which must
// keep the socket id and say recovered. Events before the connect event
// are kept for expect: socket.io-client emits the events received with
// the CONNECT packet before "connect", and Node's server sends the missed
// packets before its CONNECT packet.
func (c *realClient) expectReconnect(t *testing.T) {
	t.Helper()
	if e := c.next(t); e.Event != "disconnect" {
		t.Fatalf("client %s: got %s%s, want disconnect", c.name, e.Event, e.Args)
	}
	var early []nodeEvent
	e := c.next(t)
	for ; e.Event != "connect" && e.Event != "disconnect"; e = c.next(t) {
		early = append(early, e)
	}
	c.pending = append(early, c.pending...)
	var args []any
	_ = json.Unmarshal(e.Args, &args)
	if e.Event != "connect" || len(args) != 2 || args[0] != c.id || args[1] != true {
		t.Fatalf("client %s: got %s%s, want connect [%q, true]", c.name, e.Event, e.Args, c.id)
	}
}

// sessions returns the number of sessions in Redis.
func sessions(t *testing.T, rdb goredis.UniversalClient) int {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "sio:session:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// cutAndWait cuts the proxy and waits until the server that had the
// client has persisted its session.
func cutAndWait(t *testing.T, p *switchProxy, rdb goredis.UniversalClient) {
	t.Helper()
	before := sessions(t, rdb)
	p.cut()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := sessions(t, rdb); n != before+1 {
			return fmt.Errorf("%d sessions, want %d", n, before+1)
		}
		return nil
	})
}

// waitReaders waits until n connections are blocked in XREAD (every
// server's stream reader runs).
func waitReaders(t *testing.T, rdb goredis.UniversalClient, n int) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		list, err := rdb.ClientList(context.Background()).Result()
		if err != nil {
			return err
		}
		if got := strings.Count(list, "cmd=xread"); got != n {
			return fmt.Errorf("%d readers, want %d", got, n)
		}
		return nil
	})
}
