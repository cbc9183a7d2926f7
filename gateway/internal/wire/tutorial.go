package wire

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

func (u User) check(c *checker, path string) {
	c.length(join(path, "userId"), u.UserID, 1, 24, "", "")
	c.length(join(path, "userName"), u.UserName, 1, 16, "Must be at least 1 character.", "Must be at most 16 characters.")
	c.exact(join(path, "socketId"), u.SocketID, 20, "Must be 20 characters.")
}

func checkRoomName(c *checker, path, v string) {
	// Like zod, every failing check is reported ("a" is both too short and
	// not matching the pattern).
	c.length(path, v, 2, 16, "Must be at least 2 characters.", "Must be at most 16 characters.")
	if !matchesRoomName(v) {
		c.add(path, "Must not contain spaces or special characters.")
	}
}

// checkEventName checks the enum and, stricter than the tutorial, that the
// payload names the event it was sent as: the reference server picked its
// authorisation policy from this field, so a mismatch is never legitimate.
func checkEventName(c *checker, v, event string) {
	if c.enum("eventName", v, EventChat, EventKickUser, EventJoinRoom) && v != event {
		c.add("eventName", "Must be '"+event+"' for this event.")
	}
}

// JoinRoom is the join_room payload.
type JoinRoom struct {
	User      User   `json:"user"`
	RoomName  string `json:"roomName"`
	EventName string `json:"eventName"`
}

// Validate implements Validator.
func (p JoinRoom) Validate() error {
	var c checker
	p.User.check(&c, "user")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventJoinRoom)
	return c.err()
}

// ChatMessage is the chat payload, broadcast back unchanged to the room.
type ChatMessage struct {
	User      User    `json:"user"`
	TimeSent  float64 `json:"timeSent"`
	Message   string  `json:"message"`
	RoomName  string  `json:"roomName"`
	EventName string  `json:"eventName"`
}

// Validate implements Validator.
func (p ChatMessage) Validate() error {
	var c checker
	p.User.check(&c, "user")
	c.length("message", p.Message, 1, 1000, "Must be at least 1 character.", "Must be at most 1000 characters.")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventChat)
	return c.err()
}

// KickUser is the kick_user payload, broadcast to the room.
type KickUser struct {
	User       User   `json:"user"`
	UserToKick User   `json:"userToKick"`
	RoomName   string `json:"roomName"`
	EventName  string `json:"eventName"`
}

// Validate implements Validator.
func (p KickUser) Validate() error {
	var c checker
	p.User.check(&c, "user")
	p.UserToKick.check(&c, "userToKick")
	checkRoomName(&c, "roomName", p.RoomName)
	checkEventName(&c, p.EventName, EventKickUser)
	return c.err()
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
