package gateway

import (
	"context"
	"slices"
	"strings"

	"github.com/sockgate/sockgate/gateway/internal/wire"
)

// roomPrefix namespaces the Socket.IO rooms of "/rooms", so that a client
// cannot join a room named like another socket's id (every socket is alone
// in the room of its id) and receive its private messages.
const roomPrefix = "room:"

// setupRooms registers namespace "/rooms" (SPEC §4, seed
// websockets-realtime-communication.txt §3). Counts and members come from
// the adapter's FetchSockets, so they are cluster-wide with a cluster
// adapter.
//
// Where the seed trusts the payload, sockgate binds: the username given to
// joinRoom is the connection's username in that room, a payload naming
// another username is refused, and only members may send to a room.
func (s *Server) setupRooms(n *namespace) {
	on(n, "joinRoom", "/rooms:joinRoom", s.roomsJoin)
	on(n, "leaveRoom", "/rooms:leaveRoom", s.roomsLeave)
	on(n, "sendRoomMessage", "/rooms:sendRoomMessage", s.roomsSend)
	on(n, "getRoomMembers", "/rooms:getRoomMembers", s.roomsMembers)
}

// Replies of /rooms.
type (
	roomsJoinReply struct {
		Success bool   `json:"success"`
		Room    string `json:"room"`
		Members int    `json:"members"`
	}
	successReply struct {
		Success bool `json:"success"`
	}
	roomsMembersReply struct {
		Room        string   `json:"room"`
		MemberCount int      `json:"memberCount"`
		SocketIDs   []string `json:"socketIds"`
	}
)

func (s *Server) roomsJoin(ctx context.Context, c *Conn, req wire.RoomsJoin) (roomsJoinReply, error) {
	n := s.rooms
	for _, r := range c.s.Rooms() {
		if strings.HasPrefix(r, roomPrefix) {
			c.s.Leave(r)
		}
	}
	c.s.Join(roomPrefix + req.Room)
	c.mu.Lock()
	c.roomsRoom, c.roomsUser = req.Room, req.Username
	c.mu.Unlock()
	n.emit(n.io.To(roomPrefix+req.Room), "userJoinedRoom", wire.RoomUserEvent{
		Username: req.Username, Room: req.Room, Timestamp: wire.Time(s.now()),
	})
	socks, err := n.io.In(roomPrefix + req.Room).FetchSockets(ctx)
	if err != nil {
		return roomsJoinReply{}, err
	}
	return roomsJoinReply{Success: true, Room: req.Room, Members: len(socks)}, nil
}

// inNamedRoom reports whether c is in room (name without prefix).
func inNamedRoom(c *Conn, room string) bool {
	for _, r := range c.s.Rooms() {
		if r == roomPrefix+room {
			return true
		}
	}
	return false
}

func (s *Server) roomsLeave(_ context.Context, c *Conn, req wire.RoomsLeave) (successReply, error) {
	n := s.rooms
	c.mu.Lock()
	room, user := req.Room, c.roomsUser
	if room == "" {
		room = c.roomsRoom
	}
	c.mu.Unlock()
	if room == "" || !inNamedRoom(c, room) {
		return successReply{}, errNotMember
	}
	if req.Username != "" && req.Username != user {
		return successReply{}, errUsernameBound
	}
	c.s.Leave(roomPrefix + room)
	c.mu.Lock()
	if c.roomsRoom == room {
		c.roomsRoom = ""
	}
	c.mu.Unlock()
	n.emit(n.io.To(roomPrefix+room), "userLeftRoom", wire.RoomUserEvent{
		Username: user, Room: room, Timestamp: wire.Time(s.now()),
	})
	return successReply{Success: true}, nil
}

func (s *Server) roomsSend(_ context.Context, c *Conn, req wire.RoomsMessage) (successReply, error) {
	n := s.rooms
	if !inNamedRoom(c, req.Room) {
		return successReply{}, errNotMember
	}
	c.mu.Lock()
	user := c.roomsUser
	c.mu.Unlock()
	if req.Username != user {
		return successReply{}, errUsernameBound
	}
	n.emit(n.io.To(roomPrefix+req.Room), "newRoomMessage", wire.RoomMessage{
		Username: user, Room: req.Room, Message: req.Message, Timestamp: wire.Time(s.now()),
	})
	return successReply{Success: true}, nil
}

func (s *Server) roomsMembers(ctx context.Context, _ *Conn, req wire.RoomsMembers) (roomsMembersReply, error) {
	socks, err := s.rooms.io.In(roomPrefix + req.Room).FetchSockets(ctx)
	if err != nil {
		return roomsMembersReply{}, err
	}
	ids := make([]string, 0, len(socks))
	for _, si := range socks {
		ids = append(ids, si.ID)
	}
	slices.Sort(ids)
	return roomsMembersReply{Room: req.Room, MemberCount: len(ids), SocketIDs: ids}, nil
}
