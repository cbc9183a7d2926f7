// Package redis is the classic Redis adapter of package socketio: it makes
// several servers one Socket.IO server through Redis pub/sub, speaking the
// wire format of Node's @socket.io/redis-adapter 8.x (createAdapter) and
// @socket.io/redis-emitter 5.x, so that sockgate instances, Node socket.io
// 4.8 servers and the emitter share one Redis and one set of rooms. The
// format is summarised in the team's redis-adapter-wire.md; the tests pin
// it against notepack.io's bytes and against real Node processes.
//
// # What it owns
//
// NewAdapter returns a socketio.AdapterFactory. Each namespace gets an
// Adapter: a socketio.MemoryAdapter for this server's sockets plus
//
//   - a random 6-character uid carried by its messages;
//   - one subscriber connection (go-redis PubSub) with PSUBSCRIBE K#N#*
//     and SUBSCRIBE K-request#N#, K-response#N#, K-response#N#<uid>#: so
//     PUBSUB NUMSUB K-request#N# counts each server exactly once (the
//     server count requests wait for). Publishing uses the shared client.
//   - the requests in flight (by request id) and the broadcasts with acks
//     awaiting other servers' answers.
//
// # Concurrency
//
// One goroutine per adapter reads the subscription and handles messages
// in order: broadcasts are delivered through the MemoryAdapter (no
// blocking: the engine queues), requests are answered by publishing from a
// short-lived goroutine (so a slow Redis never stalls the reader; these
// and the reader are tracked by a WaitGroup that Close waits for).
// Server-side event handlers run on the reader: they must not block.
// Adapter.mu guards the request maps and is a leaf; each request's own
// mutex guards its answers. Callers' publishes (Emit, requests) run on the
// caller's goroutine, bounded by ctx or Config.PublishTimeout.
//
// # Decisions
//
//   - Join/leave/disconnect (SocketsJoin, SocketsLeave, DisconnectSockets)
//     are applied locally before the request is published, and a server
//     skips its own requests by uid when they come back (Node applies its
//     own on the echo; both interoperate). Requests without a uid (the
//     emitter's) are always applied. The local part happens even when
//     publishing fails; the error is returned.
//   - Broadcast delivers locally first, then publishes; a publishing error
//     is returned to the caller (EmitContext bounds it by ctx).
//   - fetchSockets and allRooms need an answer from NUMSUB-1 servers; one
//     missing answer fails the call with ErrTimeout after
//     Config.RequestsTimeout (or ctx), as Node rejects. serverSideEmit
//     with acks returns the replies so far with an error wrapping
//     socketio.ErrAckTimeout. Request ids are removed from the pending map
//     on every return path; a broadcast with acks forgets its id at its
//     timeout, as Node does.
//   - A server answers fetchSockets exactly once even with no match, and a
//     broadcast with acks with its client count even when it is 0.
//   - Payloads: the core keeps JSON with binary placeholders; on the wire
//     broadcasts, BROADCAST requests and BROADCAST_ACK answers are msgpack
//     with binary inline as bin, packet type 2 without placeholders.
//     Conversion goes value by value with vmihailenco/msgpack's Encoder and
//     Decoder, keeping object key order: integers as the smallest msgpack
//     integer, other numbers float64 (notepack's choices; pinned by tests);
//     float32 accepted; timestamp extension -1 (and notepack's legacy
//     type-0 forms) become JavaScript ISO strings with three fractional
//     digits, which is what a Node server would send its clients. The core
//     never hands the adapter Go time values (arguments are JSON already),
//     so the adapter writes no timestamps. Other requests and responses are
//     JSON; readers pick the codec by the first byte ('{' is JSON).
//     serverSideEmit data is JSON: binary arguments are not carried.
//   - Malformed or unknown messages are ignored, counted in Stats and
//     logged at Debug at most once a second.
//   - Redis restarts: go-redis re-dials and re-subscribes the PubSub by
//     itself (counted in Stats.Reconnects); messages published meanwhile are
//     lost (pub/sub keeps nothing) and requests in flight time out. While
//     Redis is down local delivery works and publishes fail fast. Build the
//     client with ContextTimeoutEnabled so that deadlines interrupt a hung
//     Redis.
//   - Only classic pub/sub is implemented. Node's sharded adapter
//     (SSUBSCRIBE, envelopes {uid, nsp, type, data}) is a different format;
//     it would be a second transport behind the same Adapter (the local
//     part, request bookkeeping and codec are shared), chosen by Config.
package redis
