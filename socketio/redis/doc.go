// Package redis is the Redis adapter of package socketio: it makes several
// servers one Socket.IO server through Redis, speaking the wire formats of
// Node's @socket.io/redis-adapter 8.x and @socket.io/redis-streams-adapter
// 0.3, so that sockgate instances and Node socket.io 4.8 servers share one
// Redis and one set of rooms. Three modes (Config.Mode, ParseMode) share
// everything but the transport:
//
//   - ModeClassic, Node's createAdapter (and @socket.io/redis-emitter
//     5.x): PUBLISH/PSUBSCRIBE on one Redis;
//   - ModeSharded, Node's createShardedAdapter, for Redis 7 Cluster:
//     SPUBLISH/SSUBSCRIBE of envelopes {uid, nsp, type, data};
//   - ModeStreams, Node's streams adapter: broadcasts and room operations
//     are entries of a Redis stream, requests and answers envelopes over
//     pub/sub; its adapters support connection-state recovery
//     (socketio.SessionAdapter). See "Streams mode" below.
//
// The formats are summarised in the team's redis-adapter-wire.md; the
// tests pin them against notepack.io's bytes and against real Node
// processes (a private redis-server, and a private three-master Redis
// Cluster for the sharded mode).
//
// # What it owns
//
// NewAdapter returns a socketio.AdapterFactory. Each namespace gets an
// Adapter: a socketio.MemoryAdapter for this server's sockets plus
//
//   - a random uid carried by its messages (6 characters classic, 16 hex
//     digits sharded, as Node draws them);
//   - the requests in flight (by request id) and the broadcasts with acks
//     awaiting other servers' answers, shared by both modes;
//   - its wire, the part that differs (classic.go, sharded.go,
//     sharded_message.go): subscriptions, publish command, server count,
//     encoding. Received messages are decoded into the same request,
//     response and broadcast values and handled by the same code.
//   - classic: one subscriber connection (go-redis PubSub) with PSUBSCRIBE
//     K#N#* and SUBSCRIBE K-request#N#, K-response#N#,
//     K-response#N#<uid>#: so PUBSUB NUMSUB K-request#N# counts each
//     server exactly once (the server count requests wait for).
//   - sharded: SSUBSCRIBE K#N# (counted by PUBSUB SHARDNUMSUB K#N#, summed
//     over the masters as Node does), K#N#<uid># (answers to this server)
//     and, in SubscribeDynamic mode (Node's default), K#N#<room># for each
//     public room with local members. One go-redis PubSub, so one
//     connection, per channel: go-redis binds a sharded PubSub to the
//     shard of its first channel and re-subscribes all its channels in one
//     command, which Redis refuses across slots.
//
// Publishing uses the shared client.
//
// # Concurrency
//
// One goroutine per subscription (classic: one per adapter; sharded: one
// per channel, so per-channel order only) handles messages in order: broadcasts are delivered through the MemoryAdapter (no
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
//   - Sharded mode follows socket.io-adapter's ClusterAdapter: messages
//     of its own uid or another namespace are ignored; join/leave/
//     disconnect are applied locally and published (as in classic mode);
//     fetchSockets and serverSideEmit with acks wait for SHARDNUMSUB-1
//     answers, a broadcast with acks for every server's client count; all
//     answers go to the requester's K#N#<uid>#. A message is JSON unless
//     its data holds binary, then msgpack (binary inline), so binary
//     serverSideEmit arguments are carried in this mode. There is no
//     heartbeat (createShardedAdapter extends ClusterAdapter, not
//     ClusterAdapterWithHeartbeat): types 1, 2 and 13 are ignored, and
//     liveness is the subscription, as in classic mode. allRooms has no
//     sharded message: AllRooms fails with an error.
//   - Dynamic subscriptions follow the local rooms asynchronously (a room
//     created or deleted wakes one goroutine that subscribes or closes the
//     room channels; failures are retried after a second): a broadcast
//     sent to a room in the instant after its first local member joined
//     may miss this server, as with Node, whose SSUBSCRIBE is
//     asynchronous too.
//
// # Streams mode
//
// Wire (Node's @socket.io/redis-streams-adapter 0.3.1, pinned in the
// Node tests; its defaults are StreamsConfig's):
//
//   - One stream, StreamsConfig.Stream ("socket.io"), for every
//     namespace, trimmed at each XADD by MAXLEN ~ MaxLen (10000).
//     Broadcasts without acks, socketsJoin, socketsLeave and
//     disconnectSockets are entries {uid, nsp, type, data}: type the
//     ClusterAdapter message type as a decimal string, data the JSON of
//     {packet, opts} (resp. {opts, rooms}, {opts, close}), or, when it
//     holds binary, base64 of its msgpack with binary inline (readers
//     tell them apart by the leading '{'). uid is 16 hex digits.
//   - Broadcasts with acks, fetchSockets and serverSideEmit, and every
//     answer, are envelopes {uid, nsp, type, data} in msgpack (Node's
//     reader decodes nothing else) on K#N# and K#N#<uid># (Config.Key,
//     "socket.io"), PUBLISH/SUBSCRIBE or, with ShardedPubSub,
//     SPUBLISH/SSUBSCRIBE; the server count is PUBSUB NUMSUB (SHARDNUMSUB)
//     of K#N#, summed over a cluster's masters. This is the sharded wire
//     with another publish command and encoding (sharded.go,
//     sharded_message.go: one implementation of the messages).
//   - A session is SET <SessionPrefix><pid> ("sio:session:") to base64
//     msgpack {sid, pid, rooms, data, offset} with PX
//     MaxDisconnectionDuration; Node ignores offset, and each side
//     restores the other's sessions.
//
// Reading: one reader per server (per NewAdapter factory), started with
// the first namespace's adapter from the stream's newest entry and
// stopped with the last one, on a connection of its own (Close unblocks
// its XREAD with CLIENT UNBLOCK). Each XREAD waits at most Block (5s) for
// ReadCount (100) entries, within Block plus PublishTimeout. After an
// error it reconnects with backoff (50ms doubling to MaxBackoff, 2s) and
// reads on from the last id it read, so that nothing appended meanwhile
// is skipped while the stream keeps it (Node reads on from "$" and loses
// it); when that id is no longer in the stream (Redis restarted empty,
// possibly with its clock behind, or MAXLEN trimmed past it) it reads the
// stream from its start, every entry there being new to it. Entries go, in stream order, to the adapter of their namespace
// once that namespace has a local socket (the core finishes a namespace
// after its factory returns).
//
// Guarantees:
//
//   - Every server delivers the broadcasts in stream order, its own
//     included: Broadcast XADDs, and the reader delivers the entry like
//     any other, through MemoryAdapter.Deliver (encoded once), with its
//     id appended as offset when recovery is on (events without ack, not
//     volatile: Node's addOffsetIfNecessary). Broadcast returns once its
//     entry was delivered locally (or its ctx, bounded by
//     PublishTimeout, ended: delivery follows when the reader gets
//     there), so a caller's later operations come after it. A client's
//     offsets therefore only increase, and its last one stands for
//     everything before it. Node delivers its own broadcasts at once,
//     ahead of entries its reader has not handed over yet.
//   - Flags.Local broadcasts are delivered at once, without offset.
//     When the XADD fails (Redis down) the packet is delivered locally
//     without offset and the error returned. Join/leave/disconnect are
//     applied locally, then appended; a server skips its own.
//   - Recovery (socketio.Config.Recovery, read through
//     Namespace.Recovery): PersistSession stores the session;
//     RestoreSession takes it (GET and DEL in one MULTI, so it is
//     restored once), checks that the offset is still in the stream
//     (XRANGE offset offset) and replays the entries after it (XRANGE in
//     batches of 1000, at most 100 batches): this namespace's broadcasts
//     that the session's rooms would have received, not volatile, their
//     ids appended. So a client cut from one server recovers on any
//     other, or on the same one after it restarted. The core
//     de-duplicates what arrives live during the restore.
//   - A client that received no offset (socket.io-client then sends its
//     pid alone; Node recovers nothing) is replayed from the session's
//     Offset, the newest entry the namespace delivered before it
//     connected, or, when it had delivered none, the newest entry not
//     handed to the namespace (0-0 for an empty stream, accepted while
//     the stream is shorter than MaxLen: nothing can have been trimmed).
//
// Limits:
//
//   - Recovery reaches back MaxLen entries (all namespaces together) and
//     MaxDisconnectionDuration; beyond, the client gets a new session.
//     A Redis that restarts empty loses the stream and the sessions: the
//     clients cut meanwhile get new sessions; broadcasts published after
//     it is back are all delivered.
//   - Broadcasts cost two Redis round trips on the emitting server's
//     critical path (XADD, then its reader's XREAD wake-up) where the
//     pub/sub modes cost one; every server reads every namespace's
//     entries.
//   - One stream (Node's streamCount 1): Node's streamCount > 1, which
//     hashes namespaces over several streams, is not supported.
//   - No allRooms (Node's streams adapter has none either).
//   - Node's reader starts at "$" and reads on from "$" after an error
//     (and between two empty reads): a Node server in the cluster may miss
//     entries sockgate does not.
package redis
