package socketio

import (
	"context"
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
// Connection-state recovery (Node's connectionStateRecovery) is not
// implemented. It changes the protocol and the public API, not only the
// adapter: the CONNECT reply carries a private session id beside the sid
// ({sid, pid}); every broadcast EVENT carries its offset as an extra last
// argument, assigned by the adapter, which also keeps the packets a
// disconnected socket misses; the namespace reads {pid, offset} from the
// CONNECT payload (and strips them from Handshake.Auth), restores the
// socket's id, rooms and data and replays the missed packets before any
// other traffic; the Server needs a Config section (maximum disconnection
// duration, whether middleware runs again) and Socket a way to tell a
// recovered socket. SessionAdapter is the adapter's half, a sketch of it.
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

// SessionAdapter is the optional capability of adapters that would support
// connection-state recovery (see Adapter), modelled on Node's
// persistSession / restoreSession. Nothing calls it yet, and it will likely
// change when recovery is built (offsets must also be assigned to
// broadcast packets).
type SessionAdapter interface {
	PersistSession(s Session)
	RestoreSession(ctx context.Context, pid, offset string) (*Session, error)
}

// Session is the state of a disconnected socket kept for recovery.
type Session struct {
	SID           string
	PID           string
	Rooms         []string
	Data          []byte
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
