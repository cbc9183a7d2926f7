package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sockgate/sockgate/socketio"
)

// features are the UI features this server supports (Node's
// detectSupportedFeatures on Socket.IO 4, plus the event kinds).
func (a *Admin) features() []string {
	f := []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS"}
	if a.cfg.Mode == Development {
		f = append(f, "ALL_EVENTS")
	}
	return f
}

// onConnection registers the actions of an admin socket and sends it the
// configuration, then (development) every socket of every namespace,
// cluster-wide, and its session id when it logged in with credentials.
func (a *Admin) onConnection(s *socketio.Socket) {
	s.On("emit", a.action("emit", a.emit))
	s.On("join", a.action("join", a.join))
	s.On("leave", a.action("leave", a.leave))
	s.On("_disconnect", a.action("_disconnect", a.disconnect))
	_ = s.Emit("config", config{SupportedFeatures: a.features()})
	if a.cfg.Mode == Development {
		_ = s.Emit("all_sockets", a.allSockets(s.Context()))
	}
	_ = s.Emit("server_stats", a.serverStats(false)) // Node's first one comes with the timer, up to 2 s later
	if ns, ok := s.Data().(newSession); ok {
		_ = s.Emit("session", ns.id)
	}
}

// allSockets is every socket of every namespace (FetchSockets through each
// namespace's adapter: cluster-wide with a cluster adapter).
func (a *Admin) allSockets(ctx context.Context) []serializedSocket {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	out := []serializedSocket{}
	for _, n := range a.io.Namespaces() {
		infos, err := n.FetchSockets(ctx)
		if err != nil {
			a.log.Warn("admin: fetch sockets", "ns", n.Name(), "err", err, "partial", len(infos))
		}
		for _, si := range infos {
			out = append(out, serialize(n.Name(), si, n.Socket(si.ID)))
		}
	}
	return out
}

// request is one UI action, decoded from its positional arguments:
// emit(nsp, filter, event, ...args), join/leave(nsp, room, filter),
// _disconnect(nsp, close, filter). A falsy filter (null, "", false) means
// the whole namespace, as in Node.
type request struct {
	Nsp    string
	Room   string // join, leave
	Filter string
	Event  string // emit
	Args   []any  // emit: json.RawMessage values
	Close  bool   // _disconnect
	ns     *socketio.Namespace
	log    []any // audit fields
}

// adminError tells the admin socket why an action was not done.
type adminError struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// refusal is an action refused, with the reason the admin socket is told.
type refusal struct{ reason string }

func (r refusal) Error() string { return r.reason }

// action wraps one UI action: decode, resolve the namespace, run under a
// deadline, audit-log the outcome and tell the admin socket of a refusal
// (event "admin_error" {action, reason}: the UI sends no acks).
func (a *Admin) action(name string, run func(ctx context.Context, r *request) error) socketio.EventHandler {
	return func(s *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
		r, err := decodeRequest(name, args)
		if err == nil {
			err = a.resolve(r)
		}
		fields := []any{"action", name, "admin_socket", s.ID(), "ip", a.clientIP(s)}
		if r != nil {
			fields = append(fields, "ns", r.Nsp, "filter", r.Filter)
			fields = append(fields, r.log...)
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(s.Context(), a.cfg.Timeout)
			err = run(ctx, r)
			cancel()
		}
		var ref refusal
		switch {
		case err == nil:
			a.log.Log(context.Background(), a.level(r), "admin: action", fields...)
		case errors.As(err, &ref):
			a.log.Warn("admin: action refused", append(fields, "reason", ref.reason)...)
			_ = s.Emit("admin_error", adminError{Action: name, Reason: ref.reason})
		default:
			a.log.Error("admin: action failed", append(fields, "err", err)...)
			_ = s.Emit("admin_error", adminError{Action: name, Reason: "failed: " + err.Error()})
		}
	}
}

// level is Warn for an action that touched a protected room (allowed by
// Config.AllowProtected), else Info.
func (a *Admin) level(r *request) slog.Level {
	if r != nil && (a.protected(r.Room) || r.Event != "" && a.protected(r.Filter)) {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func decodeRequest(name string, args socketio.Args) (*request, error) {
	r := &request{}
	if err := args.Decode(0, &r.Nsp); err != nil {
		return nil, refusal{"the first argument must be a namespace name"}
	}
	switch name {
	case "emit":
		r.Filter = falsyString(args, 1)
		if err := args.Decode(2, &r.Event); err != nil || r.Event == "" {
			return r, refusal{"emit needs an event name"}
		}
		for i := 3; i < args.Len(); i++ {
			r.Args = append(r.Args, args.Raw(i))
		}
		r.log = []any{"event", r.Event, "args", len(r.Args)}
	case "join", "leave":
		if err := args.Decode(1, &r.Room); err != nil || r.Room == "" {
			return r, refusal{name + " needs a room name"}
		}
		r.Filter = falsyString(args, 2)
		r.log = []any{"room", r.Room}
	case "_disconnect":
		var c any
		_ = args.Decode(1, &c)
		r.Close = c == true
		r.Filter = falsyString(args, 2)
		r.log = []any{"close", r.Close}
	}
	return r, nil
}

// falsyString reads argument i as a room name; anything else (absent, null,
// false, a number) is "" (the whole namespace).
func falsyString(args socketio.Args, i int) string {
	var s string
	if i >= args.Len() || args.Decode(i, &s) != nil {
		return ""
	}
	return s
}

// resolve finds the namespace; an unknown one is refused (Node's io.of
// would create it).
func (a *Admin) resolve(r *request) error {
	for _, n := range a.io.Namespaces() {
		if n.Name() == r.Nsp {
			r.ns = n
			return nil
		}
	}
	return refusal{fmt.Sprintf("unknown namespace %q", truncate(r.Nsp))}
}

func (a *Admin) emit(ctx context.Context, r *request) error {
	if r.Filter != "" && !a.allowed(r.Filter) {
		return refusal{fmt.Sprintf("room %q is protected: emitting to it would bypass sockgate's membership rules (enable -admin-allow-protected)", truncate(r.Filter))}
	}
	return operator(r).EmitContext(ctx, r.Event, r.Args...)
}

func (a *Admin) join(ctx context.Context, r *request) error {
	if !a.allowed(r.Room) {
		return refusal{fmt.Sprintf("room %q is protected: joining it would bypass sockgate's membership rules (enable -admin-allow-protected)", truncate(r.Room))}
	}
	return operator(r).SocketsJoin(ctx, r.Room)
}

func (a *Admin) leave(ctx context.Context, r *request) error {
	if !a.allowed(r.Room) {
		return refusal{fmt.Sprintf("room %q is protected: leaving it would bypass sockgate's membership rules (enable -admin-allow-protected)", truncate(r.Room))}
	}
	return operator(r).SocketsLeave(ctx, r.Room)
}

func (a *Admin) disconnect(ctx context.Context, r *request) error {
	return operator(r).DisconnectSockets(ctx, r.Close)
}

// operator selects the namespace's sockets, or the members of r.Filter.
func operator(r *request) *socketio.BroadcastOperator {
	if r.Filter == "" {
		return r.ns.Except()
	}
	return r.ns.In(r.Filter)
}

// allowed reports whether an action may touch room.
func (a *Admin) allowed(room string) bool {
	return a.cfg.AllowProtected || !a.protected(room)
}

// protected rooms carry sockgate's membership and identity rules: stored
// chats (chat:<id>), a user's sockets (user:<sub>) and every socket's own
// id room (20 base64url characters, the core's socket ids).
func (a *Admin) protected(room string) bool {
	return strings.HasPrefix(room, "chat:") || strings.HasPrefix(room, "user:") || isSocketID(room)
}

func isSocketID(room string) bool {
	if len(room) != 20 {
		return false
	}
	for _, c := range room {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
