package gateway

import (
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 23, 15, 4, 5, 123e6, time.UTC)

const testStamp = `"2026-11-23T15:04:05.123Z"`

// TestChat_Lobby drives the lobby events of SPEC §3 on "/chat".
func TestChat_Lobby(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{Now: func() time.Time { return testNow }})
	type msg struct {
		Message string `json:"message"`
	}
	type user struct {
		Username string `json:"username"`
	}
	type typing struct {
		IsTyping bool `json:"isTyping"`
	}
	rs := run(t, ts.URL,
		connect("a", "/chat"), connect("b", "/chat"),
		expect("a", "welcome"), expect("b", "welcome"),
		emitAck("a", "sendMessage", msg{"too early"}), // 0
		expect("a", "exception"),
		emitAck("a", "joinChat", user{"alice"}), // 1
		expect("a", "userJoined"), expect("b", "userJoined"), expect("a", "onlineUsers"),
		emitAck("b", "joinChat", user{"bob"}), // b 0
		expect("a", "userJoined"), expect("b", "userJoined"), expect("b", "onlineUsers"),
		emitAck("a", "sendMessage", msg{"hi"}), // 2
		expect("a", "newMessage"), expect("b", "newMessage"),
		emitAck("a", "typing", typing{true}), // 3
		expect("b", "userTyping"),
		emitAck("b", "typing", typing{false}), // b 1
		expect("a", "userTyping"),
		emitAck("a", "sendMessage", msg{strings.Repeat("m", 501)}), // 4
		expect("a", "exception"),
		emitRaw("a", "joinChat", raw(user{""})), // 5
		expect("a", "exception"),
		drain("a"), drain("b"),
		disconnect("b"),
		expect("a", "userLeft"),
		drain("a"),
	)
	for _, c := range []string{"a", "b"} {
		if id := find(t, rs, c, "connect", 0).ID; len(id) != 20 {
			t.Errorf("/chat id %q has %d characters", id, len(id))
		}
	}
	ev := func(c string, i int) string { return find(t, rs, c, "event", i).arg(0) }
	welcome := `{"message":"Welcome to the chat!","timestamp":` + testStamp + `}`
	want(t, "a welcome", ev("a", 0), welcome)
	want(t, "b welcome", ev("b", 0), welcome)

	wantAck(t, find(t, rs, "a", "ack", 0), `[{"error":"You must join the chat first"}]`)
	want(t, "a exception", ev("a", 1), `{"status":"error","message":"You must join the chat first"}`)

	wantAck(t, find(t, rs, "a", "ack", 1), `[{"success":true,"username":"alice"}]`)
	joined := func(name string) string { return `{"username":"` + name + `","timestamp":` + testStamp + `}` }
	want(t, "a userJoined alice", ev("a", 2), joined("alice"))
	want(t, "b userJoined alice", ev("b", 1), joined("alice"))
	want(t, "a onlineUsers", ev("a", 3), `{"users":["alice"]}`)
	wantAck(t, find(t, rs, "b", "ack", 0), `[{"success":true,"username":"bob"}]`)
	want(t, "a userJoined bob", ev("a", 4), joined("bob"))
	want(t, "b userJoined bob", ev("b", 2), joined("bob"))
	want(t, "b onlineUsers", ev("b", 3), `{"users":["alice","bob"]}`)

	wantAck(t, find(t, rs, "a", "ack", 2), `[{"success":true}]`)
	newMsg := `{"username":"alice","message":"hi","timestamp":` + testStamp + `}`
	want(t, "a newMessage", ev("a", 5), newMsg)
	want(t, "b newMessage", ev("b", 4), newMsg)

	wantAck(t, find(t, rs, "a", "ack", 3), `[{"success":true}]`)
	want(t, "b userTyping", ev("b", 5), `{"username":"alice","isTyping":true}`)
	wantAck(t, find(t, rs, "b", "ack", 1), `[{"success":true}]`)
	// a's first userTyping is bob's: its own typing did not come back.
	want(t, "a userTyping", ev("a", 6), `{"username":"bob","isTyping":false}`)

	tooLong := "message: String must contain at most 500 character(s)"
	wantAck(t, find(t, rs, "a", "ack", 4), `[{"success":false,"error":{"code":"invalid_payload","message":"`+tooLong+`"}}]`)
	want(t, "a exception too long", ev("a", 7), `{"status":"error","message":"`+tooLong+`"}`)
	empty := "username: String must contain at least 1 character(s)"
	wantAck(t, find(t, rs, "a", "ack", 5), `[{"success":false,"error":{"code":"invalid_payload","message":"`+empty+`"}}]`)
	want(t, "a exception empty", ev("a", 8), `{"status":"error","message":"`+empty+`"}`)

	for i, c := range []string{"a", "b"} {
		if r := find(t, rs, c, "inbox", 0); len(r.Events) != 0 {
			t.Errorf("%s (%d) received unexpected events: %s", c, i, r)
		}
	}
	want(t, "a userLeft", ev("a", 9), `{"username":"bob","timestamp":`+testStamp+`}`)
	if r := find(t, rs, "a", "inbox", 1); len(r.Events) != 0 {
		t.Errorf("a received unexpected events: %s", r)
	}
	st, _, body := httpGetJSON(t, ts.URL+"/metrics")
	for _, line := range []string{
		`sockgate_events_in_total{event="sendMessage",namespace="/chat"} 3`,
		`sockgate_acks_total{event="sendMessage",namespace="/chat",result="error"} 2`,
		`sockgate_events_out_total{event="newMessage",namespace="/chat"} 1`,
		`sockgate_errors_total{code="invalid_payload"} 2`,
		`sockgate_errors_total{code="forbidden"} 1`,
		`sockgate_socket_connects_total{namespace="/chat"} 2`,
	} {
		if st != 200 || !strings.Contains(body, line) {
			t.Errorf("metrics lack %s:\n%s", line, grepLines(body, "sockgate_"))
		}
	}
}
