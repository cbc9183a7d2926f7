package socketio

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// Adapter stores the rooms of one namespace and performs its broadcasts and
// server-side room operations. MemoryAdapter is the single-process
// implementation; a cluster adapter (e.g. one speaking the wire format of
// Node's @socket.io/redis-adapter) wraps a MemoryAdapter for local delivery
// and adds the inter-server part:
//
//   - Broadcast and BroadcastWithAck receive the packet in decoded form
//     (parser.Packet: type, namespace, ack id, JSON payload with binary
//     placeholders and the attachments) plus the BroadcastOptions, which is
//     what Node's adapters publish ([uid, packet, {rooms, except, flags}]);
//     a cluster adapter publishes them unless Flags.Local is set, then
//     delivers locally through MemoryAdapter. BroadcastWithAck reports, per
//     server, how many clients were reached (clientCount) and every client
//     reply (ack); ServerCount tells the caller how many servers will report.
//   - FetchSockets / AddSockets / DelSockets / DisconnectSockets are Node's
//     fetchSockets / socketsJoin / socketsLeave / disconnectSockets requests:
//     a cluster adapter sends the request to the other servers and merges
//     their answers with the local ones (SocketInfo is serialisable).
//   - serverSideEmit: a cluster adapter implements ServerSideEmitter
//     (publishing the packet) and calls Namespace.DispatchServerSideEmit for
//     events other servers sent.
//   - An AdapterFactory may fail (and may do I/O, e.g. subscribe): the
//     error reaches Open / Server.OfErr for static namespaces and refuses
//     the connection for dynamic ones.
//   - A cluster adapter receiving a broadcast from another server decodes
//     it into a parser.Packet and calls MemoryAdapter.Broadcast (or
//     BroadcastWithAck, relaying replies built with NewArgs).
//   - Room membership calls (AddAll, Del, DelAll) are local: each server
//     knows the rooms of its own sockets, as in Node.
//
// Connection-state recovery (Config.Recovery) is the optional
// SessionAdapter capability: see there.
//
// Methods are called from many goroutines; implementations synchronise
// themselves. Callbacks must not block.
type Adapter interface {
	// AddAll adds socket id to rooms.
	AddAll(id string, rooms []string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from all its rooms.
	DelAll(id string)
	// SocketRooms returns the rooms of local socket id (nil if unknown).
	SocketRooms(id string) []string
	// RoomSize returns the number of members of room on this server.
	RoomSize(room string) int

	// Broadcast sends p to every matching socket. p must not be modified
	// afterwards: it is shared by every receiver. A cluster adapter
	// publishes within ctx's deadline and returns the publishing error
	// (local delivery happens regardless).
	Broadcast(ctx context.Context, p *parser.Packet, opts BroadcastOptions) error
	// BroadcastWithAck sends p (whose ID is set) and registers ack as the
	// acknowledgement callback of every receiver; clientCount is called
	// once per server with the number of receivers it reached.
	// opts.Flags.Timeout is the time the caller waits for replies (always
	// set by BroadcastOperator.EmitWithAck): receivers' acks are forgotten
	// after it, and a cluster adapter stops relaying replies then.
	BroadcastWithAck(ctx context.Context, p *parser.Packet, opts BroadcastOptions, clientCount func(n int), ack func(args Args)) error
	// ServerCount returns the number of servers that answer broadcasts
	// with acks (1 for the memory adapter).
	ServerCount(ctx context.Context) (int, error)

	// FetchSockets returns the matching sockets.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the matching sockets join rooms.
	AddSockets(ctx context.Context, opts BroadcastOptions, rooms []string) error
	// DelSockets makes the matching sockets leave rooms.
	DelSockets(ctx context.Context, opts BroadcastOptions, rooms []string) error
	// DisconnectSockets disconnects the matching sockets.
	DisconnectSockets(ctx context.Context, opts BroadcastOptions, close bool) error

	// Close releases the adapter's resources (called by Server.Shutdown
	// with its context).
	Close(ctx context.Context) error
}

// SessionAdapter is the capability of adapters that support
// connection-state recovery (Node's connectionStateRecovery, Socket.IO
// 4.6+), used when Config.Recovery is set:
//
//   - Offsets: Broadcast appends an offset (a string, unique and ordered in
//     the adapter's log) as the last argument of every EVENT packet that has
//     no ack id and is not volatile, and keeps the packet with its
//     BroadcastOptions for Config.Recovery.MaxDisconnectionDuration (Node's
//     addOffsetIfNecessary). Emits to one socket are routed as broadcasts
//     to the socket's id room, so they get offsets too. It does so before
//     local delivery, so every receiver sees the same offset. A cluster
//     adapter takes the offset from its shared log (e.g. a Redis stream
//     entry id) and delivers locally with MemoryAdapter.Deliver, which
//     assigns none.
//   - PersistSession is called when a socket with recovery disconnects for a
//     recoverable reason (transport close or error, ping timeout, forced
//     close, server shutting down); the session lives for
//     MaxDisconnectionDuration.
//   - RestoreSession is called for a CONNECT whose auth carries a pid (and
//     usually an offset, the last one the client saw). It returns the
//     session with MissedPackets: the logged packets after offset that the
//     socket's rooms (Session.Rooms, and not in Except) would have
//     received, in log order, their offsets included. An empty offset means
//     "none seen yet": the packets after Session.Offset. It returns nil,
//     nil when the session is unknown or expired or the offset is no longer
//     in the log (the client then gets a new session). A session is
//     restored at most once (it is deleted by RestoreSession).
//   - Local delivery order is log order: every receiver gets the packets in
//     offset order (the client remembers only the last offset it saw).
//   - Session.Offset is filled by the core: the last offset the namespace
//     delivered locally (through MemoryAdapter.Deliver, or assigned by
//     MemorySessionAdapter) before the socket connected. A cluster adapter
//     therefore hands every logged packet to Deliver, matching local
//     sockets or not, with its offset already appended.
//   - The core keeps what arrives between RestoreSession and the socket
//     joining its rooms (a namespace-wide tap in MemoryAdapter.Deliver) and
//     de-duplicates it with MissedPackets by offset: an adapter needs no
//     lock of its own around restoring.
//
// An adapter that embeds *MemoryAdapter inherits no session capability:
// MemoryAdapter is not a SessionAdapter (the classic Redis adapter embeds
// it and has no shared log). MemorySessionAdapter, the default adapter
// when Config.Recovery is set, is the single-process SessionAdapter. With
// any other adapter recovery is off for the namespace: no pid, no offsets.
type SessionAdapter interface {
	Adapter
	PersistSession(ctx context.Context, s *Session) error
	RestoreSession(ctx context.Context, pid, offset string) (*Session, error)
}

// Session is the state of a disconnected socket kept for recovery.
type Session struct {
	// SID is the socket id the recovered socket keeps; PID the private id
	// the client proves the session with (never broadcast or logged).
	SID, PID string
	// Rooms are the socket's rooms, its own id room included.
	Rooms []string
	// Data is the socket's Data, JSON-encoded (Node's socket.data).
	Data json.RawMessage
	// Offset is the newest offset of the log when the socket connected:
	// where replay starts for a client that received no event with an
	// offset (Node's client then sends none and cannot recover; we can).
	Offset string
	// MissedPackets are filled by RestoreSession.
	MissedPackets []*parser.Packet
}

// BroadcastOptions selects the receivers of a broadcast or room operation.
type BroadcastOptions struct {
	// Rooms restricts to members of any of these rooms; empty means all
	// sockets of the namespace.
	Rooms []string
	// Except excludes members of any of these rooms.
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags are Node's broadcast flags.
type BroadcastFlags struct {
	// Volatile packets may be dropped when a connection cannot take them now.
	Volatile bool
	// Local restricts the operation to this server.
	Local bool
	// Timeout bounds the wait for acknowledgements (0: none set); Node's
	// flags.timeout. EmitWithAck passes its effective timeout here.
	Timeout time.Duration
}
