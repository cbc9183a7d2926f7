package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
)

// interop is a mixed cluster on one private Redis: sockgate servers a and
// b, the Node server n (with @socket.io/redis-adapter) and, per step, the
// emitter. Clients: ga (a, room r), gb (b, room r), gx (a, room x), nr (n,
// room r), nx (n, room x).
type interop struct {
	d          deployment
	a, b       *node
	n          *nodeServer
	ga, gb, gx *client
	nr, nx     *nodeClient
}

func newInterop(t *testing.T, d deployment) *interop {
	cfg := testConfig()
	cfg.Key = "interop"
	x := &interop{d: d, a: d.start(t, cfg), b: d.start(t, cfg)}
	x.n = startNodeServer(t, d, cfg.Key)
	waitServers(t, "/", 3, x.a, x.b)
	x.ga, x.gb, x.gx = connect(t, x.a, "/", "ga", "r"), connect(t, x.b, "/", "gb", "r"), connect(t, x.a, "/", "gx", "x")
	x.nr, x.nx = x.n.client(t, "nr", "r"), x.n.client(t, "nx", "x")
	if d.mode == ModeSharded { // the Node server's room subscriptions (dynamic mode)
		x.roomServers(t, "r", 3)
		x.roomServers(t, "x", 2)
	}
	return x
}

// roomServers waits until n servers subscribe room's sharded channel.
func (x *interop) roomServers(t *testing.T, room string, n int) {
	t.Helper()
	ch := "interop#/#" + room + "#"
	testenv.WaitFor(t, 5*time.Second, func() error {
		got, err := numSub(testCtx(t), x.a.rdb, ch, true)
		if err != nil || got != n {
			return fmt.Errorf("%s: %d subscribers (%v), want %d", ch, got, err, n)
		}
		return nil
	})
}

// third sends op (emit, join, leave, disconnect, sse) through the emitter
// in classic mode; the emitter does not speak the sharded format, so in
// sharded mode the Node server sends it.
func (x *interop) third(t *testing.T, op map[string]any) {
	t.Helper()
	if x.d.mode == ModeSharded {
		x.n.call(t, op, nil)
		return
	}
	x.n.emitter(t, op)
}

// from names a subtest of the third sender ("FromEmitter", or
// "FromNodeAgain" in sharded mode).
func (x *interop) from() string {
	if x.d.mode == ModeSharded {
		return "FromNodeAgain"
	}
	return "FromEmitter"
}

// fence broadcasts "fence" to everyone from a: each client's next event
// must be it, so nothing arrived twice or where it should not.
func (x *interop) fence(t *testing.T) {
	t.Helper()
	if err := x.a.srv.Of("/").Emit("fence"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{x.ga, x.gb, x.gx} {
		c.expect(t, "fence", "")
	}
	for _, c := range []*nodeClient{x.nr, x.nx} {
		c.expect(t, "fence", "[]")
	}
}

func expectBinary(t *testing.T, c *client, event, first string, bin []byte) {
	t.Helper()
	p, name, args, err := c.NextEvent(testCtx(t), "/")
	if err != nil || name != event || len(args) != 2 || string(args[0]) != first || len(p.Attachments) != 1 || string(p.Attachments[0]) != string(bin) {
		t.Fatalf("%s got %s %v %q (%v), want %s(%s, <%x>)", c.id, name, args, p.Attachments, err, event, first, bin)
	}
}

// TestInterop: two sockgate servers, a Node socket.io server with
// createAdapter and the emitter on one private Redis.
func TestInterop(t *testing.T) { testInterop(t, classicDeployment(t)) }

// TestInteropSharded: two sockgate servers in sharded mode and a Node
// socket.io server with createShardedAdapter on a private Redis Cluster.
func TestInteropSharded(t *testing.T) { testInterop(t, shardedDeployment(t)) }

func testInterop(t *testing.T, d deployment) {
	x := newInterop(t, d)
	t.Run("Broadcasts", x.broadcasts)
	t.Run("FetchSockets", x.fetchSockets)
	t.Run("RoomOps", x.roomOps)
	t.Run("EmitWithAck", x.emitWithAck)
	t.Run("ServerSideEmit", x.serverSideEmit)
	t.Run("Disconnect", x.disconnect)
}

func (x *interop) broadcasts(t *testing.T) {
	t.Run("FromSockgate", func(t *testing.T) {
		if err := x.a.srv.Of("/").To("r").Emit("m", "go", []byte{1, 2}); err != nil {
			t.Fatal(err)
		}
		expectBinary(t, x.ga, "m", `"go"`, []byte{1, 2})
		expectBinary(t, x.gb, "m", `"go"`, []byte{1, 2})
		x.nr.expect(t, "m", `["go",{"bin":"0102"}]`)
		x.fence(t)
	})
	t.Run("FromNodeExcept", func(t *testing.T) {
		x.n.call(t, map[string]any{"op": "emit", "rooms": []string{"r"}, "except": []string{x.gb.id},
			"event": "m", "args": []any{"node", map[string]string{"bin": "0304"}}}, nil)
		expectBinary(t, x.ga, "m", `"node"`, []byte{3, 4})
		x.nr.expect(t, "m", `["node",{"bin":"0304"}]`)
		x.fence(t)
	})
	t.Run("FromNodeNamespace", func(t *testing.T) {
		x.n.call(t, map[string]any{"op": "emit", "event": "m", "args": []any{json.RawMessage(`{"k":1,"f":1.5}`)}}, nil)
		for _, c := range []*client{x.ga, x.gb, x.gx} {
			c.expect(t, "m", `{"k":1,"f":1.5}`)
		}
		x.nr.expect(t, "m", `[{"k":1,"f":1.5}]`)
		x.nx.expect(t, "m", `[{"k":1,"f":1.5}]`)
		x.fence(t)
	})
	t.Run(x.from(), func(t *testing.T) {
		x.third(t, map[string]any{"op": "emit", "rooms": []string{"r"}, "event": "m", "args": []any{"emitter", map[string]string{"bin": "05"}}})
		expectBinary(t, x.ga, "m", `"emitter"`, []byte{5})
		expectBinary(t, x.gb, "m", `"emitter"`, []byte{5})
		x.nr.expect(t, "m", `["emitter",{"bin":"05"}]`)
		x.fence(t)
	})
}

// fetchSockets: each side sees the other's sockets in Node's shape.
func (x *interop) fetchSockets(t *testing.T) {
	t.Run("FromNode", func(t *testing.T) {
		var socks []struct {
			ID        string          `json:"id"`
			Rooms     []string        `json:"rooms"`
			Data      json.RawMessage `json:"data"`
			Handshake map[string]any  `json:"handshake"`
		}
		x.n.call(t, map[string]any{"op": "fetch", "rooms": []string{"r"}}, &socks)
		if len(socks) != 3 {
			t.Fatalf("node fetched %d sockets, want 3: %+v", len(socks), socks)
		}
		for _, s := range socks {
			if s.ID != x.gb.id {
				continue
			}
			hs := s.Handshake
			q, _ := hs["query"].(map[string]any)
			auth, _ := hs["auth"].(map[string]any)
			_, headers := hs["headers"].(map[string]any)
			_, issued := hs["issued"].(float64)
			_, tm := hs["time"].(string)
			if q["EIO"] != "4" || q["transport"] != "websocket" || auth["name"] != "gb" || !headers || !issued || !tm ||
				hs["address"] != "127.0.0.1" || string(s.Data) != `{"name":"gb"}` || !slices.Contains(s.Rooms, "r") {
				t.Fatalf("sockgate socket seen by node: %+v", s)
			}
			return
		}
		t.Fatalf("gb missing from %+v", socks)
	})
	t.Run("FromSockgate", func(t *testing.T) {
		socks, err := x.b.srv.Of("/").In("x").FetchSockets(testCtx(t))
		if err != nil || len(socks) != 2 {
			t.Fatalf("fetched %d, %v", len(socks), err)
		}
		for _, s := range socks {
			if s.ID == x.nx.id {
				if s.Handshake.Query.Get("EIO") != "4" || string(s.Data) != `{"name":"nx"}` || !slices.Contains(s.Rooms, "x") ||
					s.Handshake.Time.IsZero() || s.Handshake.Headers.Get("Host") == "" {
					t.Fatalf("node socket: %+v", s)
				}
				return
			}
		}
		t.Fatalf("nx missing from %v", ids(socks))
	})
}

// members polls sockgate's FetchSockets for room until it holds want.
func (x *interop) members(t *testing.T, room string, want ...string) {
	t.Helper()
	sort.Strings(want)
	testenv.WaitFor(t, 3*time.Second, func() error {
		socks, err := x.a.srv.Of("/").In(room).FetchSockets(testCtx(t))
		if err != nil {
			return err
		}
		if got := ids(socks); !slices.Equal(got, want) {
			return fmt.Errorf("room %s holds %v, want %v", room, got, want)
		}
		return nil
	})
}

func (x *interop) roomOps(t *testing.T) {
	t.Run("JoinFromNode", func(t *testing.T) {
		x.n.call(t, map[string]any{"op": "join", "rooms": []string{"r"}, "room": "j"}, nil)
		x.members(t, "j", x.ga.id, x.gb.id, x.nr.id)
	})
	t.Run("Leave"+x.from(), func(t *testing.T) {
		x.third(t, map[string]any{"op": "leave", "rooms": []string{"j"}, "except": []string{x.ga.id}, "room": "j"})
		x.members(t, "j", x.ga.id)
	})
	t.Run("Join"+x.from(), func(t *testing.T) {
		x.third(t, map[string]any{"op": "join", "rooms": []string{"x"}, "room": "j"})
		x.members(t, "j", x.ga.id, x.gx.id, x.nx.id)
	})
	t.Run("LeaveFromSockgate", func(t *testing.T) {
		if err := x.b.srv.Of("/").In("j").Except(x.gx.id).SocketsLeave(testCtx(t), "j"); err != nil {
			t.Fatal(err)
		}
		x.members(t, "j", x.gx.id)
	})
	t.Run("JoinFromSockgate", func(t *testing.T) {
		if err := x.b.srv.Of("/").In(x.nx.id).SocketsJoin(testCtx(t), "k"); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 3*time.Second, func() error {
			var socks []struct {
				ID string `json:"id"`
			}
			x.n.call(t, map[string]any{"op": "fetch", "rooms": []string{"k"}}, &socks)
			if len(socks) != 1 || socks[0].ID != x.nx.id {
				return fmt.Errorf("node sees room k = %+v", socks)
			}
			return nil
		})
	})
	x.fence(t)
}

// answerAck reads c's next event, which must ask for an ack, and answers it.
func answerAck(t *testing.T, c *client, event string) {
	t.Helper()
	p, name, _, err := c.NextEvent(testCtx(t), "/")
	if err != nil || name != event || !p.HasID {
		t.Fatalf("%s got %s (%v), want %s with an ack id", c.id, name, err, event)
	}
	if err := c.Ack("/", p.ID, map[string]string{"from": c.id}); err != nil {
		t.Fatal(err)
	}
}

func (x *interop) emitWithAck(t *testing.T) {
	want := []string{x.ga.id, x.gb.id, "nr"}
	sort.Strings(want)
	t.Run("FromNode", func(t *testing.T) {
		id := x.n.send(t, map[string]any{"op": "emitWithAck", "rooms": []string{"r"}, "event": "q", "timeout": 3000})
		answerAck(t, x.ga, "q")
		answerAck(t, x.gb, "q")
		var res struct {
			Replies []map[string]string `json:"replies"`
			Error   string              `json:"error"`
		}
		x.n.result(t, id, &res)
		var from []string
		for _, r := range res.Replies {
			from = append(from, r["from"])
		}
		sort.Strings(from)
		if res.Error != "" || !slices.Equal(from, want) {
			t.Fatalf("node collected %v (%s), want %v", from, res.Error, want)
		}
		x.nr.expect(t, "q", "[]")
	})
	t.Run("FromSockgate", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			answerAck(t, x.ga, "q")
			answerAck(t, x.gb, "q")
		}()
		replies, err := x.b.srv.Of("/").To("r").Timeout(3*time.Second).EmitWithAck(context.Background(), "q")
		<-done
		var from []string
		for _, r := range replies {
			var v map[string]string
			_ = r.Decode(0, &v)
			from = append(from, v["from"])
		}
		sort.Strings(from)
		if err != nil || !slices.Equal(from, want) {
			t.Fatalf("sockgate collected %v (%v), want %v", from, err, want)
		}
		x.nr.expect(t, "q", "[]")
	})
	x.fence(t)
}

func (x *interop) serverSideEmit(t *testing.T) {
	seen := make(chan string, 10)
	for name, nd := range map[string]*node{"a": x.a, "b": x.b} {
		nd.srv.Of("/").OnServerSideEmit("hello", func(args socketio.Args, ack func(any)) {
			seen <- name + ":" + string(args.Raw(0))
			if ack != nil {
				ack(map[string]string{"from": name})
			}
		})
	}
	t.Run("FromNodeWithAck", func(t *testing.T) {
		var res struct {
			Replies []map[string]string `json:"replies"`
			Error   string              `json:"error"`
		}
		x.n.call(t, map[string]any{"op": "sseAck", "event": "hello", "args": []any{"from node"}}, &res)
		from := []string{}
		for _, r := range res.Replies {
			from = append(from, r["from"])
		}
		sort.Strings(from)
		if res.Error != "" || !slices.Equal(from, []string{"a", "b"}) {
			t.Fatalf("node got replies %v (%s)", from, res.Error)
		}
		got := []string{<-seen, <-seen}
		sort.Strings(got)
		if !slices.Equal(got, []string{`a:"from node"`, `b:"from node"`}) {
			t.Fatalf("handlers saw %v", got)
		}
	})
	t.Run("FromSockgateWithAck", func(t *testing.T) {
		replies, err := x.a.srv.Of("/").ServerSideEmitWithAck(testCtx(t), "hello", "from a")
		var from []string
		for _, r := range replies {
			from = append(from, string(r.Raw(0)))
		}
		sort.Strings(from)
		if err != nil || !slices.Equal(from, []string{`{"from":"b"}`, `{"from":"node"}`}) {
			t.Fatalf("sockgate got replies %v (%v)", from, err)
		}
		if got := <-seen; got != `b:"from a"` {
			t.Fatalf("handler saw %s", got)
		}
	})
	t.Run(x.from(), func(t *testing.T) {
		x.third(t, map[string]any{"op": "sse", "event": "hello", "args": []any{"from emitter"}})
		got := []string{<-seen, <-seen}
		sort.Strings(got)
		if !slices.Equal(got, []string{`a:"from emitter"`, `b:"from emitter"`}) {
			t.Fatalf("handlers saw %v", got)
		}
	})
}

// disconnect: disconnectSockets from sockgate, from Node and from the
// emitter each reach the socket on another server.
func (x *interop) disconnect(t *testing.T) {
	t.Run("FromSockgate", func(t *testing.T) {
		if err := x.a.srv.Of("/").In(x.nx.id).DisconnectSockets(testCtx(t), false); err != nil {
			t.Fatal(err)
		}
		x.nx.expect(t, "disconnect", `["io server disconnect"]`)
	})
	waitGone := func(t *testing.T, nd *node, id string) {
		testenv.WaitFor(t, 3*time.Second, func() error {
			if nd.srv.Of("/").Socket(id) != nil {
				return fmt.Errorf("%s still connected", id)
			}
			return nil
		})
	}
	t.Run("FromNode", func(t *testing.T) {
		x.n.call(t, map[string]any{"op": "disconnect", "rooms": []string{x.gx.id}}, nil)
		waitGone(t, x.a, x.gx.id)
	})
	t.Run(x.from(), func(t *testing.T) {
		x.third(t, map[string]any{"op": "disconnect", "rooms": []string{x.gb.id}, "close": true})
		waitGone(t, x.b, x.gb.id)
	})
}
