// Package gateway is sockgate's chat application on the Socket.IO core
// (package socketio), and only its wiring: New builds the Socket.IO server,
// the event pipeline (gateway/event) and each product with its
// dependencies, and serves everything behind one http.Handler (SPEC §1).
//
// # Where each part of the SPEC lives
//
//   - gateway/tutorial: namespace "/" and GET /api/rooms (SPEC §2).
//   - gateway/rooms: namespace "/rooms" (SPEC §4).
//   - gateway/lobby: the anonymous lobby events of "/chat" (SPEC §3, lobby).
//   - gateway/chats: the stored chats of "/chat", presence, recovery and the
//     REST chat API with attachments (SPEC §3, §6).
//   - gateway/event: what they share: the typed event/route pipeline, the
//     one error mapping, validation, JWT identity on sockets (SPEC §5),
//     rate-limit checks (SPEC §7), metrics.
//   - here: configuration (config.go), the namespaces and their order of
//     middleware (server.go: authentication first), the "typing" event two
//     products share, the HTTP mux with CORS, body caps, health, readiness,
//     metrics and the static SPA (http.go).
//
// A product imports gateway/event and its own dependencies, never this
// package or another product (internal/archtest checks it).
//
// # Lifecycle
//
// Shutdown stops the Socket.IO server: every socket is disconnected, the
// running handlers and the disconnect handlers are waited for within the
// caller's deadline; then the pipeline's context is cancelled for whatever
// still runs. Then, with Config.Redis, the heartbeats of the shared state
// (tutorial registry, presence) stop and this instance's remaining entries
// are removed, best effort within the same deadline. The store, verifier,
// limiter and Redis client belong to the caller.
//
// # Cluster state
//
// With Config.Redis the tutorial's room registry and "/chat" presence live
// in Redis, shared by every instance; without it, in this process. Each
// instance refreshes a heartbeat key every Config.ClusterHeartbeat (5s);
// the entries of an instance that dies without cleaning up (SIGKILL, lost
// Redis) stop counting at most Config.ClusterTTL (15s) after its last
// heartbeat, on every read. No offline `presence` is sent for its users.
//
// # Decisions where the SPEC is silent
//
// Each product's package doc lists its own; the wiring's:
//   - "typing" on "/chat" without chatId is the lobby's indicator, with one
//     it concerns a stored chat (`unavailable` when the server has no store).
//   - Without a JWT key every socket is anonymous and the stored chats are
//     off: their events answer `unavailable`, their routes are not served.
//   - The REST API (/api/*, /chats*, /attachments/*) gets CORS for the
//     configured origins; every body but Socket.IO's and attachment
//     uploads' is capped at Config.MaxBodyBytes.
//   - Socket.IO and REST share one origin policy: Config.CORSOrigins,
//     Config.CORSCredentials (never with "*"), and the same-origin check
//     believing X-Forwarded-Host / Forwarded host= from TrustedProxies. A
//     foreign origin is logged at Info, once a minute per origin, with the
//     allowed list: refused with 403 by the engine, answered without CORS
//     headers by the REST API (the browser then hides the answer).
//
// # What one client may cost (issue 9)
//
//   - Middleware order on every namespace: authentication (with
//     Config.MaxConnsPerUser: sockets per user on this instance, every
//     namespace), then the "nsconnect" rate rule (namespace CONNECTs per
//     user, else per Engine.IO connection, re-CONNECTs included: each costs
//     an authentication and, on "/chat", a user upsert and a replay), then
//     the products' own. Both refusals are connect_error rate_limited with
//     the reason, logged once a minute per namespace.
//   - A refused handshake ("connect" rule, Config.MaxConnsPerIP) is 429
//     with Node's body {"code":4,"message":<reason>}, Retry-After and
//     X-RateLimit-* (exposed to cross-origin pages, like the REST API's).
//   - Bodies: REST bodies are read under Config.BodyTimeout (uploads: plus
//     1 s per 64 KiB of MaxUpload), a read deadline on that request's
//     connection cleared once the body is in; a body cut by it answers
//     invalid_payload and the connection closes. Socket.IO's are the
//     engine's (same timeout).
//   - Writes: Config.WriteTimeout bounds each write of the engine;
//     attachment downloads get chats.DownloadWriteTimeout per chunk.
//   - sockgate_disconnects_total{reason} counts Engine.IO closes by reason.
package gateway
