package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/tutorial"
	"github.com/sockgate/sockgate/ratelimit"
)

func joinAs(c, userID, name, room string) step {
	return emitAck(c, "join_room", tutorial.JoinRoom{
		User: tutorial.User{UserID: userID, UserName: name, SocketID: "$id:" + c}, RoomName: room, EventName: "join_room",
	})
}

func chatAs(c, userID, name, room, msg string, ts float64) step {
	return emitAck(c, "chat", tutorial.ChatMessage{
		User: tutorial.User{UserID: userID, UserName: name, SocketID: "$id:" + c}, TimeSent: ts, Message: msg, RoomName: room, EventName: "chat",
	})
}

func kickAs(c, userID, name string, victim tutorial.User, room string) step {
	return emitAck(c, "kick_user", tutorial.KickUser{
		User: tutorial.User{UserID: userID, UserName: name, SocketID: "$id:" + c}, UserToKick: victim, RoomName: room, EventName: "kick_user",
	})
}

// wantAck asserts r is an ack with the given JSON arguments.
func wantAck(t *testing.T, r result, args string) {
	t.Helper()
	if r.Op != "ack" {
		t.Errorf("%s %s: got %s, want ack %s", r.C, r.Event, r, args)
		return
	}
	got, _ := json.Marshal(r.Args)
	want(t, r.C+" "+r.Event+" ack", compact(got), args)
}

// wantException asserts r is an exception (and so no ack) with message.
func wantException(t *testing.T, r result, message string) {
	t.Helper()
	if r.Op != "exception" {
		t.Errorf("%s %s: got %s, want exception %q", r.C, r.Event, r, message)
		return
	}
	want(t, r.C+" "+r.Event+" exception", r.arg(0), compact(raw(exception{Status: "error", Message: message})))
}

// TestTutorial_Flow drives SPEC §2 with three real clients: joins, REST
// view, chat to the whole room (sender included), the kick sequence, and
// disconnect cleanup.
func TestTutorial_Flow(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	ts := newTestServer(t, unlimited(), Config{Now: func() time.Time { return now }})
	// a starts with polling and upgrades (the browser's default), b is
	// WebSocket-only, c stays on long-polling.
	wsOnly, pollOnly := connect("b", "/"), connect("c", "/")
	wsOnly.Transports, pollOnly.Transports = []string{"websocket"}, []string{"polling"}
	rs := run(t, ts.URL,
		connect("a", "/"), wsOnly, pollOnly,
		joinAs("a", "u-a", "Alice", "room1"),
		joinAs("b", "u-b", "Bob", "room1"),
		joinAs("c", "u-c", "Carol", "room1"),
		httpGet("/api/rooms/room1"),
		chatAs("a", "u-a", "Alice", "room1", "hello all", 1732350000000),
		expect("a", "chat"), expect("b", "chat"), expect("c", "chat"),
		kickAs("a", "u-a", "Alice", tutorial.User{UserID: "u-c", UserName: "Carol", SocketID: "$id:c"}, "room1"),
		expect("a", "kick_user"), expect("b", "kick_user"), expect("c", "kick_user"),
		expect("a", "chat"), expect("b", "chat"),
		httpGet("/api/rooms/room1"),
		// c is out of room1: the first chat it sees next is one of room2.
		joinAs("c", "u-c", "Carol", "room2"),
		joinAs("b", "u-b", "Bob", "room2"),
		chatAs("b", "u-b", "Bob", "room2", "in room2", 1732350000001),
		expect("c", "chat"), expect("b", "chat"),
		drain("a"), drain("b"), drain("c"),
		disconnect("b"),
		httpGetWithout("/api/rooms", "$id:b"),
		disconnect("a"), disconnect("c"),
		httpGetWithout("/api/rooms", "$id:a"),
		httpGetWithout("/api/rooms", "$id:c"),
	)
	id := map[string]string{}
	for _, c := range []string{"a", "b", "c"} {
		r := find(t, rs, c, "connect", 0)
		if len(r.ID) != 20 {
			t.Errorf("%s id %q has %d characters, want 20", c, r.ID, len(r.ID))
		}
		id[c] = r.ID
	}
	user := func(c, uid, name string) string {
		return fmt.Sprintf(`{"userId":%q,"userName":%q,"socketId":%q}`, uid, name, id[c])
	}
	ua, ub, uc := user("a", "u-a", "Alice"), user("b", "u-b", "Bob"), user("c", "u-c", "Carol")
	for _, c := range []string{"a", "b", "c"} {
		wantAck(t, find(t, rs, c, "ack", 0), `[true]`)
	}
	var https []result
	for _, r := range rs {
		if r.Op == "http" {
			https = append(https, r)
		}
	}
	want(t, "GET room after joins", fmt.Sprint(https[0].Status, " ", compact(https[0].Body)),
		fmt.Sprintf(`200 {"name":"room1","host":%s,"users":[%s,%s,%s]}`, ua, ua, ub, uc))

	chat := fmt.Sprintf(`{"user":%s,"timeSent":1732350000000,"message":"hello all","roomName":"room1","eventName":"chat"}`, ua)
	wantAck(t, find(t, rs, "a", "ack", 1), `[true]`)
	for _, c := range []string{"a", "b", "c"} {
		want(t, c+" chat", find(t, rs, c, "event", 0).arg(0), chat)
	}

	kick := fmt.Sprintf(`{"user":%s,"userToKick":%s,"roomName":"room1","eventName":"kick_user"}`, ua, uc)
	wantAck(t, find(t, rs, "a", "ack", 2), `[true]`)
	for _, c := range []string{"a", "b", "c"} {
		want(t, c+" kick_user", find(t, rs, c, "event", 1).arg(0), kick)
	}
	system := `{"user":{"userId":"serverId","userName":"TheServer","socketId":"ServerSocketId"},"timeSent":"11/23/2026, 3:04:05 PM","message":"Carol was kicked.","roomName":"room1"}`
	for _, c := range []string{"a", "b"} {
		want(t, c+" system chat", find(t, rs, c, "event", 2).arg(0), system)
	}
	want(t, "GET room after kick", fmt.Sprint(https[1].Status, " ", compact(https[1].Body)),
		fmt.Sprintf(`200 {"name":"room1","host":%s,"users":[%s,%s]}`, ua, ua, ub))
	if got := find(t, rs, "c", "event", 2); !strings.Contains(got.arg(0), `"in room2"`) {
		t.Errorf("c's first chat after the kick is %s, want the room2 message", got.arg(0))
	}
	for _, c := range []string{"a", "b", "c"} {
		if r := find(t, rs, c, "inbox", 0); len(r.Events) != 0 {
			t.Errorf("%s received unexpected events: %s", c, r)
		}
	}
	want(t, "GET rooms after b left", fmt.Sprint(https[2].Status, " ", compact(https[2].Body)),
		fmt.Sprintf(`200 [{"name":"room1","host":%s,"users":[%s]},{"name":"room2","host":%s,"users":[%s]}]`, ua, ua, uc, uc))

	// Every client is gone now: every room is deleted.
	want(t, "GET rooms after everyone left", fmt.Sprint(https[4].Status, " ", compact(https[4].Body)), "200 []")
	st, _, body := httpGetJSON(t, ts.URL+"/api/rooms/room1")
	want(t, "GET deleted room", fmt.Sprint(st, " ", body), `404 {"statusCode":404,"message":"Not Found"}`)
}

// TestTutorial_Refusals sends each invalid payload and each forbidden
// action: every one gets no ack and an exception naming the cause, the
// connection keeps working, and no other client sees anything.
func TestTutorial_Refusals(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{})
	steps := []step{
		connect("a", "/"), connect("b", "/"), connect("c", "/"),
		joinAs("a", "u-a", "Alice", "room1"),
		joinAs("b", "u-b", "Bob", "room1"),
	}
	cases := tutorialInvalidCases("$id:a")
	for _, tc := range cases {
		// room1 is the valid payloads' room: a is its host.
		steps = append(steps, emitRaw("a", tc.event, raw(tc.payload)))
	}
	type refusal struct {
		name string
		step step
		want string
	}
	victimB := tutorial.User{UserID: "u-b", UserName: "Bob", SocketID: "$id:b"}
	refusals := []refusal{
		{"SpoofedSocketID", emitAck("a", "chat", tutorial.ChatMessage{User: tutorial.User{UserID: "u-a", UserName: "Alice", SocketID: "$id:b"}, TimeSent: 1, Message: "x", RoomName: "room1", EventName: "chat"}), "user.socketId must be your own socket id."},
		{"SpoofedUserID", chatAs("a", "u-b", "Bob", "room1", "as bob", 2), "user.userId must be the userId this connection joined with."},
		{"SpoofedUserIDJoin", joinAs("a", "u-b", "Bob", "room9"), "user.userId must be the userId this connection joined with."},
		{"KickByNonHost", kickAs("b", "u-b", "Bob", tutorial.User{UserID: "u-a", UserName: "Alice", SocketID: "$id:a"}, "room1"), "Only the room's host can kick users."},
		{"KickSelf", kickAs("a", "u-a", "Alice", tutorial.User{UserID: "u-a", UserName: "Alice", SocketID: "$id:a"}, "room1"), "You cannot kick yourself."},
		{"KickNonMember", kickAs("a", "u-a", "Alice", tutorial.User{UserID: "u-c", UserName: "Carol", SocketID: "$id:c"}, "room1"), "userToKick is not in this room."},
		{"KickWrongUserID", kickAs("a", "u-a", "Alice", tutorial.User{UserID: "u-x", UserName: "Bob", SocketID: "$id:b"}, "room1"), "userToKick is not in this room."},
		{"KickUnknownRoom", kickAs("a", "u-a", "Alice", victimB, "nowhere"), "You must join the room first."},
		{"ChatByNonMember", chatAs("c", "u-c", "Carol", "room1", "let me in", 3), "You must join the room first."},
		{"ChatUnknownRoom", chatAs("a", "u-a", "Alice", "nowhere", "hi", 4), "You must join the room first."},
		{"DuplicateUserID", joinAs("c", "u-b", "Bobby", "room1"), "userId is already in use in this room."},
	}
	for _, r := range refusals {
		steps = append(steps, r.step)
	}
	steps = append(steps,
		// The connections still work, and b's first event is a's chat: no
		// refusal leaked anything to it.
		chatAs("a", "u-a", "Alice", "room1", "still here", 5),
		expect("b", "chat"),
		expect("a", "chat"),
		drain("a"), drain("b"), drain("c"),
	)
	rs := run(t, ts.URL, steps...)

	var got []result
	for _, r := range rs {
		if r.Op == "exception" || r.Op == "noack" || r.Op == "ack" {
			got = append(got, r)
		}
	}
	for _, r := range got[:2] { // the joins of a and b
		wantAck(t, r, `[true]`)
	}
	got = got[2:]
	if len(got) != len(cases)+len(refusals)+1 {
		t.Fatalf("got %d replies, want %d: %v", len(got), len(cases)+len(refusals)+1, got)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantException(t, got[i], tc.want) })
	}
	for i, r := range refusals {
		t.Run(r.name, func(t *testing.T) { wantException(t, got[len(cases)+i], r.want) })
	}
	wantAck(t, got[len(got)-1], `[true]`)
	for _, c := range []string{"a", "b"} {
		if e := find(t, rs, c, "event", 0); !strings.Contains(e.arg(0), `"still here"`) {
			t.Errorf("%s's first chat is %s", c, e.arg(0))
		}
	}
	for _, c := range []string{"a", "b", "c"} {
		if r := find(t, rs, c, "inbox", 0); len(r.Events) != 0 {
			t.Errorf("%s received unexpected events: %s", c, r)
		}
	}
}

// TestTutorial_RateLimits checks the seed's limit counts (10 chats, 5
// join_room; per hour here rather than the seed's 30 s and 1 m, so that the
// test's burst never straddles two clock-aligned windows): the 11th chat
// and the 6th join_room are refused (no ack, exception), and the
// connection keeps working for other events.
func TestTutorial_RateLimits(t *testing.T) {
	ts := newTestServer(t, map[string]ratelimit.Rule{
		"/:chat":      {Limit: 10, Period: time.Hour},
		"/:join_room": {Limit: 5, Period: time.Hour},
	}, Config{})
	steps := []step{connect("a", "/"), connect("b", "/"), joinAs("a", "u-a", "Alice", "room1")}
	for i := range 11 {
		steps = append(steps, chatAs("a", "u-a", "Alice", "room1", fmt.Sprint("m", i), float64(i)))
	}
	steps = append(steps,
		joinAs("a", "u-a", "Alice", "room2"), joinAs("a", "u-a", "Alice", "room3"), joinAs("a", "u-a", "Alice", "room4"),
		joinAs("b", "u-b", "Bob", "room1"), // the 5th join from this IP
		joinAs("b", "u-b", "Bob", "room2"), // the 6th: refused
		kickAs("a", "u-a", "Alice", tutorial.User{UserID: "u-b", UserName: "Bob", SocketID: "$id:b"}, "room1"),
	)
	rs := run(t, ts.URL, steps...)
	var replies []result
	for _, r := range rs {
		if r.Op == "ack" || r.Op == "exception" || r.Op == "noack" {
			replies = append(replies, r)
		}
	}
	if len(replies) != 1+11+5+1 {
		t.Fatalf("got %d replies: %v", len(replies), replies)
	}
	for i := 1; i <= 10; i++ {
		wantAck(t, replies[i], `[true]`)
	}
	r := replies[11]
	if r.Op != "exception" || !strings.HasPrefix(r.arg(0), `{"status":"error","message":"Too many requests, retry in `) {
		t.Errorf("11th chat: %s", r)
	}
	for i := 12; i <= 15; i++ {
		wantAck(t, replies[i], `[true]`)
	}
	if r := replies[16]; r.Op != "exception" || !strings.Contains(r.arg(0), "Too many requests") {
		t.Errorf("6th join_room: %s", r)
	}
	wantAck(t, replies[17], `[true]`) // kick still works
	st, _, body := httpGetJSON(t, ts.URL+"/metrics")
	if st != 200 || !strings.Contains(body, `sockgate_ratelimit_refusals_total{rule="/:chat"} 1`) ||
		!strings.Contains(body, `sockgate_ratelimit_refusals_total{rule="/:join_room"} 1`) ||
		!strings.Contains(body, `sockgate_errors_total{code="rate_limited"} 2`) {
		t.Errorf("metrics do not show the refusals:\n%s", grepLines(body, "sockgate_"))
	}
}

// grepLines returns body's lines containing s.
func grepLines(body, s string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTutorial_HostReload checks that the host coming back on a new socket
// (the tutorial client reconnects with the userId kept in sessionStorage)
// takes the host seat again (a live socket's userId cannot be taken: see
// TestTutorial_Refusals/DuplicateUserID).
func TestTutorial_HostReload(t *testing.T) {
	ts := newTestServer(t, unlimited(), Config{})
	rs := run(t, ts.URL,
		connect("a", "/"), connect("b", "/"),
		joinAs("a", "u-a", "Alice", "room1"),
		joinAs("b", "u-b", "Bob", "room1"),
		disconnect("a"),
		httpRoomWithUsers("/api/rooms/room1", 1), // the host seat stays a's
		connect("a2", "/"),
		joinAs("a2", "u-a", "Alice", "room1"),
		httpGet("/api/rooms/room1"),
		kickAs("a2", "u-a", "Alice", tutorial.User{UserID: "u-b", UserName: "Bob", SocketID: "$id:b"}, "room1"),
		expect("b", "kick_user"),
	)
	wantAck(t, find(t, rs, "a2", "ack", 0), `[true]`)
	var room tutorial.Room
	for _, r := range rs {
		if r.Op == "http" {
			_ = json.Unmarshal(r.Body, &room) // the last one wins
		}
	}
	if room.Host.SocketID != find(t, rs, "a2", "connect", 0).ID {
		t.Errorf("host after reload %+v", room.Host)
	}
	wantAck(t, find(t, rs, "a2", "ack", 1), `[true]`)
	if e := find(t, rs, "b", "event", 0); !strings.Contains(e.arg(0), `"userToKick":{"userId":"u-b"`) {
		t.Errorf("b's kick_user: %s", e.arg(0))
	}
}
