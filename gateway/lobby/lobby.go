package lobby

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
)

// lobbyRoom holds the sockets of /chat that called joinChat, so the online
// list is a FetchSockets away on every instance.
const lobbyRoom = "lobby"

// RateRules are the default limits of the lobby events (the seed's 10
// messages per second; typing has a rule of its own, "/chat:typing", which
// the stored chats' typing shares, so it cannot starve messages).
func RateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"/chat:joinChat":    {Limit: 10, Period: time.Minute},
		"/chat:sendMessage": {Limit: 10, Period: time.Second},
		"/chat:typing":      {Limit: 20, Period: 10 * time.Second},
	}
}

// notJoined is the seed's sendMessage refusal; its ack keeps the seed's
// exact shape {error:"You must join the chat first"}.
type notJoined struct{ reply *event.Error }

func (e notJoined) Error() string { return e.reply.Error() }
func (e notJoined) Unwrap() error { return e.reply }
func (e notJoined) AckBody() any {
	return struct {
		Error string `json:"error"`
	}{e.reply.Message}
}

var errNotJoined = notJoined{&event.Error{Code: event.CodeForbidden, Message: "You must join the chat first"}}

// member is what the lobby knows of a socket that joined: its username and
// when it joined. It is public (FetchSockets data, key "lobby") so that the
// online list is the same on every instance.
type member struct {
	Name     string `json:"name"`
	JoinedAt int64  `json:"joinedAt"` // Unix ns, wall clock: it orders the online list
}

// Lobby is the anonymous lobby of "/chat" (SPEC §3, seed
// websockets-realtime-communication.txt §2).
type Lobby struct {
	n      *event.Namespace
	member *event.Local[member]
}

// New registers the lobby's events on n ("/chat"). "typing" is not
// registered: the namespace shares it with the stored chats, and the wiring
// dispatches it to Typing when it carries no chatId.
func New(n *event.Namespace) *Lobby {
	l := &Lobby{n: n, member: event.NewPublicLocal[member]("lobby")}
	n.OnConnect(func(c *event.Client) {
		c.Emit("welcome", Welcome{Message: "Welcome to the chat!", Timestamp: l.now()})
	}, false)
	event.On(n, "joinChat", "/chat:joinChat", l.join)
	event.On(n, "sendMessage", "/chat:sendMessage", l.send)
	n.OnDisconnect(l.leave)
	return l
}

func (l *Lobby) now() event.Time { return event.Time(l.n.Pipeline().Now()) }

func (l *Lobby) join(ctx context.Context, c *event.Client, req JoinChat) (joinReply, error) {
	l.member.Update(c, func(m *member) {
		m.Name = req.Username
		if m.JoinedAt == 0 {
			m.JoinedAt = time.Now().UnixNano()
		}
	})
	c.Socket().Join(lobbyRoom)
	l.n.Emit(l.n.IO().To(), "userJoined", UserEvent{Username: req.Username, Timestamp: l.now()})
	users, err := l.online(ctx)
	if err != nil {
		return joinReply{}, err
	}
	c.Emit("onlineUsers", OnlineUsers{Users: users})
	return joinReply{Success: true, Username: req.Username}, nil
}

// online lists the lobby's usernames in joining order (duplicates kept, as
// the seed's map of sockets would).
func (l *Lobby) online(ctx context.Context) ([]string, error) {
	socks, err := l.n.IO().In(lobbyRoom).FetchSockets(ctx)
	if err != nil {
		return nil, err
	}
	type entry struct {
		member
		id string
	}
	es := make([]entry, 0, len(socks))
	for _, si := range socks {
		var d struct {
			Lobby member `json:"lobby"`
		}
		if err := json.Unmarshal(si.Data, &d); err != nil || d.Lobby.Name == "" {
			continue
		}
		es = append(es, entry{d.Lobby, si.ID})
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Or(cmp.Compare(a.JoinedAt, b.JoinedAt), cmp.Compare(a.id, b.id)) })
	users := make([]string, len(es))
	for i, e := range es {
		users[i] = e.Name
	}
	return users, nil
}

func (l *Lobby) send(_ context.Context, c *event.Client, req SendMessage) (event.OK, error) {
	name := l.member.Get(c).Name
	if name == "" {
		return event.OK{}, errNotJoined
	}
	l.n.Emit(l.n.IO().To(), "newMessage", NewMessage{Username: name, Message: req.Message, Timestamp: l.now()})
	return event.OK{Success: true}, nil
}

// Typing is the lobby's "typing {isTyping}" (no chatId): userTyping to all
// but the sender. The seed ignores typing from sockets that did not join.
func (l *Lobby) Typing(_ context.Context, c *event.Client, isTyping bool) (event.OK, error) {
	name := l.member.Get(c).Name
	if name == "" {
		return event.OK{Success: true}, nil
	}
	l.n.Emit(c.Socket().Broadcast(), "userTyping", UserTyping{Username: name, IsTyping: isTyping})
	return event.OK{Success: true}, nil
}

func (l *Lobby) leave(_ context.Context, c *event.Client, _ string) {
	name := l.member.Get(c).Name
	if name == "" {
		return
	}
	l.n.Emit(l.n.IO().To(), "userLeft", UserEvent{Username: name, Timestamp: l.now()})
}
