package redis

import (
	"context"
	"testing"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestAdapter_Broadcast: room, namespace, except, several rooms and binary
// broadcasts from one server reach every matching client of every server
// exactly once, and never outsiders. Each step ends with a fence
// broadcast to everyone: a client whose next event is not the expected one
// got a duplicate or a stray.
func TestAdapter_Broadcast(t *testing.T) {
	r := testenv.StartPrivateRedis(t)
	nodes := []*node{startNode(t, r, testConfig()), startNode(t, r, testConfig()), startNode(t, r, testConfig())}
	waitServers(t, "/", 3, nodes...)
	var inRoom, outsiders, vip []*client
	for _, n := range nodes {
		inRoom = append(inRoom, connect(t, n, "/", "member", "room"))
		vip = append(vip, connect(t, n, "/", "vip", "room", "vip"))
		outsiders = append(outsiders, connect(t, n, "/", "outsider", "other"))
	}
	all := append(append(append([]*client{}, inRoom...), vip...), outsiders...)
	io := nodes[0].srv.Of("/")
	fence := func(t *testing.T) {
		t.Helper()
		if err := io.Emit("fence"); err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			c.expect(t, "fence", "")
		}
	}
	t.Run("Room", func(t *testing.T) {
		if err := io.To("room").Emit("m", "to room", 1); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(append([]*client{}, inRoom...), vip...) {
			c.expect(t, "m", `"to room",1`)
		}
		fence(t)
	})
	t.Run("Namespace", func(t *testing.T) {
		if err := io.Emit("m", map[string]any{"b": 1, "a": 2.5}); err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			c.expect(t, "m", `{"a":2.5,"b":1}`)
		}
		fence(t)
	})
	t.Run("Except", func(t *testing.T) {
		if err := io.To("room").Except("vip").Emit("m", "not vip"); err != nil {
			t.Fatal(err)
		}
		for _, c := range inRoom {
			c.expect(t, "m", `"not vip"`)
		}
		fence(t)
	})
	t.Run("TwoRooms", func(t *testing.T) {
		if err := io.To("vip", "other").Emit("m", "two"); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(append([]*client{}, vip...), outsiders...) {
			c.expect(t, "m", `"two"`)
		}
		fence(t)
	})
	t.Run("Binary", func(t *testing.T) {
		if err := io.To("vip").Emit("bin", []byte{1, 2, 3}, map[string]any{"x": []byte{4}}); err != nil {
			t.Fatal(err)
		}
		for _, c := range vip {
			ctx := testCtx(t)
			p, name, _, err := c.NextEvent(ctx, "/")
			if err != nil || name != "bin" || len(p.Attachments) != 2 || string(p.Attachments[0]) != "\x01\x02\x03" || string(p.Attachments[1]) != "\x04" {
				t.Fatalf("%s got %v %q %v", c.id, err, name, p)
			}
		}
		fence(t)
	})
	t.Run("ToSocketID", func(t *testing.T) {
		target := outsiders[2]
		if err := io.To(target.id).Volatile().Emit("m", "direct"); err != nil {
			t.Fatal(err)
		}
		target.expect(t, "m", `"direct"`)
		fence(t)
	})
	t.Run("FromSocket", func(t *testing.T) {
		// Broadcast from a socket on node 1: everyone but itself.
		sender := nodes[1].srv.Of("/").Socket(inRoom[1].id)
		if err := sender.Broadcast().Emit("m", "from socket"); err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if c != inRoom[1] {
				c.expect(t, "m", `"from socket"`)
			}
		}
		fence(t)
	})
	t.Run("Local", func(t *testing.T) {
		if err := io.Local().Emit("m", "local"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*client{inRoom[0], vip[0], outsiders[0]} {
			c.expect(t, "m", `"local"`)
		}
		fence(t)
	})
	_ = context.Background
}
