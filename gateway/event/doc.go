// Package event is the one pipeline every product of the gateway goes
// through, for Socket.IO events and REST routes alike:
//
//   - On registers a typed handler (Handler[Req, Reply]) on a Namespace:
//     rate limit → decode into Req → validate → call with a deadline and the
//     identity in the context → render the reply or the error. Route is the
//     same for REST (authenticate → limit → handle → render).
//   - Error, the codes of SPEC §3 and ReplyOf are the one place errors
//     become what a client is told: an ack ({success:false, error} on
//     StyleObject namespaces, none on StyleTutorial), the `exception` event,
//     or NestJS's HTTP body. Leaf packages return facts; a product maps them
//     to an *Error (or wraps them with Refuse); unknown errors become
//     `internal`, their detail logged once and never sent.
//   - Check collects validation issues in zod's words (JSLength counts like
//     JavaScript), so one mistake reads the same on every namespace and route.
//   - Client is a socket as the gateway sees it: identity bound at the
//     handshake (SocketAuth, never from a payload), the client address, and
//     each product's per-socket state in a typed Local.
//   - Metrics are the gateway's Prometheus series.
//   - Pacer, AdmitHandshake and AcceptGate make background work (the
//     "/chat" connection hooks, new sessions' handshakes, new connections'
//     first requests) defer to the events while they flow (Active), so that
//     a reconnect storm does not slow the messages being sent (pacing.go,
//     accept.go).
//
// It may import the core (socketio), auth and ratelimit, never a product
// package or the wiring (package gateway).
//
// # Concurrency
//
// The core runs one socket's handlers one at a time, in order; handlers of
// different sockets run concurrently. Client.mu guards the identity and the
// Locals; it is held only for field access, never across I/O or another
// lock. Event contexts derive from the socket's (Socket.Context: a client
// that leaves, or a server shutting down, cancels its events' work; what
// cannot be interrupted, a store COMMIT, completes and is delivered);
// connection hooks' from the Pipeline's, which Close cancels after the
// Socket.IO server drained. Token-expiry timers are time.AfterFunc (no
// goroutine while waiting), stopped when their socket's context ends.
//
// # Deadlines
//
// An event's deadline is its packet's arrival (socketio.Args.ReceivedAt,
// stamped by the core before the event waits in the socket's inbox) plus
// Config.Timeout, not when its handler starts: one that waited past it is
// answered ErrExpired (`unavailable`) without running. A running handler
// gets a context with that deadline, and a time.AfterFunc timer answers
// ErrTimeout (`unavailable`) at the deadline if the handler has not: a
// handler that overruns (a COMMIT the deadline must not interrupt) has its
// result logged and dropped, so no answer leaves after the deadline and
// the client's retry must be idempotent (chat messages are, per
// clientMsgId). An event queued behind a handler that overran is answered
// when its turn comes (ErrExpired): answering it at its deadline while it
// waits would need the core's inbox to do it.
//
// # Decisions where the SPEC is silent
//
//   - Rate limits are checked before decoding (NestJS runs guards before
//     pipes), so malformed events cost their sender's budget too. A limiter
//     that cannot answer within its timeout (250ms, inside the event's
//     deadline, which starts before the check) follows its Failure mode:
//     open (the default) lets the event through, counted in
//     sockgate_ratelimit_unchecked_total and logged at most once a second;
//     closed refuses it with `unavailable`.
//   - Validation messages follow zod v3 (the tutorial's validator),
//     prefixed by the field path and joined by "; " when several fields fail.
//   - The "exception" event is {status:"error", message} on every namespace.
//   - HTTP errors carry "error":"<code>", except NestJS's bare form when the
//     message is only the status text (the tutorial's 404); 415 uses the code
//     unsupported_media_type, which exists only over HTTP.
//   - A presented but invalid token is never ignored: on "/" in optional mode
//     the socket gets the seed's authError and is disconnected; elsewhere it
//     is refused at the handshake (SocketAuth). Clients are told why
//     (auth.TokenError.Reason), in connect_error, authError and HTTP 401
//     bodies alike.
//   - Refusals a client can repeat at will (bad tokens on sockets and REST,
//     foreign origins) are logged at Info through Pipeline.LogRefusal, at
//     most once a minute per key (LogLimiter), with the count suppressed
//     since; other client mistakes stay at Debug.
//
// # Metrics (GET /metrics, a registry of the gateway's own)
//
// sockgate_connections (Engine.IO connections), sockgate_sockets{namespace},
// sockgate_socket_connects_total / _disconnects_total / _refused_total
// {namespace}, sockgate_events_in_total and sockgate_events_out_total
// {namespace,event} (a broadcast counts once), sockgate_acks_total
// {namespace,event,result=ok|error}, sockgate_errors_total{code} (events,
// refused connections and HTTP), sockgate_ratelimit_refusals_total{rule},
// plus the Go and process collectors and the products' own series.
package event
