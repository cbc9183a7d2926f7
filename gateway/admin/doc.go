// Package admin is the server side of the Socket.IO Admin UI
// (@socket.io/admin-ui 0.5, its bundled ui/dist or the hosted UI) on the
// opt-in namespace "/admin" (issue 10, SPEC §10): what Node's instrument()
// does, written against the core's socketio.Observer.
//
// It imports gateway/event (refusal logs, the login rate limit), the core
// and its leaves, never the wiring or another product.
//
// # Protocol
//
//   - Login: the handshake auth {username, password}, the password checked
//     against a bcrypt hash; a refusal is CONNECT_ERROR "invalid
//     credentials" (the UI compares that exact text). A successful login
//     gets a "session" id, sent right after CONNECT (Node sends it before,
//     where the bundled UI misses it); auth {sessionId} alone logs in again.
//   - On connection: "config" {supportedFeatures}, then (development)
//     "all_sockets", every socket of every namespace through FetchSockets
//     (cluster-wide with the Redis adapter), then one "server_stats" of
//     this instance (Node's first one comes with the timer, up to 2 s
//     later).
//   - "server_stats" every StatsPeriod (2 s) from each instance, broadcast
//     through the /admin adapter: with a cluster adapter every admin sees
//     every instance, each under its ServerID, as with Node.
//   - Development mode also broadcasts socket_connected, socket_updated
//     (transport upgrades, noticed at the stats tick: the core has no
//     upgrade hook), socket_disconnected, room_joined, room_left,
//     event_received and event_sent (none for /admin itself), each with a
//     JSON date (ISO, ms). Production mode sends only config and
//     server_stats; the UI then shows no sockets, rooms or events.
//   - Actions (no acks): emit(nsp, filter, event, ...args), join(nsp, room,
//     filter), leave(nsp, room, filter), _disconnect(nsp, close, filter),
//     through the namespace's adapter (cluster-wide); a falsy filter is the
//     whole namespace.
//
// # Decisions where Node or the SPEC leaves room
//
//   - Protected rooms: join and leave of a room, and emit to a room, named
//     chat:*, user:* or a socket id (20 base64url characters, the core's
//     ids) are refused unless Config.AllowProtected (-admin-allow-protected):
//     they would bypass sockgate's membership and identity checks (a chat
//     member list the store does not know, an event in someone's name).
//     Disconnects are allowed (they bypass nothing). A refusal is told to
//     the admin socket as "admin_error" {action, reason} (the UI ignores
//     it; a script sees it).
//   - Every action is logged ("admin: action", Info; Warn when it touched
//     a protected room or was refused; Error when it failed) with the
//     action, namespace, filter, room/event, the admin socket and address.
//     Logins are logged; refused logins at most once a minute per address.
//   - Unknown namespaces are refused (Node's io.of would create them).
//   - Sessions are stateless: nonce, expiry and an HMAC keyed by a digest
//     of the password hash (see sessions), valid on every instance with the
//     same hash for SessionTTL (24 h); changing the password ends them.
//   - Logins are limited per client address (RateRules, 10 a minute) and
//     at most two bcrypt comparisons run at once.
//   - Handshakes shown to the UI omit auth (as Node) and redact the
//     Authorization and Cookie headers and the token query parameter.
//   - Sockets of other Go instances have no connection id in their
//     FetchSockets snapshot: their clientId is their socket id's first 12
//     characters (one client per socket in the UI's Clients view) and
//     their transport is empty. Sockets of Node instances carry Node's
//     data._admin, which is used and stripped.
//   - Every observed event costs one /admin broadcast (a Redis publish with
//     the cluster adapter) even when no admin is connected, as in Node:
//     development mode is for development; production mode costs atomic
//     counters only.
//
// # Concurrency
//
// Observer callbacks run on the observed socket's or connection's
// goroutine and broadcast synchronously; Admin.mu guards the map of local
// sockets' transports only. One goroutine, owned by Admin and stopped by
// Close, emits the stats.
package admin
