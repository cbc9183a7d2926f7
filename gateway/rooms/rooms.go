package rooms

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
)

// roomPrefix namespaces the Socket.IO rooms of "/rooms", so that a client
// cannot join a room named like another socket's id (every socket is alone
// in the room of its id) and receive its private messages.
const roomPrefix = "room:"

// Refusals of "/rooms". Messages are sent to clients.
var (
	errNotMember     = &event.Error{Code: event.CodeForbidden, Message: "You must join the room first."}
	errUsernameBound = &event.Error{Code: event.CodeForbidden, Message: "username must be the one you joined with."}
)

// RateRules are the default limits of "/rooms" (ours: the seed sets none).
func RateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"/rooms:joinRoom":        {Limit: 10, Period: time.Minute},
		"/rooms:leaveRoom":       {Limit: 10, Period: time.Minute},
		"/rooms:sendRoomMessage": {Limit: 10, Period: time.Second},
		"/rooms:getRoomMembers":  {Limit: 30, Period: time.Minute},
	}
}

// state is what "/rooms" knows of a socket: the room joined last and the
// username given there.
type state struct{ room, user string }

// Rooms is namespace "/rooms". Counts and members come from the adapter's
// FetchSockets, so they are cluster-wide with a cluster adapter.
//
// Where the seed trusts the payload, sockgate binds: the username given to
// joinRoom is the connection's username in that room, a payload naming
// another username is refused, and only members may send to a room.
type Rooms struct {
	n     *event.Namespace
	state *event.Local[state]
}

// New registers the events of "/rooms" on n (StyleObject).
func New(n *event.Namespace) *Rooms {
	r := &Rooms{n: n, state: event.NewLocal[state]()}
	event.On(n, "joinRoom", "/rooms:joinRoom", r.join)
	event.On(n, "leaveRoom", "/rooms:leaveRoom", r.leave)
	event.On(n, "sendRoomMessage", "/rooms:sendRoomMessage", r.send)
	event.On(n, "getRoomMembers", "/rooms:getRoomMembers", r.members)
	return r
}

func (r *Rooms) now() event.Time { return event.Time(r.n.Pipeline().Now()) }

func (r *Rooms) join(ctx context.Context, c *event.Client, req Join) (joinReply, error) {
	s := c.Socket()
	for _, room := range s.Rooms() {
		if strings.HasPrefix(room, roomPrefix) {
			s.Leave(room)
		}
	}
	s.Join(roomPrefix + req.Room)
	r.state.Update(c, func(st *state) { *st = state{room: req.Room, user: req.Username} })
	r.n.Emit(r.n.IO().To(roomPrefix+req.Room), "userJoinedRoom", UserEvent{
		Username: req.Username, Room: req.Room, Timestamp: r.now(),
	})
	socks, err := r.n.IO().In(roomPrefix + req.Room).FetchSockets(ctx)
	if err != nil {
		return joinReply{}, err
	}
	return joinReply{Success: true, Room: req.Room, Members: len(socks)}, nil
}

func (r *Rooms) leave(_ context.Context, c *event.Client, req Leave) (event.OK, error) {
	st := r.state.Get(c)
	room := req.Room
	if room == "" {
		room = st.room
	}
	if room == "" || !c.InRoom(roomPrefix+room) {
		return event.OK{}, errNotMember
	}
	if req.Username != "" && req.Username != st.user {
		return event.OK{}, errUsernameBound
	}
	c.Socket().Leave(roomPrefix + room)
	r.state.Update(c, func(st *state) {
		if st.room == room {
			st.room = ""
		}
	})
	r.n.Emit(r.n.IO().To(roomPrefix+room), "userLeftRoom", UserEvent{
		Username: st.user, Room: room, Timestamp: r.now(),
	})
	return event.OK{Success: true}, nil
}

func (r *Rooms) send(_ context.Context, c *event.Client, req Message) (event.OK, error) {
	if !c.InRoom(roomPrefix + req.Room) {
		return event.OK{}, errNotMember
	}
	user := r.state.Get(c).user
	if req.Username != user {
		return event.OK{}, errUsernameBound
	}
	r.n.Emit(r.n.IO().To(roomPrefix+req.Room), "newRoomMessage", RoomMessage{
		Username: user, Room: req.Room, Message: req.Message, Timestamp: r.now(),
	})
	return event.OK{Success: true}, nil
}

func (r *Rooms) members(ctx context.Context, _ *event.Client, req Members) (membersReply, error) {
	socks, err := r.n.IO().In(roomPrefix + req.Room).FetchSockets(ctx)
	if err != nil {
		return membersReply{}, err
	}
	ids := make([]string, 0, len(socks))
	for _, si := range socks {
		ids = append(ids, si.ID)
	}
	slices.Sort(ids)
	return membersReply{Room: req.Room, MemberCount: len(ids), SocketIDs: ids}, nil
}
