package engine

// This file is the contract between the Engine.IO layer (this package) and
// the Socket.IO layer (package socketio). The Socket.IO layer relies on every
// guarantee written here; change it only together with package socketio.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Errors returned by Conn.Send.
var (
	// ErrClosed is returned when sending on a connection that is closed.
	ErrClosed = errors.New("engine: connection closed")
	// ErrQueueFull is returned when a send would exceed the connection's
	// bounded send queue; the connection is closed with reason "send queue overflow".
	ErrQueueFull = errors.New("engine: send queue full")
)

// Config tunes a Server. The zero value of every field selects the default
// written next to it (Node's engine.io defaults where Node has one).
type Config struct {
	// PingInterval is the heartbeat interval sent in the handshake. Zero means 25s.
	PingInterval time.Duration
	// PingTimeout is how long to wait for a pong after a ping. Zero means 20s.
	PingTimeout time.Duration
	// MaxPayload (Node's maxHttpBufferSize) caps one WebSocket message and one
	// polling POST body, enforced before the body is read. Zero means 1e6 bytes.
	MaxPayload int64
	// UpgradeTimeout bounds a pending polling→WebSocket upgrade. Zero means 10s.
	UpgradeTimeout time.Duration
	// Transports lists the allowed transports: "polling", "websocket".
	// Nil means both.
	Transports []string
	// DisableUpgrades stops advertising/accepting the WebSocket upgrade.
	DisableUpgrades bool
	// CORS is the cross-origin policy of every Engine.IO request (see
	// CORS): requests it does not allow are refused with 403, WebSocket
	// handshakes included. The zero value allows same-origin requests only.
	CORS CORS
	// SendQueue bounds the messages queued for one connection; a connection
	// whose queue overflows is closed. Zero means 4096.
	SendQueue int
	// AllowRequest, when set, vets the handshake request of a new session
	// (e.g. a per-IP connection rate limit). A non-nil error refuses it with
	// HTTP 403 (or the status of an error implementing StatusCode() int) and
	// Node's JSON error body.
	AllowRequest func(r *http.Request) error
	// Logger receives engine-level logs. Nil discards.
	Logger *slog.Logger
}

// ConnHandler receives one connection's inbound traffic.
//
// Guarantees: OnMessage is called from one goroutine at a time per Conn, in
// the order the peer sent the messages, across transports (an upgrade from
// polling to WebSocket preserves order). OnClose is called exactly once,
// after the last OnMessage has returned. A slow OnMessage delays only its own
// connection's reads; heartbeats are handled by the engine and keep working
// while a handler runs.
type ConnHandler interface {
	OnMessage(data []byte, binary bool)
	OnClose(reason string)
}

// Message is defined in message.go.

// Compile-time view of the API the Socket.IO layer uses. The engine's
// implementation provides these (bodies live in the other files):
//
//	func New(cfg Config, onConnect func(c *Conn)) *Server
//	func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request)
//	func (s *Server) Shutdown(ctx context.Context) error // closes every conn with reason "server shutting down"
//	func (s *Server) Count() int                          // open connections
//
//	func (c *Conn) ID() string                 // the Engine.IO sid
//	func (c *Conn) SetHandler(h ConnHandler)    // must be called inside onConnect, before it returns
//	func (c *Conn) Request() *http.Request      // the handshake request (headers, URL query); body never read
//	func (c *Conn) RemoteAddr() string          // the handshake's r.RemoteAddr
//	func (c *Conn) Transport() string           // "polling" or "websocket" (current)
//	func (c *Conn) Send(msgs ...*Message) error // queued in order, never blocks; ErrClosed / ErrQueueFull
//	func (c *Conn) SendVolatile(msgs ...*Message) bool // dropped (false) unless the transport can take them now
//	func (c *Conn) Close(reason string)         // flushes what is queued, then closes; OnClose(reason)
var _ = context.Background
