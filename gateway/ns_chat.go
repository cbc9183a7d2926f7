package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sockgate/sockgate/gateway/internal/wire"
)

// lobbyRoom holds the sockets of /chat that called joinChat, so the online
// list is a FetchSockets away on every instance.
const lobbyRoom = "lobby"

// setupChat registers namespace "/chat" (SPEC §3): the anonymous lobby of
// seed websockets-realtime-communication.txt §2. The stored chats (join,
// chat message, typing with chatId, read, presence, recovery) are added by
// enableChats (ns_chat_chats.go); "typing" is shared and dispatched on the
// presence of chatId.
func (s *Server) setupChat(n *namespace) {
	n.onConnect = append(n.onConnect, func(c *Conn) {
		c.emit("welcome", wire.Welcome{Message: "Welcome to the chat!", Timestamp: wire.Time(s.now())})
	})
	on(n, "joinChat", "/chat:joinChat", s.lobbyJoin)
	on(n, "sendMessage", "/chat:sendMessage", s.lobbySend)
	on(n, "typing", "/chat:typing", s.typing)
	n.onDisconnect = append(n.onDisconnect, s.lobbyLeave)
}

type joinChatReply struct {
	Success  bool   `json:"success"`
	Username string `json:"username"`
}

func (s *Server) lobbyJoin(ctx context.Context, c *Conn, req wire.JoinChat) (joinChatReply, error) {
	n := s.chat
	c.mu.Lock()
	c.lobbyName = req.Username
	if c.lobbyJoinedAt.IsZero() {
		// Wall clock, not Config.Now: it orders the online list.
		c.lobbyJoinedAt = time.Now()
	}
	c.mu.Unlock()
	c.s.Join(lobbyRoom)
	n.emit(n.io.To(), "userJoined", wire.UserEvent{Username: req.Username, Timestamp: wire.Time(s.now())})
	users, err := s.onlineUsers(ctx)
	if err != nil {
		return joinChatReply{}, err
	}
	c.emit("onlineUsers", wire.OnlineUsers{Users: users})
	return joinChatReply{Success: true, Username: req.Username}, nil
}

// onlineUsers lists the lobby's usernames in joining order (duplicates
// kept, as the seed's map of sockets would).
func (s *Server) onlineUsers(ctx context.Context) ([]string, error) {
	socks, err := s.chat.io.In(lobbyRoom).FetchSockets(ctx)
	if err != nil {
		return nil, err
	}
	type entry struct {
		name string
		at   int64
		id   string
	}
	es := make([]entry, 0, len(socks))
	for _, si := range socks {
		var d connData
		if err := json.Unmarshal(si.Data, &d); err != nil || d.LobbyName == "" {
			continue
		}
		es = append(es, entry{d.LobbyName, d.LobbyJoinedAt, si.ID})
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	users := make([]string, len(es))
	for i, e := range es {
		users[i] = e.name
	}
	return users, nil
}

func (s *Server) lobbyName(c *Conn) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lobbyName
}

func (s *Server) lobbySend(_ context.Context, c *Conn, req wire.SendMessage) (successReply, error) {
	name := s.lobbyName(c)
	if name == "" {
		return successReply{}, errNotJoinedLobby
	}
	s.chat.emit(s.chat.io.To(), "newMessage", wire.NewMessage{Username: name, Message: req.Message, Timestamp: wire.Time(s.now())})
	return successReply{Success: true}, nil
}

func (s *Server) typing(ctx context.Context, c *Conn, req wire.Typing) (successReply, error) {
	if req.ChatID != nil {
		// Typing in a stored chat (SPEC §3, ns_chat_chats.go).
		if s.chats == nil {
			return successReply{}, errChatsDisabled
		}
		return s.chats.typing(ctx, c, *req.ChatID, req.IsTyping)
	}
	name := s.lobbyName(c)
	if name == "" {
		// The seed ignores typing from sockets that did not join.
		return successReply{Success: true}, nil
	}
	s.chat.emit(c.s.Broadcast(), "userTyping", wire.UserTyping{Username: name, IsTyping: req.IsTyping})
	return successReply{Success: true}, nil
}

func (s *Server) lobbyLeave(_ context.Context, c *Conn, _ string) {
	name := s.lobbyName(c)
	if name == "" {
		return
	}
	s.chat.emit(s.chat.io.To(), "userLeft", wire.UserEvent{Username: name, Timestamp: wire.Time(s.now())})
}
