package redis

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/sockgate/sockgate/internal/testenv"
)

// bcastCluster is three servers with, on each, a member of "room", a
// member of "room" and "vip", and an outsider in "other".
type bcastCluster struct {
	nodes                  []*node
	inRoom, vip, outsiders []*client
	all                    []*client
}

func newBcastCluster(t *testing.T) *bcastCluster {
	r := testenv.StartRedisServer(t)
	x := &bcastCluster{nodes: []*node{startNode(t, r, testConfig()), startNode(t, r, testConfig()), startNode(t, r, testConfig())}}
	waitServers(t, "/", 3, x.nodes...)
	for _, n := range x.nodes {
		x.inRoom = append(x.inRoom, connect(t, n, "/", "member", "room"))
		x.vip = append(x.vip, connect(t, n, "/", "vip", "room", "vip"))
		x.outsiders = append(x.outsiders, connect(t, n, "/", "outsider", "other"))
	}
	x.all = join(x.inRoom, x.vip, x.outsiders)
	return x
}

func join(lists ...[]*client) []*client {
	var out []*client
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// fence broadcasts "fence" to everyone: each client's next event must be
// it, so nothing arrived twice or where it should not.
func (x *bcastCluster) fence(t *testing.T) {
	t.Helper()
	if err := x.nodes[0].srv.Of("/").Emit("fence"); err != nil {
		t.Fatal(err)
	}
	for _, c := range x.all {
		c.expect(t, "fence", "")
	}
}

// step emits with emit, checks that each of to receives event(want), then
// fences.
func (x *bcastCluster) step(t *testing.T, emit func() error, to []*client, want string) {
	t.Helper()
	if err := emit(); err != nil {
		t.Fatal(err)
	}
	for _, c := range to {
		c.expect(t, "m", want)
	}
	x.fence(t)
}

// TestAdapter_Broadcast: room, namespace, except, several rooms, socket-id
// and binary broadcasts from one server reach every matching client of
// every server exactly once, and never outsiders.
func TestAdapter_Broadcast(t *testing.T) {
	x := newBcastCluster(t)
	io := x.nodes[0].srv.Of("/")
	t.Run("Room", func(t *testing.T) {
		x.step(t, func() error { return io.To("room").Emit("m", "to room", 1) }, join(x.inRoom, x.vip), `"to room",1`)
	})
	t.Run("Namespace", func(t *testing.T) {
		x.step(t, func() error { return io.Emit("m", json.RawMessage(`{"b":1,"a":2.5}`)) }, x.all, `{"b":1,"a":2.5}`)
	})
	t.Run("Except", func(t *testing.T) {
		x.step(t, func() error { return io.To("room").Except("vip").Emit("m", "not vip") }, x.inRoom, `"not vip"`)
	})
	t.Run("TwoRooms", func(t *testing.T) {
		x.step(t, func() error { return io.To("vip", "other").Emit("m", "two") }, join(x.vip, x.outsiders), `"two"`)
	})
	t.Run("ToSocketIDVolatile", func(t *testing.T) {
		target := x.outsiders[2]
		x.step(t, func() error { return io.To(target.id).Volatile().Emit("m", "direct") }, []*client{target}, `"direct"`)
	})
	t.Run("FromSocket", func(t *testing.T) {
		sender := x.nodes[1].srv.Of("/").Socket(x.inRoom[1].id)
		others := slices.DeleteFunc(slices.Clone(x.all), func(c *client) bool { return c == x.inRoom[1] })
		x.step(t, func() error { return sender.Broadcast().Emit("m", "from socket") }, others, `"from socket"`)
	})
	t.Run("Local", func(t *testing.T) {
		x.step(t, func() error { return io.Local().Emit("m", "local") }, []*client{x.inRoom[0], x.vip[0], x.outsiders[0]}, `"local"`)
	})
	t.Run("Binary", func(t *testing.T) {
		if err := io.To("vip").Emit("bin", []byte{1, 2, 3}, map[string]any{"x": []byte{4}}); err != nil {
			t.Fatal(err)
		}
		for _, c := range x.vip {
			p, name, _, err := c.NextEvent(testCtx(t), "/")
			if err != nil || name != "bin" || len(p.Attachments) != 2 || string(p.Attachments[0]) != "\x01\x02\x03" || string(p.Attachments[1]) != "\x04" {
				t.Fatalf("%s got %v %q %v", c.id, err, name, p)
			}
		}
		x.fence(t)
	})
}
