package clustertest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestCluster_CrossInstance: a chat sent by a client on instance A reaches a
// client of the same room on instance B and the reverse, through nginx
// (the Redis adapter relays; the Redis room registry knows both users).
func TestCluster_CrossInstance(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterConfig{})
	srcA, srcB := c.SourceFor(t, 0), c.SourceFor(t, 1)
	user := func(cl, id, name string) map[string]any {
		return map[string]any{"userId": id, "userName": name, "socketId": "$id:" + cl}
	}
	alice, bob := user("a", "alice", "Alice"), user("b", "bob", "Bob")
	emit := func(cl, event string, payload map[string]any) step {
		return step{Op: "emit", C: cl, Event: event, Args: []any{payload}}
	}
	chat := func(cl, msg string, u map[string]any) step {
		return emit(cl, "chat", map[string]any{"user": u, "timeSent": 1700000000000, "message": msg, "roomName": "lobby", "eventName": "chat"})
	}
	cl := startClients(t, c.LB.URL, plan{
		Clients: map[string]clientOpts{
			"a": {LocalAddress: srcA, Origin: c.LB.URL},
			"b": {LocalAddress: srcB, Origin: c.LB.URL, Transports: []string{"websocket"}},
		},
		Steps: []step{
			{Op: "connect", C: "a"}, {Op: "connect", C: "b"}, {Op: "upgrade", C: "a"},
			emit("a", "join_room", map[string]any{"roomName": "lobby", "user": alice, "eventName": "join_room"}),
			emit("b", "join_room", map[string]any{"roomName": "lobby", "user": bob, "eventName": "join_room"}),
			// The tutorial's chat goes to the whole room, sender included.
			chat("a", "from A", alice),
			{Op: "expect", C: "b", Event: "chat"}, {Op: "expect", C: "a", Event: "chat"},
			chat("b", "from B", bob),
			{Op: "expect", C: "a", Event: "chat"}, {Op: "expect", C: "b", Event: "chat"},
			{Op: "get", C: "b", Path: "/api/rooms/lobby"},
		},
	})
	const d = 15 * time.Second
	for range 3 { // connect a, connect b, upgrade a
		if r := cl.next(d); r.Op != "connect" && r.Op != "upgrade" {
			t.Fatalf("want connect/upgrade, got %s", r.Raw)
		}
	}
	for _, want := range []string{"join a", "join b"} {
		if r := cl.next(d); r.Op != "ack" || string(r.Args[0]) != "true" {
			t.Fatalf("%s: want ack true, got %s", want, r.Raw)
		}
	}
	for _, msg := range []string{"from A", "from B"} {
		if r := cl.next(d); r.Op != "ack" {
			t.Fatalf("chat %q: want ack, got %s", msg, r.Raw)
		}
		for range 2 { // the other instance's client, then the sender's echo
			r := cl.next(d)
			var got struct{ Message string }
			if r.Op != "event" || json.Unmarshal(r.Args[0], &got) != nil || got.Message != msg {
				t.Fatalf("want chat %q on both instances, got %s", msg, r.Raw)
			}
		}
	}
	r := cl.next(d)
	var room struct{ Users []struct{ UserID string } }
	if r.Op != "http" || r.Status != 200 || json.Unmarshal(r.Body, &room) != nil || len(room.Users) != 2 {
		t.Fatalf("GET /api/rooms/lobby on B: want both users, got %s", r.Raw)
	}
	if r := cl.next(d); r.Op != "done" {
		t.Fatalf("want done, got %s", r.Raw)
	}
	for _, s := range c.Instances {
		if n := metric(t, s, socketsRoot); n != 1 {
			t.Errorf("%s has %v sockets on /, want 1", s.Name, n)
		}
	}
}
