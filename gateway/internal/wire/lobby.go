package wire

// Payloads of the lobby events of namespace "/chat" (SPEC §3, seed
// websockets-realtime-communication.txt §2) and of namespace "/rooms"
// (SPEC §4, same seed §3). The seed validates only sendMessage (1..500
// characters, class-validator); the other limits are ours and documented in
// gateway/doc.go.

// Limits of the lobby and rooms payloads.
const (
	MaxUsername    = 32
	MaxLobbyText   = 500
	MaxRoomNameLen = 64
	MaxRoomText    = 1000
)

func checkUsername(c *checker, path, v string) {
	c.length(path, v, 1, MaxUsername, "", "")
	if hasControl(v) {
		c.add(path, "Must not contain control characters.")
	}
}

func checkRoom(c *checker, path, v string) {
	c.length(path, v, 1, MaxRoomNameLen, "", "")
	if hasControl(v) {
		c.add(path, "Must not contain control characters.")
	}
}

// JoinChat is the joinChat payload.
type JoinChat struct {
	Username string `json:"username"`
}

// Validate implements Validator.
func (p JoinChat) Validate() error {
	var c checker
	checkUsername(&c, "username", p.Username)
	return c.err()
}

// SendMessage is the sendMessage payload.
type SendMessage struct {
	Message string `json:"message"`
}

// Validate implements Validator.
func (p SendMessage) Validate() error {
	var c checker
	c.length("message", p.Message, 1, MaxLobbyText, "", "")
	return c.err()
}

// Typing is the typing payload. Without ChatID it is the lobby's typing
// indicator; with ChatID it concerns a stored chat (SPEC §3).
type Typing struct {
	ChatID   *string `json:"chatId,omitempty"`
	IsTyping bool    `json:"isTyping"`
}

// JoinRoom is the /rooms joinRoom payload.
type RoomsJoin struct {
	Room     string `json:"room"`
	Username string `json:"username"`
}

// Validate implements Validator.
func (p RoomsJoin) Validate() error {
	var c checker
	checkRoom(&c, "room", p.Room)
	checkUsername(&c, "username", p.Username)
	return c.err()
}

// RoomsLeave is the /rooms leaveRoom payload; both fields are optional (the
// room defaults to the one joined last).
type RoomsLeave struct {
	Room     string `json:"room,omitempty"`
	Username string `json:"username,omitempty"`
}

// Validate implements Validator.
func (p RoomsLeave) Validate() error {
	var c checker
	if p.Room != "" {
		checkRoom(&c, "room", p.Room)
	}
	return c.err()
}

// RoomsMessage is the /rooms sendRoomMessage payload.
type RoomsMessage struct {
	Room     string `json:"room"`
	Username string `json:"username"`
	Message  string `json:"message"`
}

// Validate implements Validator.
func (p RoomsMessage) Validate() error {
	var c checker
	checkRoom(&c, "room", p.Room)
	checkUsername(&c, "username", p.Username)
	c.length("message", p.Message, 1, MaxRoomText, "", "")
	return c.err()
}

// RoomsMembers is the /rooms getRoomMembers payload.
type RoomsMembers struct {
	Room string `json:"room"`
}

// Validate implements Validator.
func (p RoomsMembers) Validate() error {
	var c checker
	checkRoom(&c, "room", p.Room)
	return c.err()
}

// Outbound lobby and rooms payloads.
type (
	// Welcome greets a socket that connected to /chat.
	Welcome struct {
		Message   string `json:"message"`
		Timestamp Time   `json:"timestamp"`
	}
	// UserEvent is userJoined and userLeft.
	UserEvent struct {
		Username  string `json:"username"`
		Timestamp Time   `json:"timestamp"`
	}
	// OnlineUsers lists the lobby's usernames.
	OnlineUsers struct {
		Users []string `json:"users"`
	}
	// NewMessage is a lobby message.
	NewMessage struct {
		Username  string `json:"username"`
		Message   string `json:"message"`
		Timestamp Time   `json:"timestamp"`
	}
	// UserTyping is the lobby typing indicator.
	UserTyping struct {
		Username string `json:"username"`
		IsTyping bool   `json:"isTyping"`
	}
	// RoomUserEvent is userJoinedRoom and userLeftRoom.
	RoomUserEvent struct {
		Username  string `json:"username"`
		Room      string `json:"room"`
		Timestamp Time   `json:"timestamp"`
	}
	// RoomMessage is newRoomMessage.
	RoomMessage struct {
		Username  string `json:"username"`
		Room      string `json:"room"`
		Message   string `json:"message"`
		Timestamp Time   `json:"timestamp"`
	}
)
