package gateway

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestRooms drives SPEC §4 on "/rooms".
func TestRooms(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{Now: func() time.Time { return testNow }})
	type join struct {
		Room     string `json:"room"`
		Username string `json:"username"`
	}
	type send struct {
		Room     string `json:"room"`
		Username string `json:"username"`
		Message  string `json:"message"`
	}
	type members struct {
		Room string `json:"room"`
	}
	rs := run(t, ts.URL,
		connect("a", "/rooms"), connect("b", "/rooms"), connect("c", "/rooms"),
		emitAck("a", "joinRoom", join{"r1", "alice"}), // a0
		expect("a", "userJoinedRoom"),
		emitAck("b", "joinRoom", join{"r1", "bob"}), // b0
		expect("a", "userJoinedRoom"), expect("b", "userJoinedRoom"),
		emitAck("c", "getRoomMembers", members{"r1"}),               // c0
		emitAck("a", "sendRoomMessage", send{"r1", "alice", "hey"}), // a1
		expect("a", "newRoomMessage"), expect("b", "newRoomMessage"),
		emitAck("c", "sendRoomMessage", send{"r1", "carol", "let me in"}), // c1
		expect("c", "exception"),
		emitAck("a", "sendRoomMessage", send{"r1", "bob", "as bob"}), // a2
		expect("a", "exception"),
		emitAck("c", "joinRoom", join{"", "carol"}), // c2
		expect("c", "exception"),
		emitAck("c", "joinRoom", join{"r1", "carol"}), // c3
		expect("a", "userJoinedRoom"), expect("b", "userJoinedRoom"), expect("c", "userJoinedRoom"),
		emitAck("b", "joinRoom", join{"r2", "bob"}), // b1: leaves r1
		expect("b", "userJoinedRoom"),
		emitAck("a", "getRoomMembers", members{"r1"}),  // a3
		emitAck("a", "leaveRoom", join{"r1", "alice"}), // a4
		expect("c", "userLeftRoom"),
		emitAck("a", "sendRoomMessage", send{"r1", "alice", "gone"}), // a5
		expect("a", "exception"),
		emitAck("c", "sendRoomMessage", send{"r1", "carol", "alone"}), // c4
		expect("c", "newRoomMessage"),
		emitAck("c", "getRoomMembers", members{"nowhere"}), // c5
		drain("a"), drain("b"), drain("c"),
	)
	id := map[string]string{}
	for _, c := range []string{"a", "b", "c"} {
		id[c] = find(t, rs, c, "connect", 0).ID
		if len(id[c]) != 20 {
			t.Errorf("/rooms id %q has %d characters", id[c], len(id[c]))
		}
	}
	ev := func(c string, i int) string { return find(t, rs, c, "event", i).arg(0) }
	ack := func(c string, i int) result { return find(t, rs, c, "ack", i) }
	joined := func(name, room string) string {
		return fmt.Sprintf(`{"username":%q,"room":%q,"timestamp":%s}`, name, room, testStamp)
	}
	wantAck(t, ack("a", 0), `[{"success":true,"room":"r1","members":1}]`)
	want(t, "a joined", ev("a", 0), joined("alice", "r1"))
	wantAck(t, ack("b", 0), `[{"success":true,"room":"r1","members":2}]`)
	want(t, "a sees bob", ev("a", 1), joined("bob", "r1"))
	want(t, "b sees bob", ev("b", 0), joined("bob", "r1"))
	ab := []string{id["a"], id["b"]}
	slices.Sort(ab)
	wantAck(t, ack("c", 0), fmt.Sprintf(`[{"room":"r1","memberCount":2,"socketIds":[%q,%q]}]`, ab[0], ab[1]))

	wantAck(t, ack("a", 1), `[{"success":true}]`)
	hey := `{"username":"alice","room":"r1","message":"hey","timestamp":` + testStamp + `}`
	want(t, "a newRoomMessage", ev("a", 2), hey)
	want(t, "b newRoomMessage", ev("b", 1), hey)

	refused := func(code, msg string) string {
		return fmt.Sprintf(`[{"success":false,"error":{"code":%q,"message":%q}}]`, code, msg)
	}
	wantAck(t, ack("c", 1), refused("forbidden", "You must join the room first."))
	want(t, "c exception", ev("c", 0), `{"status":"error","message":"You must join the room first."}`)
	wantAck(t, ack("a", 2), refused("forbidden", "username must be the one you joined with."))
	want(t, "a exception", ev("a", 3), `{"status":"error","message":"username must be the one you joined with."}`)
	wantAck(t, ack("c", 2), refused("invalid_payload", "room: String must contain at least 1 character(s)"))

	wantAck(t, ack("c", 3), `[{"success":true,"room":"r1","members":3}]`)
	// a's and b's next userJoinedRoom is carol's: the refusals sent them nothing.
	want(t, "a sees carol", ev("a", 4), joined("carol", "r1"))
	want(t, "b sees carol", ev("b", 2), joined("carol", "r1"))
	want(t, "c sees carol", ev("c", 2), joined("carol", "r1"))

	wantAck(t, ack("b", 1), `[{"success":true,"room":"r2","members":1}]`)
	want(t, "b joined r2", ev("b", 3), joined("bob", "r2"))
	ac := []string{id["a"], id["c"]}
	slices.Sort(ac)
	wantAck(t, ack("a", 3), fmt.Sprintf(`[{"room":"r1","memberCount":2,"socketIds":[%q,%q]}]`, ac[0], ac[1]))

	wantAck(t, ack("a", 4), `[{"success":true}]`)
	want(t, "c userLeftRoom", ev("c", 3), `{"username":"alice","room":"r1","timestamp":`+testStamp+`}`)
	wantAck(t, ack("a", 5), refused("forbidden", "You must join the room first."))
	wantAck(t, ack("c", 4), `[{"success":true}]`)
	want(t, "c alone", ev("c", 4), `{"username":"carol","room":"r1","message":"alone","timestamp":`+testStamp+`}`)
	wantAck(t, ack("c", 5), `[{"room":"nowhere","memberCount":0,"socketIds":[]}]`)

	for _, c := range []string{"a", "b", "c"} {
		if r := find(t, rs, c, "inbox", 0); len(r.Events) != 0 {
			t.Errorf("%s received unexpected events: %s", c, r)
		}
	}
}
