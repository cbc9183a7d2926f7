package redis

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// nodeServer is testdata/node_server.js: a Node socket.io 4.8.1 server with
// @socket.io/redis-adapter 8.3.0 and socket.io-client clients of its own.
type nodeServer struct {
	p     *testenv.NodeScript
	redis string
	key   string

	mu      sync.Mutex
	nextID  int
	results map[int]chan nodeResult
	clients map[string]chan nodeEvent
	ready   chan int
}

type nodeResult struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

type nodeEvent struct {
	Event string          `json:"event"`
	Args  json.RawMessage `json:"args"`
}

func startNodeServer(t *testing.T, r *testenv.RedisServer, key string) *nodeServer {
	t.Helper()
	n := &nodeServer{redis: r.URL(), key: key, results: make(map[int]chan nodeResult),
		clients: make(map[string]chan nodeEvent), ready: make(chan int, 1)}
	n.p = testenv.StartNode(t, filepath.Join("testdata", "node_server.js"), n.redis, key)
	go n.route(t)
	select {
	case <-n.ready:
	case <-time.After(15 * time.Second):
		t.Fatal("node server not ready")
	}
	return n
}

// route dispatches the script's lines: results by id, client events by
// client name.
func (n *nodeServer) route(t *testing.T) {
	for line := range n.p.Lines {
		var m struct {
			ID     *int   `json:"id"`
			Client string `json:"client"`
			Ready  int    `json:"ready"`
			nodeResult
			nodeEvent
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Logf("node: %s", line)
			continue
		}
		switch {
		case m.Ready != 0:
			n.ready <- m.Ready
		case m.ID != nil:
			n.resultChan(*m.ID) <- m.nodeResult
		case m.Client != "":
			n.clientChan(m.Client) <- m.nodeEvent
		}
	}
}

func (n *nodeServer) resultChan(id int) chan nodeResult {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.results[id] == nil {
		n.results[id] = make(chan nodeResult, 1)
	}
	return n.results[id]
}

func (n *nodeServer) clientChan(name string) chan nodeEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.clients[name] == nil {
		n.clients[name] = make(chan nodeEvent, 1000)
	}
	return n.clients[name]
}

// send starts a command and returns its id (for result).
func (n *nodeServer) send(t *testing.T, cmd map[string]any) int {
	t.Helper()
	n.mu.Lock()
	n.nextID++
	id := n.nextID
	n.mu.Unlock()
	cmd["id"] = id
	if err := n.p.Send(cmd); err != nil {
		t.Fatal(err)
	}
	return id
}

// result waits for command id's result and decodes it into v (if not nil).
func (n *nodeServer) result(t *testing.T, id int, v any) {
	t.Helper()
	select {
	case r := <-n.resultChan(id):
		if r.Error != "" {
			t.Fatalf("node command %d: %s", id, r.Error)
		}
		if v != nil {
			if err := json.Unmarshal(r.Result, v); err != nil {
				t.Fatalf("node command %d: result %s: %v", id, r.Result, err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("node command %d: no result", id)
	}
}

func (n *nodeServer) call(t *testing.T, cmd map[string]any, v any) {
	t.Helper()
	n.result(t, n.send(t, cmd), v)
}

// nodeClient is a socket.io-client of the Node server.
type nodeClient struct {
	n    *nodeServer
	name string
	id   string
}

func (n *nodeServer) client(t *testing.T, name string, rooms ...string) *nodeClient {
	t.Helper()
	c := &nodeClient{n: n, name: name}
	n.call(t, map[string]any{"op": "client", "name": name, "joins": rooms}, &c.id)
	return c
}

// expect reads the client's next event: event with the JSON array args.
func (c *nodeClient) expect(t *testing.T, event, args string) {
	t.Helper()
	select {
	case e := <-c.n.clientChan(c.name):
		if e.Event != event || string(e.Args) != args {
			t.Fatalf("node client %s got %s%s, want %s%s", c.name, e.Event, e.Args, event, args)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("node client %s: no %s event", c.name, event)
	}
}

// emitter runs testdata/emitter.js with @socket.io/redis-emitter ops.
func (n *nodeServer) emitter(t *testing.T, ops ...map[string]any) {
	t.Helper()
	b, _ := json.Marshal(ops)
	s := testenv.StartNode(t, filepath.Join("testdata", "emitter.js"), n.redis, n.key, string(b))
	select {
	case line := <-s.Lines:
		if line != "done" {
			t.Fatalf("emitter: %s", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(fmt.Errorf("emitter did not finish"))
	}
}
