package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
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
		// Binary: the entry's data is base64 msgpack, bin values inline.
		if err := a.srv.Of("/").To("r").EmitContext(testCtx(t), "m", []byte{1, 2, 3}, map[string]any{"x": 1.5}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*realClient{onA, onNode} {
			c.expect(t, "m", `[{"bin":"010203"},{"x":1.5}]`)
		}
		js.call(t, map[string]any{"op": "emit", "rooms": []string{"r"}, "event": "m", "args": []any{map[string]any{"y": map[string]string{"bin": "0405"}}}}, nil)
		for _, c := range []*realClient{onA, onNode} {
			c.expect(t, "m", `[{"y":{"bin":"0405"}}]`)
		}
	})
	t.Run("Requests", func(t *testing.T) { testNodeRequests(t, js, a) })
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

// testNodeRequests: fetchSockets, socketsJoin, serverSideEmit with acks
// and broadcasts with acks between sockgate and the Node server, both
// ways (the requests over pub/sub in msgpack, the joins in the stream).
func testNodeRequests(t *testing.T, js *streamsNode, a *recoveryNode) {
	onA := js.connect(t, "qA", "http://"+a.addr, "q")
	onNode := js.connect(t, "qN", "http://"+js.addr(), "q")
	defer js.call(t, map[string]any{"op": "close", "name": "qA"}, nil)
	defer js.call(t, map[string]any{"op": "close", "name": "qN"}, nil)
	io, ctx := a.srv.Of("/"), testCtx(t)
	socks, err := io.In("q").FetchSockets(ctx)
	if err != nil || !hasIDs(infoIDs(socks), onA.id, onNode.id) {
		t.Fatalf("sockgate fetchSockets: %v, %v", socks, err)
	}
	var fetched []struct {
		ID string `json:"id"`
	}
	js.call(t, map[string]any{"op": "fetch"}, &fetched)
	var ids []string
	for _, f := range fetched {
		ids = append(ids, f.ID)
	}
	if !hasIDs(ids, onA.id, onNode.id) {
		t.Fatalf("node fetchSockets: %v", ids)
	}

	js.call(t, map[string]any{"op": "join", "room": "fromNode"}, nil)
	testenv.WaitFor(t, 2*time.Second, func() error { return roomHas(io, "fromNode", onA.id) })
	if err := io.In("q").SocketsJoin(ctx, "fromGo"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 2*time.Second, func() error {
		var rooms []string
		js.call(t, map[string]any{"op": "rooms", "sid": onNode.id}, &rooms)
		if !hasIDs(rooms, "fromGo") {
			return fmt.Errorf("node socket in %v", rooms)
		}
		return nil
	})

	io.OnServerSideEmit("hello", func(_ socketio.Args, ack func(any)) {
		if ack != nil {
			ack(map[string]string{"from": "sockgate"})
		}
	})
	replies, err := io.ServerSideEmitWithAck(ctx, "hello", 1)
	if err != nil || len(replies) != 1 || string(replies[0].Raw(0)) != `{"from":"node"}` {
		t.Fatalf("serverSideEmitWithAck to node: %v, %v", replies, err)
	}
	var res struct {
		Replies []json.RawMessage `json:"replies"`
		Error   string            `json:"error"`
	}
	js.call(t, map[string]any{"op": "sseAck", "event": "hello", "args": []any{2}}, &res)
	if res.Error != "" || len(res.Replies) != 1 || string(res.Replies[0]) != `{"from":"sockgate"}` {
		t.Fatalf("serverSideEmitWithAck from node: %+v", res)
	}

	acks, err := io.To("q").Timeout(3*time.Second).EmitWithAck(ctx, "ask")
	if err != nil || len(acks) != 2 {
		t.Fatalf("sockgate emitWithAck: %v, %v", acks, err)
	}
	js.call(t, map[string]any{"op": "emitWithAck", "event": "ask", "timeout": 3000}, &res)
	if res.Error != "" || len(res.Replies) != 2 {
		t.Fatalf("node emitWithAck: %+v", res)
	}
	for _, c := range []*realClient{onA, onNode} {
		c.expect(t, "ask", "[]")
		c.expect(t, "ask", "[]")
	}
}

func infoIDs(socks []socketio.SocketInfo) []string {
	var ids []string
	for _, s := range socks {
		ids = append(ids, s.ID)
	}
	return ids
}

// hasIDs reports whether list holds every one of want.
func hasIDs(list []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(list, w) {
			return false
		}
	}
	return true
}
