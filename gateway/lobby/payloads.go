package lobby

import "github.com/sockgate/sockgate/gateway/event"

// Payloads of the lobby events of namespace "/chat" (SPEC §3, seed
// websockets-realtime-communication.txt §2). The seed validates only
// sendMessage (1..500 characters, class-validator); the username limit is
// ours (doc.go).

// Limits of the lobby payloads.
const (
	MaxUsername  = 32
	MaxLobbyText = 500
)

// JoinChat is the joinChat payload.
type JoinChat struct {
	Username string `json:"username"`
}

// Validate implements event.Validator.
func (p JoinChat) Validate() error {
	var c event.Check
	c.Text("username", p.Username, 1, MaxUsername)
	return c.Err()
}

// SendMessage is the sendMessage payload.
type SendMessage struct {
	Message string `json:"message"`
}

// Validate implements event.Validator.
func (p SendMessage) Validate() error {
	var c event.Check
	c.Length("message", p.Message, 1, MaxLobbyText)
	return c.Err()
}

// Outbound lobby payloads and replies.
type (
	// Welcome greets a socket that connected to /chat.
	Welcome struct {
		Message   string     `json:"message"`
		Timestamp event.Time `json:"timestamp"`
	}
	// UserEvent is userJoined and userLeft.
	UserEvent struct {
		Username  string     `json:"username"`
		Timestamp event.Time `json:"timestamp"`
	}
	// OnlineUsers lists the lobby's usernames.
	OnlineUsers struct {
		Users []string `json:"users"`
	}
	// NewMessage is a lobby message.
	NewMessage struct {
		Username  string     `json:"username"`
		Message   string     `json:"message"`
		Timestamp event.Time `json:"timestamp"`
	}
	// UserTyping is the lobby typing indicator.
	UserTyping struct {
		Username string `json:"username"`
		IsTyping bool   `json:"isTyping"`
	}
	joinReply struct {
		Success  bool   `json:"success"`
		Username string `json:"username"`
	}
)
