package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/tutorial"
)

// TestTutorial_RoomNameSpace is issue 9's finding (SPEC §10): tutorial
// room names live in their own space. An authenticated socket of "/" is in
// "user:<sub>" and in its id room; an anonymous join_room "user:bob" is a
// tutorial room of that name (ack true, listed by GET /api/rooms), never
// bob's user room, so its chat does not reach bob; a room named after
// bob's socket id cannot be joined (20 characters: roomName allows 16).
// Bob hears only the marker chat of a room he did join, sent after the
// others by the same socket, so nothing sent before it reached him.
func TestTutorial_RoomNameSpace(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	js := startJS(t, e.URL)
	bob := js.mustConnect("bob", "/", map[string]any{"auth": map[string]any{"token": mintToken(t, "bob", time.Hour)}}).ID
	js.expect("bob", "authenticated") // bob is in user:bob now
	eve := js.mustConnect("eve", "/", nil).ID

	join := func(c, id, userID, room string) jsReply {
		return js.do(map[string]any{"op": "emit", "c": c, "event": "join_room", "ack": true, "timeout": 2000, "args": []any{tutorial.JoinRoom{
			User: tutorial.User{UserID: userID, UserName: userID, SocketID: id}, RoomName: room, EventName: "join_room",
		}}})
	}
	chat := func(c, id, userID, room, msg string) {
		js.emit(c, "chat", tutorial.ChatMessage{
			User: tutorial.User{UserID: userID, UserName: userID, SocketID: id}, TimeSent: 1, Message: msg, RoomName: room, EventName: "chat",
		})
	}

	if r := join("eve", eve, "eve", "user:bob"); r.Op != "ack" || string(r.Args[0]) != "true" {
		t.Fatalf(`eve join_room "user:bob": %s`, r.line)
	}
	chat("eve", eve, "eve", "user:bob", "to bob's user room")
	if r := join("eve", eve, "eve", bob); r.Op != "noack" {
		t.Errorf("eve join_room <bob's socket id>: %s, want no ack (invalid roomName)", r.line)
	}
	js.expect("eve", "exception")

	js.emit("bob", "join_room", tutorial.JoinRoom{User: tutorial.User{UserID: "bob", UserName: "bob", SocketID: bob}, RoomName: "lobby", EventName: "join_room"})
	if r := join("eve", eve, "eve", "lobby"); r.Op != "ack" {
		t.Fatalf("eve join_room lobby: %s", r.line)
	}
	chat("eve", eve, "eve", "lobby", "marker")
	var got tutorial.ChatMessage
	js.expect("bob", "chat").arg(t, 0, &got)
	if got.Message != "marker" {
		t.Errorf("bob's first chat is %q from room %q, want the marker of lobby", got.Message, got.RoomName)
	}
	for _, ev := range js.drain("bob") {
		if ev.Event == "chat" {
			t.Errorf("bob got another chat: %s", ev.Args[0])
		}
	}
	// The tutorial room "user:bob" exists under the name eve sent.
	if code, _, body := httpGetJSON(t, e.URL+"/api/rooms/user:bob"); code != 200 || !strings.Contains(body, `"name":"user:bob"`) {
		t.Errorf("GET /api/rooms/user:bob = %d %s", code, body)
	}
}
