// Package socketio is a Socket.IO protocol v5 server (Socket.IO 3.x/4.x
// clients) on top of package engine (Engine.IO 4). It knows nothing of the
// chat application: package gateway builds on it. SPEC §1 (transport, 20
// character socket ids) and the protocol parts of §9 (adapter hooks for a
// Redis cluster adapter) are implemented here.
//
// # Structure
//
// One client per Engine.IO connection decodes packets (package parser) and
// multiplexes the namespaces the peer joined; one Socket per joined
// namespace. Socket ids are 15 crypto/rand bytes in base64url (20 characters,
// like Node's), never the Engine.IO sid, and each socket is a member of the
// room named by its id. Each Namespace has an Adapter (rooms and broadcasts);
// MemoryAdapter is the default.
//
// # Concurrency and ordering
//
//   - The engine calls OnMessage serially per connection. OnMessage decodes
//     and returns quickly: ACK packets are resolved inline (a handler waiting
//     in EmitWithAck is released even while its socket's worker is busy);
//     CONNECT and EVENT packets go to the socket's bounded inbox.
//   - A socket's inbox is drained by one worker goroutine assigned when the
//     inbox becomes non-empty and released when it is empty: connection
//     middleware, OnConnection handlers, event handlers and disconnect
//     handlers of one socket run one at a time, in the order the client
//     sent the packets. No goroutine per packet, none per idle socket.
//     Released workers park in the Server's pool (internal/workpool, shared
//     in code with the engine's WebSocket writers), keeping their grown
//     stacks, and serve the next inbox that needs one; they exit after
//     1-2 s unused and at Shutdown.
//   - Back-pressure: when a socket's inbox is full (Config.InboundQueue
//     events or Config.InboundBytes of payload), OnMessage blocks, which
//     pauses reading from that connection only (other namespaces
//     multiplexed on the same connection wait too).
//   - Outbound: every packet is handed to the engine in one Send call (text
//     part and binary attachments together), so packets to one connection are
//     written in emit order and attachments stay contiguous. Nothing emitted
//     to a connected socket is dropped, except Volatile emits when the
//     transport cannot take them now (a connection whose engine send queue
//     overflows is closed by the engine instead).
//   - Broadcasts are encoded once into shared []*engine.Message handed to
//     every receiving connection; no per-receiver encoding, no goroutine per
//     receiver.
//
// # Disconnection
//
// Reasons are Node's (the Reason* constants): the engine's reason when the
// connection ends ("transport close", "transport error", "ping timeout",
// "parse error" for an invalid Engine.IO packet, "forced close" when the
// connection is closed because of an invalid Socket.IO packet, as in Node);
// "client namespace disconnect" when the client leaves the namespace;
// "server namespace disconnect" for Socket.Disconnect; "forced server close"
// when the server closes the connection (connect timeout, unexpected
// packet); "server shutting down" for Server.Shutdown. The client sees "io
// server disconnect" / "io client disconnect" for the namespace cases.
// On disconnect the socket's Context is cancelled at once and queued events
// are dropped; then, on the worker after the running handler, OnDisconnecting
// handlers run with the rooms still readable, the socket leaves its rooms and
// its namespace, and OnDisconnect handlers run.
//
// # Connection-state recovery
//
// Config.Recovery turns on Node's connection-state recovery (Socket.IO
// 4.6+, wire-compatible with socket.io-client 4.6+) in every namespace
// whose adapter is a SessionAdapter (MemorySessionAdapter by default; a
// namespace with any other adapter silently has recovery off: no pid, no
// offsets, as if Recovery were nil).
//
//   - The CONNECT reply is {sid, pid}: pid is the session's private id (20
//     crypto/rand characters), never broadcast, logged or shown in
//     SocketInfo.
//   - Every broadcast EVENT without ack id and not volatile gets an offset
//     appended as its last argument (the client's listeners see it; the
//     client remembers the last one). Socket.Emit without ack is a
//     broadcast to the socket's id room, so it is logged too (still
//     encoded once); EmitWithAck and volatile emits are not logged. A
//     volatile emit whose last argument is a string misleads the client
//     into taking it for an offset (as in Node): its next recovery then
//     fails and it gets a new session.
//   - A socket that disconnects for a recoverable reason (transport close
//     or error, ping timeout, forced close, forced server close, server
//     shutting down) has its session persisted once its disconnect
//     handlers have run: id, pid, rooms (as OnDisconnecting saw them),
//     Data as JSON, and its connect offset. Its successor with the same
//     id therefore connects after the predecessor's OnDisconnect handlers
//     (a client coming back sooner waits for them, see take-over below).
//   - A CONNECT whose auth carries pid (and offset, absent when the client
//     received no event: the replay then starts at the session's connect
//     offset, where Node gives up) restores the session: same socket id,
//     rooms rejoined, Data restored as a json.RawMessage (decode it),
//     Recovered() true, pid and offset stripped from Handshake().Auth, the
//     middleware skipped when SkipMiddlewares (it runs otherwise, after
//     the restore). The CONNECT reply is followed by the missed packets,
//     in order, before any other packet to the socket: what the namespace
//     delivers between RestoreSession and the socket joining its rooms is
//     recorded by a tap, what reaches the socket meanwhile is held, and
//     both are de-duplicated against the replay by offset. OnConnection
//     handlers run after the replay.
//   - Unknown, expired or already used sessions, offsets the adapter does
//     not know, or a failed RestoreSession give a new session (new id,
//     Recovered false); a middleware refusing a recovered socket consumes
//     its session.
//   - A client that comes back with its pid while the server still holds
//     its old connection (a polling session or a half-open TCP connection
//     before the ping timeout notices) takes it over: the old socket is
//     closed ("transport close") with its Engine.IO connection, its
//     session persisted, then restored; Node gives the client a new
//     session in that case.
//   - Costs: one pointer per socket with recovery off; with it on ~100 B
//     of state per socket and a pid index entry; per logged broadcast the
//     offset and the log entry (see MemorySessionAdapter for its bounds);
//     the memory adapter serialises a namespace's logged broadcasts (they
//     must reach every socket in offset order). See
//     BenchmarkBroadcastRecovery.
//
// # Shutdown
//
// Server.Shutdown drains: it stops accepting CONNECTs and new EVENTs
// (inboxes close, queued events still run), ends waits for client acks,
// lets the running and queued handlers finish and flush their acks on the
// still open connections, then disconnects each socket ("server shutting
// down": disconnect handlers run, sessions are persisted with recovery),
// then closes the Engine.IO connections (queued packets flushed, then an
// Engine.IO close: clients reconnect, elsewhere behind a load balancer),
// then closes the adapters; all within its context, after which the
// remaining sockets are closed at once.
//
// # Locks
//
// Order (a lock is only taken while holding locks to its left):
//
//   - Server.dynMu → Server.mu: creating a dynamic namespace holds dynMu
//     while calling Config.Adapter and the namespace's setup function (user
//     code, which may call Of and take any leaf) and while publishing it
//     under Server.mu.
//   - Server.mu is held while Of creates a static namespace, which calls
//     Config.Adapter: an AdapterFactory must not call back into the Server.
//   - push and closeWith hand an inbox to a worker with the inbox's mutex
//     held; the hand-off takes no lock (the pool's stack of parked workers
//     is lock-free, its mutex is taken by new workers and its sweep only). push waits for room on
//     the inbox's condition variable (back-pressure) in OnMessage, i.e.
//     with the engine's Conn.deliverMu held (see package engine's lock
//     order); nothing a worker does needs that lock.
//   - MemorySessionAdapter.mu (its log) → the leaves below, a tap's mutex,
//     a recovering socket's socketRecovery.mu → the engine's Conn mutex: a
//     logged broadcast is delivered with the log's mutex held, so that
//     every socket receives the packets in offset order; socketRecovery.mu
//     is held while the writes it held are flushed to the engine. The
//     sessions' mutex (MemorySessionAdapter.smu) is a leaf, also taken
//     under the log's mutex to arm the sweep timer.
//
// Namespace.mu, client.mu, Socket.mu, MemoryAdapter.mu, the worker pool's
// mutex (never taken under another lock) and an EmitWithAck's collector mutex are leaves: none is held while
// taking another of our locks or calling into the engine, the adapter or
// user code; so are Namespace.offMu and Namespace.tapMu.
//
// # Decisions where Node leaves room
//
//   - Args are kept as raw JSON; Decode resolves binary placeholders for
//     []byte fields. []byte values are sent as attachments at the top level
//     of the arguments and inside []any / map[string]any.
//   - EmitWithAck on a socket fails with ErrNotConnected as soon as the
//     socket disconnects, rather than waiting for the timeout.
//   - A middleware panic refuses the connection with "server error"; a
//     handler panic is logged and the socket carries on.
package socketio
