package tutorial

import (
	"unicode"

	"github.com/sockgate/sockgate/gateway/event"
)

// Payloads of namespace "/" (SPEC §2), field for field the tutorial's zod
// schemas (src/shared/schemas/chat.schema.ts of the tutorial repository).

// Event names the tutorial's eventName enum allows, in the schema's order.
const (
	EventChat     = "chat"
	EventKickUser = "kick_user"
	EventJoinRoom = "join_room"
)

// User is a tutorial user: {userId, userName, socketId}.
type User struct {
	UserID   string `json:"userId"`
	UserName string `json:"userName"`
	SocketID string `json:"socketId"`
}

func (u User) check(c *event.Check, path string) {
	c.Length(event.Path(path, "userId"), u.UserID, 1, 24)
	c.LengthMsg(event.Path(path, "userName"), u.UserName, 1, 16, "Must be at least 1 character.", "Must be at most 16 characters.")
	c.Exact(event.Path(path, "socketId"), u.SocketID, 20, "Must be 20 characters.")
}

func checkRoomName(c *event.Check, path, v string) {
	// Like zod, every failing check is reported ("a" is both too short and
	// not matching the pattern).
	c.LengthMsg(path, v, 2, 16, "Must be at least 2 characters.", "Must be at most 16 characters.")
	if !matchesRoomName(v) {
		c.Add(path, "Must not contain spaces or special characters.")
	}
}

// checkEventName checks the enum and, stricter than the tutorial, that the
// payload names the event it was sent as: the reference server picked its
// authorisation policy from this field, so a mismatch is never legitimate.
func checkEventName(c *event.Check, v, name string) {
	if c.Enum("eventName", v, EventChat, EventKickUser, EventJoinRoom) && v != name {
		c.Add("eventName", "Must be '"+name+"' for this event.")
	}
}

// JoinRoom is the join_room payload.
type JoinRoom struct {
	User      User   `json:"user"`
	RoomName  string `json:"roomName"`
	EventName string `json:"eventName"`
}

// Validate implements event.Validator.
func (p JoinRoom) Validate() error {
	var c event.Check
	p.User.check(&c, "user")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventJoinRoom)
	return c.Err()
}

// ChatMessage is the chat payload, broadcast back unchanged to the room.
type ChatMessage struct {
	User      User    `json:"user"`
	TimeSent  float64 `json:"timeSent"`
	Message   string  `json:"message"`
	RoomName  string  `json:"roomName"`
	EventName string  `json:"eventName"`
}

// Validate implements event.Validator.
func (p ChatMessage) Validate() error {
	var c event.Check
	p.User.check(&c, "user")
	c.LengthMsg("message", p.Message, 1, 1000, "Must be at least 1 character.", "Must be at most 1000 characters.")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventChat)
	return c.Err()
}

// KickUser is the kick_user payload, broadcast to the room.
type KickUser struct {
	User       User   `json:"user"`
	UserToKick User   `json:"userToKick"`
	RoomName   string `json:"roomName"`
	EventName  string `json:"eventName"`
}

// Validate implements event.Validator.
func (p KickUser) Validate() error {
	var c event.Check
	p.User.check(&c, "user")
	p.UserToKick.check(&c, "userToKick")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventKickUser)
	return c.Err()
}

// SystemChat is the chat message the server sends after a kick: like the
// reference server, timeSent is a locale string and eventName is absent.
type SystemChat struct {
	User     User   `json:"user"`
	TimeSent string `json:"timeSent"`
	Message  string `json:"message"`
	RoomName string `json:"roomName"`
}

// ServerUser is the author of system messages.
var ServerUser = User{UserID: "serverId", UserName: "TheServer", SocketID: "ServerSocketId"}

// Room is a tutorial room as GET /api/rooms returns it.
type Room struct {
	Name  string `json:"name"`
	Host  User   `json:"host"`
	Users []User `json:"users"`
}

// isJSSpace reports whether JavaScript's \s matches r.
func isJSSpace(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' }

// isWordChar reports whether JavaScript's \w (without the u flag) matches r.
func isWordChar(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// matchesRoomName implements the tutorial's /^\S+\w$/ with JavaScript's
// character classes (Go's \S is ASCII-only).
func matchesRoomName(s string) bool {
	rs := []rune(s)
	if len(rs) < 2 || !isWordChar(rs[len(rs)-1]) {
		return false
	}
	for _, r := range rs[:len(rs)-1] {
		if isJSSpace(r) {
			return false
		}
	}
	return true
}
