package socketio

// API CONTRACT (skeleton). This file fixes the public API of package socketio
// that package gateway programs against. The implementation replaces the
// panicking bodies and may split this file into server.go, namespace.go,
// socket.go, broadcast.go, args.go; signatures may only grow (new methods,
// new Config fields), never change, without updating gateway too.

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
)

// Config tunes a Server; zero values select the defaults written beside them.
type Config struct {
	// Engine configures the Engine.IO layer (heartbeat, payload limit, CORS...).
	Engine engine.Config
	// ConnectTimeout closes an Engine.IO connection that joins no namespace in
	// time. Zero means 45s (Node's default).
	ConnectTimeout time.Duration
	// AckTimeout is the default timeout of EmitWithAck calls whose context has
	// no deadline. Zero means 10s.
	AckTimeout time.Duration
	// Adapter builds the room/broadcast adapter of each namespace. Nil means
	// the in-memory adapter.
	Adapter AdapterFactory
	// Logger receives protocol logs. Nil discards.
	Logger *slog.Logger
}

// AdapterFactory builds the adapter of one namespace.
type AdapterFactory func(n *Namespace) Adapter

// Adapter is defined in adapter.go.

// Server is a Socket.IO v5 server. It is an http.Handler meant to be mounted
// at "/socket.io/".
type Server struct{ _ int }

// New returns a Server. The main namespace "/" always exists.
func New(cfg Config) *Server { panic("unimplemented") }

// ServeHTTP serves Engine.IO requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("unimplemented") }

// Of returns the static namespace name, creating it on first use.
func (s *Server) Of(name string) *Namespace { panic("unimplemented") }

// OfFunc registers a dynamic namespace: a client connecting to an unknown
// namespace name for which accept returns true gets a namespace created with
// that name; setup is called once for each namespace so created (to register
// middleware and connection handlers).
func (s *Server) OfFunc(accept func(name string, auth json.RawMessage) bool, setup func(n *Namespace)) {
	panic("unimplemented")
}

// Shutdown disconnects every socket (reason "server shutting down"), closes
// adapters and obeys ctx's deadline. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error { panic("unimplemented") }

// Namespace is a communication channel multiplexed over one connection.
type Namespace struct{ _ int }

// Name returns the namespace's name, e.g. "/" or "/chat".
func (n *Namespace) Name() string { panic("unimplemented") }

// Middleware vets a socket before it connects. A non-nil error refuses the
// connection with CONNECT_ERROR {message: err.Error()} plus {data: ...} when
// err (or a wrapped error) implements ErrorData.
type Middleware func(s *Socket) error

// ErrorData is implemented by middleware errors that carry connect_error data.
type ErrorData interface{ ErrorData() any }

// Use appends a connection middleware.
func (n *Namespace) Use(m Middleware) { panic("unimplemented") }

// OnConnection registers the handler run for each connected socket, in the
// socket's own event order (before any of its events is dispatched).
func (n *Namespace) OnConnection(h func(s *Socket)) { panic("unimplemented") }

// Sockets returns the number of sockets connected to this namespace on this instance.
func (n *Namespace) Sockets() int { panic("unimplemented") }

// Socket returns the local socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket { panic("unimplemented") }

// To/In/Except/Local/Volatile/Timeout start a broadcast on the namespace.
func (n *Namespace) To(rooms ...string) *BroadcastOperator     { panic("unimplemented") }
func (n *Namespace) In(rooms ...string) *BroadcastOperator     { panic("unimplemented") }
func (n *Namespace) Except(rooms ...string) *BroadcastOperator { panic("unimplemented") }
func (n *Namespace) Local() *BroadcastOperator                 { panic("unimplemented") }
func (n *Namespace) Volatile() *BroadcastOperator              { panic("unimplemented") }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { panic("unimplemented") }

// Handshake is what the client sent when it connected.
type Handshake struct {
	Headers http.Header
	Query   url.Values
	Auth    json.RawMessage // the CONNECT packet's payload; nil if none
	Address string          // remote address (ip:port) of the handshake request
	Time    time.Time
	Secure  bool
}

// Args are the arguments of an inbound event or ack, still undecoded.
type Args struct{ _ int }

// Len returns the number of arguments.
func (a Args) Len() int { panic("unimplemented") }

// Decode decodes argument i (binary placeholders resolved to []byte for
// fields of type []byte) into v. It returns an error when i is out of range
// or the JSON does not fit v.
func (a Args) Decode(i int, v any) error { panic("unimplemented") }

// Raw returns argument i as JSON (nil when out of range).
func (a Args) Raw(i int) json.RawMessage { panic("unimplemented") }

// Values returns the arguments as plain Go values (JSON types, with binary
// attachments as []byte): for re-emitting them unchanged.
func (a Args) Values() []any { panic("unimplemented") }

// AckFunc answers an event that requested an acknowledgement. It may be
// called once; later calls return an error.
type AckFunc func(args ...any) error

// EventHandler handles one inbound event. ack is nil when the client asked
// for no acknowledgement. Handlers of one socket run one at a time, in the
// order the client sent the events.
type EventHandler func(s *Socket, args Args, ack AckFunc)

// Socket is one client's connection to one namespace.
type Socket struct{ _ int }

func (s *Socket) ID() string                      { panic("unimplemented") } // 20 characters
func (s *Socket) Namespace() *Namespace           { panic("unimplemented") }
func (s *Socket) Handshake() *Handshake           { panic("unimplemented") }
func (s *Socket) Context() context.Context        { panic("unimplemented") } // cancelled on disconnect
func (s *Socket) SetData(v any)                   { panic("unimplemented") }
func (s *Socket) Data() any                       { panic("unimplemented") }
func (s *Socket) Connected() bool                 { panic("unimplemented") }
func (s *Socket) Rooms() []string                 { panic("unimplemented") } // includes its own id
func (s *Socket) Join(rooms ...string)            { panic("unimplemented") }
func (s *Socket) Leave(room string)               { panic("unimplemented") }
func (s *Socket) On(event string, h EventHandler) { panic("unimplemented") }

// OnDisconnecting runs before the socket leaves its rooms (Rooms still readable);
// OnDisconnect after. reason is Node's disconnect reason string.
func (s *Socket) OnDisconnecting(h func(s *Socket, reason string)) { panic("unimplemented") }
func (s *Socket) OnDisconnect(h func(s *Socket, reason string))    { panic("unimplemented") }

// Emit sends an event to this socket. []byte arguments travel as binary.
func (s *Socket) Emit(event string, args ...any) error { panic("unimplemented") }

// EmitWithAck sends an event and waits for the client's ack until ctx ends
// (or Config.AckTimeout when ctx has no deadline).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	panic("unimplemented")
}

// To/Except/Broadcast start a broadcast that excludes this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator     { panic("unimplemented") }
func (s *Socket) Except(rooms ...string) *BroadcastOperator { panic("unimplemented") }
func (s *Socket) Broadcast() *BroadcastOperator             { panic("unimplemented") }

// Disconnect leaves the namespace (reason "server namespace disconnect");
// with close=true the whole underlying connection is closed.
func (s *Socket) Disconnect(close bool) { panic("unimplemented") }

// BroadcastOperator is an immutable broadcast target; each method returns a
// new operator.
type BroadcastOperator struct{ _ int }

func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator     { panic("unimplemented") }
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator     { panic("unimplemented") }
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator { panic("unimplemented") }
func (b *BroadcastOperator) Local() *BroadcastOperator                 { panic("unimplemented") }
func (b *BroadcastOperator) Volatile() *BroadcastOperator              { panic("unimplemented") }
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	panic("unimplemented")
}

// Emit encodes the event once and sends it to every matching socket.
func (b *BroadcastOperator) Emit(event string, args ...any) error { panic("unimplemented") }

// EmitWithAck broadcasts and collects one ack per receiver until the timeout
// (Timeout or ctx); it returns the replies received and ErrAckTimeout if some
// receivers did not answer in time.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	panic("unimplemented")
}

// Server-side room operations on the matching sockets (cluster-wide with a
// cluster adapter).
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	panic("unimplemented")
}
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	panic("unimplemented")
}
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	panic("unimplemented")
}

// FetchSockets returns a snapshot of the matching sockets.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	panic("unimplemented")
}

// SocketInfo is a snapshot of a (possibly remote) socket.
type SocketInfo struct {
	ID        string
	Rooms     []string
	Handshake Handshake
	Data      json.RawMessage // JSON form of the socket's Data (for remote sockets)
}
