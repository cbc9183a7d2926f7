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
	// SendQueueBytes bounds the payload bytes queued for one connection
	// (messages, not control packets): a connection whose queue would
	// exceed it is closed ("send queue overflow"), so a consumer that
	// cannot keep up costs at most this much memory, not SendQueue ×
	// MaxPayload. A message larger than the bound is still queued when
	// nothing else is. Zero means 4 MiB.
	SendQueueBytes int64
	// WriteTimeout bounds one write to a peer: a WebSocket batch, a poll
	// response, a control frame. A peer that does not read for that long
	// is closed ("write timeout"). Zero means 10s.
	WriteTimeout time.Duration
	// BodyTimeout bounds the reading of one polling POST body, counted
	// from the request's arrival: a client that declares a body and sends
	// it slowly (or never) is answered 408 and its session closed
	// ("transport error"). Zero means 10s.
	BodyTimeout time.Duration
	// MaxConnsPerIP caps the open sessions of one client address (by
	// ClientIP): a handshake beyond it is refused with 429. Zero means no
	// cap.
	MaxConnsPerIP int
	// ClientIP returns the address a handshake request counts against
	// MaxConnsPerIP (e.g. the gateway's, which believes X-Forwarded-For
	// from trusted proxies only). Nil means the host of r.RemoteAddr.
	ClientIP func(r *http.Request) string
	// OnDisconnect, when set, is called once per closed connection with
	// its close reason (for counters): on an engine goroutine, never with
	// an engine lock held. It must not block.
	OnDisconnect func(reason string)
	// AllowRequest, when set, vets the handshake request of a new session
	// (e.g. a per-IP connection rate limit). A non-nil error refuses it with
	// HTTP 403 (or the status of an error implementing StatusCode() int) and
	// Node's JSON error body {"code":4,"message":…}; a *HandshakeError
	// chooses the status, the message (the reason a client can show) and
	// extra headers (Retry-After, X-RateLimit-*).
	AllowRequest func(r *http.Request) error
	// Admit, when set, is called for the handshake of every new session
	// that AllowRequest let through, before the WebSocket upgrade or the
	// open packet, and its release once the session is open (the gateway
	// paces new sessions behind its events with it). It may block; it
	// should return when r's context ends.
	Admit func(r *http.Request) (release func())
	// Logger receives engine-level logs. Nil discards.
	Logger *slog.Logger
}

// HandshakeError is an AllowRequest refusal that says what the client is
// told: the engine answers Status with Node's body {"code":4,"message":
// Message} and Header's fields (which CORS.ExposeHeaders should list for
// browsers to read them).
type HandshakeError struct {
	// Status is the HTTP status. Zero means 403.
	Status int
	// Message is the reason sent to the client. Zero means "Forbidden".
	Message string
	// Header holds extra response headers, e.g. Retry-After.
	Header http.Header
	// Err is the cause, for logs (may be nil).
	Err error
}

// Error implements error.
func (e *HandshakeError) Error() string {
	if e.Err != nil {
		return "engine: handshake refused: " + e.Message + ": " + e.Err.Error()
	}
	return "engine: handshake refused: " + e.Message
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

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
//	func (c *Conn) Header() http.Header         // the handshake request's headers (Host included), a new map per call
//	func (c *Conn) RequestURI() string          // its target as sent (path and query)
//	func (c *Conn) Secure() bool                // it came over TLS
//	func (c *Conn) RemoteAddr() string          // the handshake's r.RemoteAddr
//	func (c *Conn) Transport() string           // "polling" or "websocket" (current)
//	func (c *Conn) Send(msgs ...*Message) error // queued in order, never blocks; ErrClosed / ErrQueueFull
//	func (c *Conn) SendVolatile(msgs ...*Message) bool // dropped (false) unless the transport can take them now
//	func (c *Conn) Close(reason string)         // flushes what is queued, then closes; OnClose(reason)
var _ = context.Background
