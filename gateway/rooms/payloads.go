package rooms

import "github.com/sockgate/sockgate/gateway/event"

// Payloads of namespace "/rooms" (SPEC §4, seed
// websockets-realtime-communication.txt §3). The seed validates nothing;
// the limits are ours (doc.go).

// Limits of the rooms payloads.
const (
	MaxUsername    = 32
	MaxRoomNameLen = 64
	MaxRoomText    = 1000
)

// Join is the joinRoom payload.
type Join struct {
	Room     string `json:"room"`
	Username string `json:"username"`
}

// Validate implements event.Validator.
func (p Join) Validate() error {
	var c event.Check
	c.Text("room", p.Room, 1, MaxRoomNameLen)
	c.Text("username", p.Username, 1, MaxUsername)
	return c.Err()
}

// Leave is the leaveRoom payload; both fields are optional (the room
// defaults to the one joined last).
type Leave struct {
	Room     string `json:"room,omitempty"`
	Username string `json:"username,omitempty"`
}

// Validate implements event.Validator.
func (p Leave) Validate() error {
	var c event.Check
	if p.Room != "" {
		c.Text("room", p.Room, 1, MaxRoomNameLen)
	}
	return c.Err()
}

// Message is the sendRoomMessage payload.
type Message struct {
	Room     string `json:"room"`
	Username string `json:"username"`
	Message  string `json:"message"`
}

// Validate implements event.Validator.
func (p Message) Validate() error {
	var c event.Check
	c.Text("room", p.Room, 1, MaxRoomNameLen)
	c.Text("username", p.Username, 1, MaxUsername)
	c.Length("message", p.Message, 1, MaxRoomText)
	return c.Err()
}

// Members is the getRoomMembers payload.
type Members struct {
	Room string `json:"room"`
}

// Validate implements event.Validator.
func (p Members) Validate() error {
	var c event.Check
	c.Text("room", p.Room, 1, MaxRoomNameLen)
	return c.Err()
}

// Outbound payloads and replies.
type (
	// UserEvent is userJoinedRoom and userLeftRoom.
	UserEvent struct {
		Username  string     `json:"username"`
		Room      string     `json:"room"`
		Timestamp event.Time `json:"timestamp"`
	}
	// RoomMessage is newRoomMessage.
	RoomMessage struct {
		Username  string     `json:"username"`
		Room      string     `json:"room"`
		Message   string     `json:"message"`
		Timestamp event.Time `json:"timestamp"`
	}
	joinReply struct {
		Success bool   `json:"success"`
		Room    string `json:"room"`
		Members int    `json:"members"`
	}
	membersReply struct {
		Room        string   `json:"room"`
		MemberCount int      `json:"memberCount"`
		SocketIDs   []string `json:"socketIds"`
	}
)
