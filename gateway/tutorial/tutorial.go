package tutorial

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/gateway/internal/cluster"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
)

// Refusals of namespace "/". Messages are sent to clients.
var (
	errSpoofedSocketID = &event.Error{Code: event.CodeForbidden, Message: "user.socketId must be your own socket id."}
	errSpoofedUserID   = &event.Error{Code: event.CodeForbidden, Message: "user.userId must be the userId this connection joined with."}
	errNotMember       = &event.Error{Code: event.CodeForbidden, Message: "You must join the room first."}
	errNotHost         = &event.Error{Code: event.CodeForbidden, Message: "Only the room's host can kick users."}
	errKickSelf        = &event.Error{Code: event.CodeForbidden, Message: "You cannot kick yourself."}
	errUserToKick      = &event.Error{Code: event.CodeNotFound, Message: "userToKick is not in this room."}
	errUserIDTaken     = &event.Error{Code: event.CodeConflict, Message: "userId is already in use in this room."}
)

// RateRules are the default limits of "/" and its REST routes (SPEC §2:
// the tutorial seed's chat 10/30s and join_room 5/60s; ours elsewhere).
func RateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"/:chat":              {Limit: 10, Period: 30 * time.Second},
		"/:join_room":         {Limit: 5, Period: time.Minute},
		"/:kick_user":         {Limit: 20, Period: time.Minute},
		"http:GET /api/rooms": {Limit: 120, Period: time.Minute},
	}
}

// Tutorial is namespace "/" (SPEC §2): the tutorial's anonymous chat
// rooms, validated like its zod schemas, answered like NestJS (ack true, or
// no ack and an "exception" event), and its REST room view.
//
// Unlike the reference server, identity is bound to the connection: the
// payload's user.socketId must be the sender's socket id, the socket's
// userId is fixed by its first join_room, membership and hosting come from
// the registry (never from the payload), and kick/chat use the registry's
// record of the users involved.
type Tutorial struct {
	n      *event.Namespace
	reg    registry
	rooms  prometheus.Gauge
	userID *event.Local[string] // the userId fixed by the socket's first join_room
	// arrivals are the sockets whose first join_room room reads wait for.
	arrivals *arrivals
}

// New registers the tutorial's events on n (namespace "/", StyleTutorial)
// and its rooms gauge in m. With cc.Redis the registry lives in Redis
// (registry_redis.go) and its heartbeat runs until Close.
func New(n *event.Namespace, m *event.Metrics, cc cluster.Config) *Tutorial {
	var reg registry = newMemoryRegistry()
	if cc.Redis != nil {
		reg = newRedisRegistry(cc.WithDefaults(), n.Pipeline().Logger())
	}
	t := &Tutorial{
		n:   n,
		reg: reg,
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sockgate_tutorial_rooms", Help: "Rooms of the tutorial namespace \"/\" (as this instance last saw them).",
		}),
		userID:   event.NewLocal[string](),
		arrivals: newArrivals(),
	}
	m.Register(t.rooms)
	n.Use(t.arrivals.expect)
	event.On(n, EventJoinRoom, "/:join_room", t.joinRoom)
	event.On(n, EventChat, "/:chat", t.chat)
	event.On(n, EventKickUser, "/:kick_user", t.kickUser)
	n.OnDisconnect(t.leaveAll)
	return t
}

// Close releases the registry, within ctx: with Redis it stops the
// heartbeat and removes this instance's members (best effort: what it
// cannot remove expires after cluster.Config.TTL). Call it after the
// Socket.IO server has drained. Idempotent.
func (t *Tutorial) Close(ctx context.Context) error {
	if c, ok := t.reg.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}

// Routes adds GET /api/rooms and GET /api/rooms/{room} to mux.
func (t *Tutorial) Routes(mux *http.ServeMux) {
	p := t.n.Pipeline()
	mux.Handle("GET /api/rooms", p.Route("http:GET /api/rooms", nil, t.listRooms))
	mux.Handle("GET /api/rooms/{room}", p.Route("http:GET /api/rooms", nil, t.getRoom))
}

// checkSender verifies the payload's user is the connection itself.
func (t *Tutorial) checkSender(c *event.Client, u User) error {
	if u.SocketID != c.ID() {
		return errSpoofedSocketID
	}
	if bound := t.userID.Get(c); bound != "" && bound != u.UserID {
		return errSpoofedUserID
	}
	return nil
}

// regErr gives the registry's facts their replies.
func regErr(err error) error {
	switch {
	case errors.Is(err, errRegistryNoRoom):
		return event.Refuse(errNotMember, err)
	case errors.Is(err, errRegistryUserIDTaken):
		return event.Refuse(errUserIDTaken, err)
	}
	return err
}

func (t *Tutorial) joinRoom(ctx context.Context, c *event.Client, req JoinRoom) (bool, error) {
	defer t.arrivals.joined(c) // room reads waiting for it may go on
	if err := t.checkSender(c, req.User); err != nil {
		return false, err
	}
	if err := t.enter(ctx, c, req.RoomName, req.User); err != nil {
		return false, regErr(err)
	}
	t.userID.Update(c, func(id *string) {
		if *id == "" {
			*id = req.User.UserID
		}
	})
	c.Logger().Debug("joined room", "room", req.RoomName, "user_id", req.User.UserID)
	return true, nil
}

// memberOf returns the registry's record of c in room.
func (t *Tutorial) memberOf(ctx context.Context, c *event.Client, roomName string) (Room, User, error) {
	room, err := t.reg.Room(ctx, roomName)
	if err != nil {
		return room, User{}, regErr(err)
	}
	u, ok := member(room, c.ID())
	if !ok {
		return room, u, errNotMember
	}
	return room, u, nil
}

func (t *Tutorial) chat(ctx context.Context, c *event.Client, req ChatMessage) (bool, error) {
	if err := t.checkSender(c, req.User); err != nil {
		return false, err
	}
	_, u, err := t.memberOf(ctx, c, req.RoomName)
	if err != nil {
		return false, err
	}
	req.User = u
	t.n.Emit(t.n.IO().To(ioRoom(req.RoomName)), EventChat, req)
	return true, nil
}

func (t *Tutorial) kickUser(ctx context.Context, c *event.Client, req KickUser) (bool, error) {
	if err := t.checkSender(c, req.User); err != nil {
		return false, err
	}
	victim, err := t.kickable(ctx, c, &req)
	if err != nil {
		return false, err
	}
	t.n.Emit(t.n.IO().To(ioRoom(req.RoomName)), EventKickUser, req)
	if err := t.exit(ctx, req.RoomName, victim.SocketID); err != nil {
		return false, err
	}
	// Except the victim: on another instance its SocketsLeave and this
	// broadcast may travel on different channels (the sharded adapter's
	// room channels), so the order alone does not keep it out.
	t.n.Emit(t.n.IO().To(ioRoom(req.RoomName)).Except(victim.SocketID), EventChat, SystemChat{
		User: ServerUser,
		// The reference sends new Date().toLocaleString('en-US'); Node 20
		// puts U+202F before AM/PM, which browsers' Date parser rejects, so
		// a plain space is used (Node 18's output).
		TimeSent: t.n.Pipeline().Now().Format("1/2/2006, 3:04:05 PM"),
		Message:  victim.UserName + " was kicked.",
		RoomName: req.RoomName,
	})
	c.Logger().Debug("kicked user", "room", req.RoomName, "kicked", victim.SocketID)
	return true, nil
}

// kickable checks that c hosts req's room and may kick req.UserToKick, and
// puts the registry's records of both users into req.
func (t *Tutorial) kickable(ctx context.Context, c *event.Client, req *KickUser) (User, error) {
	room, u, err := t.memberOf(ctx, c, req.RoomName)
	if err != nil {
		return User{}, err
	}
	if room.Host.SocketID != c.ID() {
		return User{}, errNotHost
	}
	if req.UserToKick.SocketID == c.ID() {
		return User{}, errKickSelf
	}
	victim, ok := member(room, req.UserToKick.SocketID)
	if !ok || victim.UserID != req.UserToKick.UserID {
		return User{}, errUserToKick
	}
	req.User, req.UserToKick = u, victim
	return victim, nil
}

// roomPrefix starts the Socket.IO room of every tutorial room (SPEC §10):
// "/" also holds each socket's id room and an authenticated socket's
// "user:<sub>" room, so a tutorial room named "user:bob" must not be that
// room. The registry and the wire keep the name the client sent.
const roomPrefix = "room:"

// ioRoom is the Socket.IO room of tutorial room name.
func ioRoom(name string) string { return roomPrefix + name }

// enter and exit are the one place where room membership changes: the
// registry (the truth: members, host, the REST view) and then the Socket.IO
// room (delivery, on every instance). A join racing its socket's
// disconnect needs no undoing: the core runs the disconnect hook (leaveAll)
// after the running handler, and a Join after disconnect is a no-op.
func (t *Tutorial) enter(ctx context.Context, c *event.Client, room string, u User) error {
	if _, err := t.reg.Join(ctx, room, u); err != nil {
		return err
	}
	c.Socket().Join(ioRoom(room))
	t.countRooms(ctx)
	return nil
}

// exit removes socket id from room, on whichever instance it lives.
func (t *Tutorial) exit(ctx context.Context, room, socketID string) error {
	if _, _, err := t.reg.Leave(ctx, room, socketID); err != nil {
		return err
	}
	if err := t.n.IO().In(socketID).SocketsLeave(ctx, ioRoom(room)); err != nil {
		return err
	}
	t.countRooms(ctx)
	return nil
}

// leaveAll removes a disconnected socket from every room (empty rooms are
// deleted by the registry; the core has taken it out of its Socket.IO
// rooms).
func (t *Tutorial) leaveAll(ctx context.Context, c *event.Client, _ string) {
	left, err := t.reg.LeaveAll(ctx, c.ID())
	if err != nil {
		c.Logger().Error("leave rooms on disconnect", "err", err)
		return
	}
	if len(left) > 0 {
		t.countRooms(ctx)
	}
}

// countRooms refreshes the rooms gauge.
func (t *Tutorial) countRooms(ctx context.Context) {
	if n, err := t.reg.Count(ctx); err == nil {
		t.rooms.Set(float64(n))
	}
}
