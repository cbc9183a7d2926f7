package event

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// Client is the gateway's view of one socket in one namespace: the Socket.IO
// socket plus what the gateway knows about its client (address, identity)
// and each product's per-socket state (Local). Handlers receive it;
// connection middleware may attach an identity.
//
// A Client's handlers run one at a time (the core's per-socket order), but
// its fields are also read by other sockets' handlers (FetchSockets data,
// room views), hence the mutex, held only for field access.
type Client struct {
	s  *socketio.Socket
	ns *Namespace
	ip string

	mu       sync.Mutex
	identity auth.Identity
	authed   bool
	locals   map[localKey]any // nil until a product stores state
}

func newClient(ns *Namespace, s *socketio.Socket) *Client {
	hs := s.Handshake()
	ip := ratelimit.ClientIP(hs.Address, hs.Headers, ns.p.cfg.TrustedProxies)
	return &Client{s: s, ns: ns, ip: ip}
}

// ClientOf returns the Client the pipeline attached to s.
func ClientOf(s *socketio.Socket) *Client {
	c, _ := s.Data().(*Client)
	return c
}

// ID returns the socket id (20 characters), the id the client sees.
func (c *Client) ID() string { return c.s.ID() }

// IP returns the client address (X-Forwarded-For only from trusted proxies).
func (c *Client) IP() string { return c.ip }

// Socket returns the underlying Socket.IO socket.
func (c *Client) Socket() *socketio.Socket { return c.s }

// Context is cancelled when the socket disconnects.
func (c *Client) Context() context.Context { return c.s.Context() }

// Logger returns a logger naming the socket and its namespace. It is built
// on demand: idle sockets keep no logger.
func (c *Client) Logger() *slog.Logger { return c.ns.p.log.With("sid", c.s.ID(), "ns", c.ns.name) }

// SetIdentity attaches the authenticated user (connection middleware does).
func (c *Client) SetIdentity(id auth.Identity) {
	c.mu.Lock()
	c.identity, c.authed = id, true
	c.mu.Unlock()
}

// Identity returns the authenticated user, if any.
func (c *Client) Identity() (auth.Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.identity, c.authed
}

// User returns the authenticated user or ErrNeedAuth.
func (c *Client) User() (auth.Identity, error) {
	id, ok := c.Identity()
	if !ok {
		return auth.Identity{}, ErrNeedAuth
	}
	return id, nil
}

// rateKey is what rate limits count against: the user, else the IP.
func (c *Client) rateKey() string {
	id, _ := c.Identity()
	return ratelimit.Key(id.ID, c.ip)
}

// InRoom reports whether the socket is in room.
func (c *Client) InRoom(room string) bool {
	for _, r := range c.s.Rooms() {
		if r == room {
			return true
		}
	}
	return false
}

// Emit sends an event to this socket only, counting it.
func (c *Client) Emit(event string, v any) {
	c.ns.ctr.out.get(event).Inc()
	if err := c.s.Emit(event, v); err != nil {
		c.Logger().Debug("emit failed", "event", event, "err", err)
	}
}

// MarshalJSON implements json.Marshaler (socketio.SocketInfo.Data): what
// other sockets, on any instance through FetchSockets, may learn about this
// one: {"userId", and each public Local under its name}.
func (c *Client) MarshalJSON() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	b.WriteByte('{')
	if c.identity.ID != "" {
		b.WriteString(`"userId":`)
		id, _ := json.Marshal(c.identity.ID)
		b.Write(id)
	}
	for k, v := range c.locals {
		name := k.publicName()
		if name == "" {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(raw)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// localKey identifies a Local in a Client.
type localKey interface{ publicName() string }

// Local is one product's per-socket state, a typed slot in every Client
// (like a context key), so products keep what they know of a socket
// without the Client knowing the products. A public Local is part of the
// socket's FetchSockets data under its name.
type Local[T any] struct{ name string }

func (l *Local[T]) publicName() string { return l.name }

// NewLocal returns a private slot.
func NewLocal[T any]() *Local[T] { return &Local[T]{} }

// NewPublicLocal returns a slot that other sockets see in FetchSockets data
// under name (encoded with encoding/json).
func NewPublicLocal[T any](name string) *Local[T] { return &Local[T]{name: name} }

// Get returns c's value (the zero value when unset).
func (l *Local[T]) Get(c *Client) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, _ := c.locals[l].(T)
	return v
}

// Update changes c's value under the Client's lock and returns the new value.
func (l *Local[T]) Update(c *Client, f func(v *T)) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, _ := c.locals[l].(T)
	f(&v)
	if c.locals == nil {
		c.locals = make(map[localKey]any, 1)
	}
	c.locals[l] = v
	return v
}
