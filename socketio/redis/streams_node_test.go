package redis

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestStreams_NodeInterop: a sockgate server and a Node socket.io 4.8
// server with @socket.io/redis-streams-adapter 0.3.1 share one stream.
// Broadcasts cross both ways, every client seeing the same offset (the
// entry id); a real client cut from the Node server recovers on sockgate,
// and one cut from sockgate recovers on the Node server, each with the
// broadcasts of both servers it missed, exactly once and in order.
func TestStreams_NodeInterop(t *testing.T) {
	r := testenv.StartRedisServer(t)
	js := startStreamsNode(t, r, "socket.io", true)
	a := startRecoveryNode(t, r, testConfig())
	waitServers(t, "/", 2, a.node)
	waitReaders(t, r.Client(t), 2)
	fromA := func(arg int, rooms ...string) {
		t.Helper()
		if err := a.srv.Of("/").To(rooms...).EmitContext(testCtx(t), "m", arg); err != nil {
			t.Fatal(err)
		}
	}
	rdb := r.Client(t)
	fromNode := func(arg int, rooms ...string) { // Node's emit XADDs asynchronously: wait for it
		t.Helper()
		n := rdb.XLen(testCtx(t), "socket.io").Val()
		js.call(t, map[string]any{"op": "emit", "rooms": rooms, "event": "m", "args": []any{arg}}, nil)
		testenv.WaitFor(t, 2*time.Second, func() error {
			if rdb.XLen(testCtx(t), "socket.io").Val() == n {
				return errors.New("not in the stream yet")
			}
			return nil
		})
	}
	nodeURL := "http://" + js.addr()

	t.Run("Broadcasts", func(t *testing.T) {
		onA := js.connect(t, "onA", "http://"+a.addr, "r")
		onNode := js.connect(t, "onNode", nodeURL, "r")
		defer js.call(t, map[string]any{"op": "close", "name": "onA"}, nil)
		defer js.call(t, map[string]any{"op": "close", "name": "onNode"}, nil)
		fromA(1, "r")
		if x, y := onA.expect(t, "m", "[1]"), onNode.expect(t, "m", "[1]"); x == "" || x != y {
			t.Fatalf("offsets %q and %q: want one entry id", x, y)
		}
		fromNode(2, "r")
		if x, y := onA.expect(t, "m", "[2]"), onNode.expect(t, "m", "[2]"); x == "" || x != y {
			t.Fatalf("offsets %q and %q: want one entry id", x, y)
		}
	})
	t.Run("NodeToSockgate", func(t *testing.T) {
		testCrossRecovery(t, js, r, "n2s", js.addr(), a.addr, fromA, fromNode)
	})
	t.Run("SockgateToNode", func(t *testing.T) {
		testCrossRecovery(t, js, r, "s2n", a.addr, js.addr(), fromA, fromNode)
	})
}

// testCrossRecovery: a client in room r through a proxy to from is cut,
// misses broadcasts of both servers (and some not for it), and recovers
// on to.
func testCrossRecovery(t *testing.T, js *streamsNode, r *testenv.RedisServer, name, from, to string, emits ...func(arg int, rooms ...string)) {
	proxy := startProxy(t, from)
	c := js.connect(t, name, proxy.url(), "r")
	defer js.call(t, map[string]any{"op": "close", "name": name}, nil)
	emits[0](0, "r")
	c.expect(t, "m", "[0]")
	cutAndWait(t, proxy, r.Client(t))
	var want []string
	for i := 1; i <= 4; i++ {
		emits[i%2](i, "r")
		emits[(i+1)%2](-i, "other")
		want = append(want, fmt.Sprintf("[%d]", i))
	}
	proxy.resume(to)
	c.expectReconnect(t)
	for _, w := range want {
		c.expect(t, "m", w)
	}
	emits[1](5, "r")
	c.expect(t, "m", "[5]")
}
