// Package engine implements the server side of the Engine.IO protocol,
// version 4 (the transport under Socket.IO v5): the handshake, HTTP
// long-polling, WebSocket (direct, or as an upgrade from polling), the
// heartbeat and the send path. SPEC §1 fixes its defaults (Node's).
//
// # Concurrency contract (see ConnHandler)
//
//   - onConnect (New's argument) runs once per session, before any of its
//     messages is delivered, on the handshake's request goroutine. It must
//     call Conn.SetHandler before returning. It may call Send.
//   - OnMessage is never called concurrently for one Conn, in the order the
//     peer sent the messages, across the polling→WebSocket switch. The data
//     slice belongs to the handler (the engine never reuses it).
//   - OnMessage runs on the connection's reader: the WebSocket reader
//     goroutine, or the polling POST's request goroutine (the POST is
//     answered "ok" after its packets are handled). It should return
//     quickly (queue work, don't do I/O); it MAY block briefly for
//     back-pressure. While it blocks, the connection reads nothing more,
//     but heartbeats keep working: pings are sent by a timer through the
//     send queue (not by the reader), and a ping timeout that falls while
//     OnMessage runs is not held against the peer (its pong may be waiting
//     behind the handler): the deadline is re-armed for PingTimeout and the
//     pong is read as soon as OnMessage returns. A handler that blocks
//     forever therefore keeps its connection open: don't.
//   - OnClose is called exactly once per Conn, after the last OnMessage has
//     returned, with Node's reason string (the Reason* constants, or the
//     reason given to Conn.Close). It runs on an engine goroutine or, when
//     the connection finished during an OnMessage, right after it on the
//     goroutine that ran it (the WebSocket reader or the polling POST's
//     request goroutine); never inside Conn.Close/Send, so callers may
//     hold their own locks there.
//     After OnClose, Send returns ErrClosed.
//   - Send and SendVolatile never block and never call the handler. They
//     may be called from any goroutine, including from OnMessage.
//
// # Send path
//
// Send appends *Message values to a per-connection queue bounded in
// messages (Config.SendQueue, 4096) and in payload bytes
// (Config.SendQueueBytes, 4 MiB, counting what a writer has taken and not
// yet written): overflow closes the connection, reason "send queue
// overflow", logged at Info. Every write to a peer (WebSocket batch,
// control frame, poll response) has a deadline of Config.WriteTimeout
// (10s); a peer that reads nothing for that long is closed, reason "write
// timeout", logged at Info. A slow consumer therefore costs at most
// SendQueueBytes and WriteTimeout, never the server's memory. A Message computes each wire form once
// (sync.Once): "4text" / "b<base64>" for polling and a complete unmasked
// WebSocket frame, so a broadcast to N connections encodes once.
//
// WebSocket: at most one writer goroutine per connection, assigned on
// demand when the queue becomes non-empty and released when it is drained,
// so idle connections have no writer (nor, on Linux, a reader: see
// "Idle WebSocket connections" below). Released writers
// park in the Server's pool (writers.go, on socketio/internal/workpool,
// the pool package socketio's inbox workers use too) and serve the next
// connection that needs one (no goroutine started per burst); they exit
// after 1-2 s unused or at Shutdown. The writer takes the whole
// queue at once (double-buffered slices) and writes it with one writev
// (net.Buffers on *net.TCPConn: the cached frames are written in place,
// not copied), or through one pooled bufio.Writer and a single Flush on
// other connections (TLS). On plain TCP a connection first gets no
// goroutine of its own: it goes on the Server's lock-free dirty stack and
// a flusher (at most GOMAXPROCS run) writes its queue with one
// non-blocking writev, then the next dirty connection's, so a broadcast
// wakes one goroutine rather than one per receiver; only a queue the
// socket does not take at once (a slow peer) gets a writer goroutine that
// waits for it. An ack is written by the goroutine that produces it when
// its connection is idle (Conn.SendDirect). Whoever writes holds
// Conn.writing: still one writer per connection, in queue order.
//
// Polling: there is no writer goroutine; the waiting GET is released and
// writes everything queued, joined by 0x1e.
//
// # WebSocket library
//
// github.com/gobwas/ws: it works on the hijacked net.Conn (ws.UpgradeHTTP)
// and unmasks payloads (ws.Cipher); frame headers are parsed by this
// package from its own pooled read buffer (wsread.go), and batching is ours (one writev per batch). The data frames we send
// are built by this package, not by gobwas: a Message's complete unmasked
// frame is built once, header and payload in one exactly sized allocation
// (serverFrame in message.go, byte-identical to ws.MustCompileFrame:
// TestServerFrame), so the same bytes serve every receiver. Only the rare
// control frames (pong, close) are compiled with ws.MustCompileFrame. The
// protocol checks of inbound frames (reserved bits, masking, control frame
// size, fragmentation, MaxPayload, UTF-8 of text messages) are ours too
// (wsReader in websocket.go). gorilla/websocket's PreparedMessage also
// caches frames, but its Conn writes each message with its own flush (one
// syscall per message) and keeps a per-connection write buffer, which is
// what this package avoids for broadcast-heavy loads.
//
// Measured (bench/engine: BenchmarkBroadcast, 100-byte message to 50 WebSocket receivers
// on loopback, 2 shared cores, 3 runs): this package 14-25µs per broadcast,
// gorilla with PreparedMessage and a writer goroutine per connection
// 51-81µs.
//
// # Idle WebSocket connections
//
// An idle connection holds no goroutine and no read buffer (on Linux). The
// reader waits between messages inside syscall.RawConn.Read (the poller's
// readiness wait); its callback takes a 4 KB buffer from a pool only when
// read(2) returns bytes, and the buffer goes back once the burst is read
// (TLS and other connections without a raw socket wait in a one-byte Read
// instead). After a burst that followed a wait of a second or more (an
// idle connection's occasional traffic, its pongs, and its first burst,
// the CONNECT), the reader parks instead (idlepoll_linux.go): the socket is
// registered, level-triggered and one-shot, in an epoll instance of the
// Server's, itself waited on through the runtime's poller, and its
// goroutine exits; when the socket becomes readable the reader continues
// on a new goroutine. A busy connection (bursts back to back) keeps its
// reader goroutine. Whoever closes a WebSocket or bounds its reader's wait
// from outside (finish, the closing handshake, Shutdown) first resumes a
// parked reader, so that it sees the close or the deadline as a waiting
// one would. A parked reader is woken by its socket's readiness only: a
// descriptor closed behind the engine's back (not through Conn.Close; the
// hijacked connection is the engine's) is noticed when the next ping
// fails to write. Elsewhere, or when parking fails, the reader continues on a
// fresh goroutine at that point instead: handling messages grows a stack
// to 4 KB or more and the GC does not shrink a parked goroutine's stack
// that far, a new one waits on the minimal 2 KB.
//
// At 10,000 idle connections (bench/cmd/sockgate-bench) this took the
// server's stacks from 41.6 MB to 0.5 MB, and with them the GC headroom
// the runtime grants per byte of stack. net/http's 4 KB reader is dropped
// at the hijack (the bytes it buffered are copied), and the handshake
// request is not kept: only its headers, target, address and TLS flag are
// (Conn.Header, RequestURI, RemoteAddr, Secure).
//
// # Batched frames and the official test suite
//
// The writer sends everything queued in one write, so two packets queued
// together (a Socket.IO CONNECT reply and an event emitted by the connection
// handler) usually reach the peer in one TCP segment; Node writes one packet
// per event-loop tick and usually does not. This is not an interoperability
// risk: WebSocket framing delimits messages whatever the segmentation, and
// every real client keeps a permanent message listener (engine.io-client's
// ws.onmessage feeds a parser; socket.io-client buffers events until the
// application listens), so nothing depends on frames arriving in separate
// reads. Only versions of the official protocol test suites before
// socketio/socket.io commit e95f6abf (March 2025, "fix message handler
// latency in test suites", socket.io-protocol issue 32) do: they await each
// message with a new one-shot listener, and ws dispatches all the frames of
// one read synchronously, so the second frame fires before the next
// listener exists and is lost. Measured against our conformance server
// emitting "auth" right after the CONNECT reply: the old v5 suite fails 5-6
// of 32 tests per run, the current upstream suite passes 32/32 (3 runs of
// each). The conformance server (socketio/internal/conformance) keeps a
// 20ms delay before "auth" only for the old suite; products need nothing.
//
// # Decisions where the protocol is silent
//
//   - Closing a polling session: like Node, the last queued messages and the
//     close packet "1" go in separate poll responses (socket.io-client
//     handles a close packet before a DISCONNECT decoded from the same
//     payload). A closing session waits for those GETs at most
//     min(PingTimeout, 2s): a live client polls again within a round trip,
//     a vanished one must not hold OnClose or Shutdown. A client close
//     (POST "1") answers an in-flight GET with "6" (that GET may arrive
//     after the POST, on its own TCP connection).
//   - Closing (with flush, Shutdown included) a polling session whose
//     upgrade probe succeeded: the client has paused polling or is about
//     to, and its "5" is on the way, so, like Node, the upgrade still
//     completes and the queued messages (typically a Socket.IO DISCONNECT)
//     and the close frame go out on the WebSocket. A GET still waiting
//     takes the queue; the close frame then follows on the WebSocket.
//     Without the "5", the close timer above ends the session and the
//     probe. A GET reaching an upgraded session gets 400, closing or not.
//   - A GET arriving while an upgrade is being probed waits up to 100ms and
//     is answered "6" (or 400 if the upgrade completes meanwhile), like
//     Node's upgrade check interval.
//   - A POST larger than MaxPayload gets 413 without being read and does not
//     close the session (Node's behaviour). A body is read as it arrives
//     (a declared Content-Length reserves at most 4 KB) and must arrive
//     within Config.BodyTimeout (10s, a read deadline on that request's
//     connection only, through http.ResponseController, so that long-polls
//     and WebSockets are not cut by a server-wide ReadTimeout): a slower
//     one gets 408 and closes the session ("transport error").
//   - A refused handshake (AllowRequest, MaxConnsPerIP) answers Node's body
//     {"code":4,"message":<reason>}: a *HandshakeError sets the status
//     (429 for limits), the reason and headers such as Retry-After, which
//     engine.io-client exposes as connect_error's context (the XHR) on
//     polling. Refusals are logged at Info, once a second per reason.
//   - MaxConnsPerIP counts open sessions per Config.ClientIP; a slot is
//     held from the handshake until the session leaves the table.
//   - Config.OnDisconnect sees every close reason once (counters). A WebSocket message larger than
//     MaxPayload closes the connection with status 1009 and reason
//     "transport error".
//   - Cross-origin requests from origins not in Config.CORS are refused with
//     403 (code 4), WebSocket included (protects against cross-site
//     WebSocket hijacking); same-origin requests are always allowed. The
//     policy is the exported CORS type, so that other handlers of the site
//     (the gateway's REST API) apply the very same one. A preflight (OPTIONS
//     with Access-Control-Request-Method) is answered 204 by CORS.Apply;
//     any other OPTIONS request gets 204 without the preflight headers.
//   - Ping deadlines count from when the ping was due: a late timer never
//     extends them, and a poll arriving after the deadline is refused even
//     if the timer has not fired yet.
//
// # Lock order
//
// Conn.deliverMu → Conn.mu → Server.mu. Handing a connection to a parked
// writer takes no lock (startWriter, under Conn.mu: the pool's stack is
// lock-free); with none parked, the pool starts a writer through goTracked
// (Server.mu). The pool's own mutex is taken only by the new goroutine and
// the pool's sweep, with no other lock held. wsConn.wmu is taken without any other lock
// held. The handler is called with Conn.deliverMu held and no other lock:
// deliverMu is what keeps one Conn's OnMessage calls (and its OnClose when
// a close lands during one) from overlapping, so OnMessage and OnClose may
// call any method of the Conn, but a handler that blocks holds its
// connection's reader (see the concurrency contract).
package engine
