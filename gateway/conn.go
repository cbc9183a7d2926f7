package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// Conn is the gateway's view of one socket: the Socket.IO socket plus what
// the gateway knows about its client (address, identity, what it joined).
// Handlers receive it; connection middleware may attach an identity.
//
// A Conn's handlers run one at a time (the core's per-socket order), but
// its fields are also read by other sockets' handlers (FetchSockets data,
// room views), hence the mutex.
type Conn struct {
	s   *socketio.Socket
	ns  *namespace
	ip  string
	log *slog.Logger

	mu       sync.Mutex
	identity auth.Identity
	authed   bool
	// "/": the userId fixed by the socket's first join_room.
	tutorialUserID string
	// "/chat" lobby: the username of joinChat and when it was given.
	lobbyName     string
	lobbyJoinedAt time.Time
	// "/rooms": the room joined last and the username given there.
	roomsRoom, roomsUser string
}

func newConn(ns *namespace, s *socketio.Socket) *Conn {
	hs := s.Handshake()
	ip := ratelimit.ClientIP(hs.Address, hs.Headers, ns.srv.cfg.TrustedProxies)
	return &Conn{
		s:   s,
		ns:  ns,
		ip:  ip,
		log: ns.srv.log.With("sid", s.ID(), "ns", ns.name),
	}
}

// connOf returns the Conn the gateway attached to s.
func connOf(s *socketio.Socket) *Conn {
	c, _ := s.Data().(*Conn)
	return c
}

// ID returns the socket id (20 characters), the id the client sees.
func (c *Conn) ID() string { return c.s.ID() }

// IP returns the client address (X-Forwarded-For only from trusted proxies).
func (c *Conn) IP() string { return c.ip }

// Socket returns the underlying Socket.IO socket.
func (c *Conn) Socket() *socketio.Socket { return c.s }

// Context is cancelled when the socket disconnects.
func (c *Conn) Context() context.Context { return c.s.Context() }

// Logger returns the connection's logger (sid and namespace attached).
func (c *Conn) Logger() *slog.Logger { return c.log }

// SetIdentity attaches the authenticated user (connection middleware does).
func (c *Conn) SetIdentity(id auth.Identity) {
	c.mu.Lock()
	c.identity, c.authed = id, true
	c.mu.Unlock()
}

// Identity returns the authenticated user, if any.
func (c *Conn) Identity() (auth.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity, c.authed
}

// rateKey is what rate limits count against: the user, else the IP.
func (c *Conn) rateKey() string {
	id, _ := c.Identity()
	return ratelimit.Key(id.ID, c.ip)
}

// connData is the JSON form of a Conn: what other sockets (on any instance,
// through FetchSockets) may learn about it.
type connData struct {
	UserID        string `json:"userId,omitempty"`
	LobbyName     string `json:"lobbyName,omitempty"`
	LobbyJoinedAt int64  `json:"lobbyJoinedAt,omitempty"` // Unix ns
}

// MarshalJSON implements json.Marshaler (socketio.SocketInfo.Data).
func (c *Conn) MarshalJSON() ([]byte, error) {
	c.mu.Lock()
	d := connData{UserID: c.identity.ID, LobbyName: c.lobbyName}
	if !c.lobbyJoinedAt.IsZero() {
		d.LobbyJoinedAt = c.lobbyJoinedAt.UnixNano()
	}
	c.mu.Unlock()
	return json.Marshal(d)
}

// emit sends an event to this socket only, counting it.
func (c *Conn) emit(event string, v any) {
	c.ns.srv.metrics.eventsOut.WithLabelValues(c.ns.name, event).Inc()
	if err := c.s.Emit(event, v); err != nil {
		c.log.Debug("emit failed", "event", event, "err", err)
	}
}
