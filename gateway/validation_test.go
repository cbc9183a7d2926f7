package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/gateway/tutorial"
)

// jsonDoc is a JSON object under test mutation (test-only decoding layer).
type jsonDoc = map[string]any

func validUser(id, name, sid string) jsonDoc {
	return jsonDoc{"userId": id, "userName": name, "socketId": sid}
}

func validJoin(sid string) jsonDoc {
	return jsonDoc{"user": validUser("u-a", "Alice", sid), "roomName": "room1", "eventName": "join_room"}
}

func validChat(sid string) jsonDoc {
	return jsonDoc{"user": validUser("u-a", "Alice", sid), "timeSent": 1732350000000, "message": "hello", "roomName": "room1", "eventName": "chat"}
}

func validKick(sid, victimSID string) jsonDoc {
	return jsonDoc{"user": validUser("u-a", "Alice", sid), "userToKick": validUser("u-b", "Bob", victimSID), "roomName": "room1", "eventName": "kick_user"}
}

// mutate returns a deep copy of doc with path ("user.socketId") set to v,
// or deleted when v is the deleteMarker.
func mutate(doc jsonDoc, path string, v any) jsonDoc {
	b, _ := json.Marshal(doc)
	var cp jsonDoc
	_ = json.Unmarshal(b, &cp)
	parts := strings.Split(path, ".")
	cur := cp
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(jsonDoc)
	}
	last := parts[len(parts)-1]
	if v == deleteMarker {
		delete(cur, last)
	} else {
		cur[last] = v
	}
	return cp
}

type marker struct{}

var deleteMarker = &marker{}

// invalidCase is one refused payload and its exact message.
type invalidCase struct {
	name    string
	event   string
	payload any
	want    string
}

// tutorialInvalidCases lists every invalid field of every "/" payload.
// sid is the sender's socket id (so that only the tested field is wrong).
func tutorialInvalidCases(sid string) []invalidCase {
	j, c, k := validJoin(sid), validChat(sid), validKick(sid, "BBBBBBBBBBBBBBBBBBBB")
	long := strings.Repeat("x", 1001)
	return []invalidCase{
		{"JoinNoPayload", "join_room", nil, "Expected object, received null"},
		{"JoinNotObject", "join_room", "room1", "Expected object, received string"},
		{"JoinUserMissing", "join_room", mutate(j, "user", deleteMarker), "user: Required"},
		{"JoinUserIDEmpty", "join_room", mutate(j, "user.userId", ""), "user.userId: String must contain at least 1 character(s)"},
		{"JoinUserIDLong", "join_room", mutate(j, "user.userId", strings.Repeat("i", 25)), "user.userId: String must contain at most 24 character(s)"},
		{"JoinUserIDNumber", "join_room", mutate(j, "user.userId", 7), "user.userId: Expected string, received number"},
		{"JoinUserNameEmpty", "join_room", mutate(j, "user.userName", ""), "user.userName: Must be at least 1 character."},
		{"JoinUserNameLong", "join_room", mutate(j, "user.userName", strings.Repeat("n", 17)), "user.userName: Must be at most 16 characters."},
		{"JoinSocketIDShort", "join_room", mutate(j, "user.socketId", "abc"), "user.socketId: Must be 20 characters."},
		{"JoinSocketIDMissing", "join_room", mutate(j, "user.socketId", deleteMarker), "user.socketId: Required"},
		{"JoinRoomNameShort", "join_room", mutate(j, "roomName", "r"), "roomName: Must be at least 2 characters.; roomName: Must not contain spaces or special characters."},
		{"JoinRoomNameLong", "join_room", mutate(j, "roomName", strings.Repeat("r", 17)), "roomName: Must be at most 16 characters."},
		{"JoinRoomNameSpace", "join_room", mutate(j, "roomName", "my room"), "roomName: Must not contain spaces or special characters."},
		{"JoinRoomNameSpecialEnd", "join_room", mutate(j, "roomName", "room!"), "roomName: Must not contain spaces or special characters."},
		{"JoinRoomNameNull", "join_room", mutate(j, "roomName", nil), "roomName: Expected string, received null"},
		{"JoinEventNameBad", "join_room", mutate(j, "eventName", "dance"), "eventName: Invalid enum value. Expected 'chat' | 'kick_user' | 'join_room', received 'dance'"},
		{"JoinEventNameOther", "join_room", mutate(j, "eventName", "chat"), "eventName: Must be 'join_room' for this event."},
		{"ChatTimeSentMissing", "chat", mutate(c, "timeSent", deleteMarker), "timeSent: Required"},
		{"ChatTimeSentString", "chat", mutate(c, "timeSent", "now"), "timeSent: Expected number, received string"},
		{"ChatMessageEmpty", "chat", mutate(c, "message", ""), "message: Must be at least 1 character."},
		{"ChatMessageLong", "chat", mutate(c, "message", long), "message: Must be at most 1000 characters."},
		{"ChatMessageArray", "chat", mutate(c, "message", []string{"a"}), "message: Expected string, received array"},
		{"ChatRoomNameMissing", "chat", mutate(c, "roomName", deleteMarker), "roomName: Required"},
		{"ChatEventNameOther", "chat", mutate(c, "eventName", "kick_user"), "eventName: Must be 'chat' for this event."},
		{"ChatUserNotObject", "chat", mutate(c, "user", "alice"), "user: Expected object, received string"},
		{"ChatTwoFields", "chat", mutate(mutate(c, "message", ""), "user.userName", ""), "user.userName: Must be at least 1 character.; message: Must be at least 1 character."},
		{"KickUserToKickMissing", "kick_user", mutate(k, "userToKick", deleteMarker), "userToKick: Required"},
		{"KickUserToKickSocketID", "kick_user", mutate(k, "userToKick.socketId", "short"), "userToKick.socketId: Must be 20 characters."},
		{"KickUserToKickName", "kick_user", mutate(k, "userToKick.userName", strings.Repeat("n", 17)), "userToKick.userName: Must be at most 16 characters."},
		{"KickUserIDEmpty", "kick_user", mutate(k, "user.userId", ""), "user.userId: String must contain at least 1 character(s)"},
		{"KickRoomNameSpace", "kick_user", mutate(k, "roomName", "a b"), "roomName: Must not contain spaces or special characters."},
		{"KickEventNameOther", "kick_user", mutate(k, "eventName", "join_room"), "eventName: Must be 'kick_user' for this event."},
	}
}

// decodeFor decodes payload as the event's struct.
func decodeFor(name string, payload json.RawMessage) error {
	switch name {
	case "join_room":
		var v tutorial.JoinRoom
		return event.Decode(payload, &v)
	case "chat":
		var v tutorial.ChatMessage
		return event.Decode(payload, &v)
	case "kick_user":
		var v tutorial.KickUser
		return event.Decode(payload, &v)
	}
	panic(name)
}

func TestValidate_Tutorial(t *testing.T) {
	sid := "AAAAAAAAAAAAAAAAAAAA"
	for _, tc := range tutorialInvalidCases(sid) {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeFor(tc.event, raw(tc.payload))
			if err == nil {
				t.Fatalf("accepted %s", raw(tc.payload))
			}
			e, known := event.ReplyOf(err)
			if !known || e.Code != event.CodeInvalidPayload {
				t.Errorf("code %q (known %v), want invalid_payload", e.Code, known)
			}
			want(t, "message", e.Message, tc.want)
		})
	}
	t.Run("Valid", func(t *testing.T) {
		for event, doc := range map[string]jsonDoc{"join_room": validJoin(sid), "chat": validChat(sid), "kick_user": validKick(sid, sid)} {
			if err := decodeFor(event, raw(doc)); err != nil {
				t.Errorf("%s: %v", event, err)
			}
		}
	})
	t.Run("NoArgument", func(t *testing.T) {
		var v tutorial.ChatMessage
		err := event.Decode(nil, &v)
		if err == nil || err.Error() != "Required" {
			t.Errorf("got %v, want Required", err)
		}
	})
	t.Run("UnicodeLengthsLikeJS", func(t *testing.T) {
		// "😀" is 2 UTF-16 code units: 8 of them are 16, the maximum.
		doc := mutate(validJoin(sid), "user.userName", strings.Repeat("😀", 8))
		if err := decodeFor("join_room", raw(doc)); err != nil {
			t.Errorf("16 code units refused: %v", err)
		}
		doc = mutate(doc, "user.userName", strings.Repeat("😀", 8)+"x")
		if err := decodeFor("join_room", raw(doc)); err == nil {
			t.Error("17 code units accepted")
		}
	})
	t.Run("RoomNameUnicodeSpace", func(t *testing.T) {
		// JavaScript's \S excludes U+00A0; Go's regexp \S would not.
		doc := mutate(validJoin(sid), "roomName", "a\u00a0b")
		if err := decodeFor("join_room", raw(doc)); err == nil {
			t.Error("room name with a no-break space accepted")
		}
	})
}

// TestValidate_Typing: "typing" on "/chat" (shared by the lobby and the
// stored chats) is decoded by the wiring.
func TestValidate_Typing(t *testing.T) {
	err := event.Decode(raw(jsonDoc{"isTyping": "yes"}), new(typingReq))
	want(t, "message", fmt.Sprint(err), "isTyping: Expected boolean, received string")
	if err := event.Decode(raw(jsonDoc{"chatId": "c", "isTyping": true}), new(typingReq)); err != nil {
		t.Errorf("typing with chatId refused: %v", err)
	}
}
