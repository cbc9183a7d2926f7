// Package gateway is sockgate's chat application on the Socket.IO core
// (package socketio): the namespaces "/" (the tutorial chat, SPEC §2),
// "/rooms" (SPEC §4) and "/chat" (the anonymous lobby and the stored,
// authenticated chats of SPEC §3), JWT authentication of sockets (SPEC §5),
// the REST routes of the tutorial and of stored chats, health, readiness and
// Prometheus metrics, all behind one http.Handler (SPEC §1, §6).
//
// # Structure
//
//   - handle.go: the one typed adapter every event goes through (rate limit,
//     decode + validate into a struct, per-event context, handler, reply);
//     errors.go: the one place errors become acks, "exception" events and
//     HTTP bodies (replyOf). Handlers return facts, never error replies.
//   - namespace.go: per-namespace connection middleware (where an identity
//     is attached to a Conn), events and lifecycle hooks; conn.go: Conn.
//   - ns_tutorial.go, ns_rooms.go, ns_chat.go: one file per namespace.
//   - registry.go (+ _memory): the tutorial's rooms, hosts and members.
//   - auth.go: the JWT middleware of every namespace (modes optional /
//     required, authError on "/", user rooms, disconnect at token expiry).
//   - ns_chat_chats.go: the stored chats of "/chat" (join, chat message,
//     typing with chatId, read, presence); recovery.go: missed messages on
//     reconnect (handshake auth.lastMessageId); presence.go (+ _memory):
//     sockets per user, also the REST members view's online state.
//   - http.go, http_rooms.go: routes, CORS, body caps, static SPA;
//     http_chats.go, http_attachments.go: the REST chat API.
//
// # Concurrency
//
// The core runs one socket's handlers one at a time, in order; handlers of
// different sockets run concurrently. Shared state lives in the registry
// (its own mutex) and in Conn (Conn.mu, held only for field access, never
// across I/O or another lock). Lock order: registry.mu and Conn.mu are never
// held together. chats.sendMu (a RWMutex) is the one lock held across I/O: a
// "chat message" holds it shared from its store commit through its
// broadcast, a recovering socket's last replay step holds it exclusively
// (recovery.go); no other gateway lock is taken while holding it, and the
// presence tracker's mutex is a leaf. Event contexts derive from the
// Server's context, so Shutdown cancels in-flight work. Token-expiry timers
// are time.AfterFunc (no goroutine while waiting), stopped when their
// socket's context ends.
//
// # Metrics (GET /metrics, a registry of the Server's own)
//
// sockgate_connections (Engine.IO connections), sockgate_sockets{namespace},
// sockgate_socket_connects_total / _disconnects_total / _refused_total
// {namespace}, sockgate_events_in_total and sockgate_events_out_total
// {namespace,event} (a broadcast counts once), sockgate_acks_total
// {namespace,event,result=ok|error}, sockgate_errors_total{code} (events,
// refused connections and HTTP), sockgate_ratelimit_refusals_total{rule},
// sockgate_tutorial_rooms, plus the Go and process collectors.
//
// # Decisions where the SPEC is silent
//
//   - Rate limits are checked before decoding (NestJS runs guards before
//     pipes), so malformed events cost their sender's budget too. A limiter
//     store failure refuses the event (fail closed) with `unavailable`.
//   - Validation messages follow zod v3 (the tutorial's validator),
//     prefixed by the field path and joined by "; " when several fields fail;
//     eventName must also name the event it was sent as.
//   - On "/", a join_room whose userId is used by another live socket of the
//     room is refused (`conflict`); the host's userId coming back on a new
//     socket after its old one left takes the host seat again (page reload).
//     The host may not kick itself. Kick and chat use the registry's record
//     of the users, not the payload's userName.
//   - The kick system message's timeSent is the en-US locale string of the
//     reference ("11/23/2026, 10:15:11 AM", server time zone) with a plain
//     space before AM/PM.
//   - "/rooms" rooms are "room:<name>" in Socket.IO, so no client can join
//     another socket's id room; the username of joinRoom is bound to the
//     connection; only members send; usernames 1..32 and room names 1..64
//     characters without control characters; messages 1..1000.
//   - "/chat" lobby usernames are 1..32 characters; onlineUsers lists them
//     in joining order (cluster-wide via FetchSockets and Conn's JSON data);
//     typing from a socket that did not join is acknowledged and ignored, as
//     in the seed. sendMessage's refusal keeps the seed's exact ack
//     {error:"You must join the chat first"}.
//   - The "exception" event is {status:"error", message} on every namespace.
//   - HTTP errors carry "error":"<code>", except NestJS's bare form when the
//     message is only the status text (the tutorial's 404).
package gateway
