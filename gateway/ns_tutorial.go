package gateway

import (
	"context"

	"github.com/sockgate/sockgate/gateway/internal/wire"
)

// setupTutorial registers namespace "/" (SPEC §2): the tutorial's anonymous
// chat rooms, validated like its zod schemas, answered like NestJS (ack true,
// or no ack and an "exception" event).
//
// Unlike the reference server, identity is bound to the connection: the
// payload's user.socketId must be the sender's socket id, the socket's
// userId is fixed by its first join_room, membership and hosting come from
// the registry (never from the payload), and kick/chat use the registry's
// record of the users involved.
func (s *Server) setupTutorial(n *namespace) {
	on(n, wire.EventJoinRoom, "/:join_room", s.joinRoom)
	on(n, wire.EventChat, "/:chat", s.chatMessage)
	on(n, wire.EventKickUser, "/:kick_user", s.kickUser)
	n.onDisconnect = append(n.onDisconnect, s.leaveTutorialRooms)
}

// checkSender verifies the payload's user is the connection itself.
func checkSender(c *Conn, u wire.User) error {
	if u.SocketID != c.ID() {
		return errSpoofedSocketID
	}
	c.mu.Lock()
	bound := c.tutorialUserID
	c.mu.Unlock()
	if bound != "" && bound != u.UserID {
		return errSpoofedUserID
	}
	return nil
}

func (s *Server) joinRoom(ctx context.Context, c *Conn, req wire.JoinRoom) (bool, error) {
	if err := checkSender(c, req.User); err != nil {
		return false, err
	}
	if _, err := s.reg.Join(ctx, req.RoomName, req.User); err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.tutorialUserID == "" {
		c.tutorialUserID = req.User.UserID
	}
	c.mu.Unlock()
	c.s.Join(req.RoomName)
	if !c.s.Connected() {
		// Disconnected while joining: its cleanup may have run already.
		_, _, _ = s.reg.Leave(ctx, req.RoomName, c.ID())
	}
	s.countRooms(ctx)
	c.log.Debug("joined room", "room", req.RoomName, "user_id", req.User.UserID)
	return true, nil
}

// memberOf returns the registry's record of c in room.
func (s *Server) memberOf(ctx context.Context, c *Conn, roomName string) (wire.Room, wire.User, error) {
	room, err := s.reg.Room(ctx, roomName)
	if err != nil {
		if err == errRegistryNoRoom {
			return room, wire.User{}, errNotMember
		}
		return room, wire.User{}, err
	}
	u, ok := member(room, c.ID())
	if !ok {
		return room, u, errNotMember
	}
	return room, u, nil
}

func (s *Server) chatMessage(ctx context.Context, c *Conn, req wire.ChatMessage) (bool, error) {
	if err := checkSender(c, req.User); err != nil {
		return false, err
	}
	_, u, err := s.memberOf(ctx, c, req.RoomName)
	if err != nil {
		return false, err
	}
	req.User = u
	s.tutorial.emit(s.tutorial.io.To(req.RoomName), wire.EventChat, req)
	return true, nil
}

func (s *Server) kickUser(ctx context.Context, c *Conn, req wire.KickUser) (bool, error) {
	if err := checkSender(c, req.User); err != nil {
		return false, err
	}
	room, u, err := s.memberOf(ctx, c, req.RoomName)
	if err != nil {
		return false, err
	}
	if room.Host.SocketID != c.ID() {
		return false, errNotHost
	}
	if req.UserToKick.SocketID == c.ID() {
		return false, errKickSelf
	}
	victim, ok := member(room, req.UserToKick.SocketID)
	if !ok || victim.UserID != req.UserToKick.UserID {
		return false, errUserToKick
	}
	req.User, req.UserToKick = u, victim
	n := s.tutorial
	n.emit(n.io.To(req.RoomName), wire.EventKickUser, req)
	if _, _, err := s.reg.Leave(ctx, req.RoomName, victim.SocketID); err != nil {
		return false, err
	}
	if err := n.io.In(victim.SocketID).SocketsLeave(ctx, req.RoomName); err != nil {
		return false, err
	}
	s.countRooms(ctx)
	n.emit(n.io.To(req.RoomName), wire.EventChat, wire.SystemChat{
		User: wire.ServerUser,
		// The reference sends new Date().toLocaleString('en-US'); Node 20
		// puts U+202F before AM/PM, which browsers' Date parser rejects, so
		// a plain space is used (Node 18's output).
		TimeSent: s.now().Format("1/2/2006, 3:04:05 PM"),
		Message:  victim.UserName + " was kicked.",
		RoomName: req.RoomName,
	})
	c.log.Debug("kicked user", "room", req.RoomName, "kicked", victim.SocketID)
	return true, nil
}

// leaveTutorialRooms removes a disconnected socket from every room (empty
// rooms are deleted by the registry).
func (s *Server) leaveTutorialRooms(ctx context.Context, c *Conn, _ string) {
	left, err := s.reg.LeaveAll(ctx, c.ID())
	if err != nil {
		c.log.Error("leave rooms on disconnect", "err", err)
		return
	}
	if len(left) > 0 {
		s.countRooms(ctx)
	}
}

// countRooms refreshes the rooms gauge.
func (s *Server) countRooms(ctx context.Context) {
	if n, err := s.reg.Count(ctx); err == nil {
		s.metrics.rooms.Set(float64(n))
	}
}
