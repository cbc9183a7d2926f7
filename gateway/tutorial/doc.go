// Package tutorial is namespace "/" and GET /api/rooms (SPEC §2): the
// anonymous chat rooms of the NestJS tutorial (seed
// nest-ws-rate-limiting-and-acks.txt), which its React client uses
// unchanged. Payloads are validated like the tutorial's zod schemas;
// replies are NestJS's (ack true, or no ack and an `exception` event).
//
// The registry (registry.go) is the truth about rooms: members, host, the
// REST view. Socket.IO rooms deliver the messages; both change together in
// enter and exit only. It lives in this process (registry_memory.go) or,
// with Config.Redis, in Redis, shared by every instance (registry_redis.go,
// SPEC §9).
//
// # Cluster
//
// In Redis every registry operation is one Lua script, atomic across
// instances (concurrent first joins elect one host). Each member records
// its instance's id; each instance refreshes its heartbeat key every
// cluster.Config.Heartbeat (5s) with a TTL of cluster.Config.TTL (15s), from a
// goroutine that New starts and Close stops. Every script first removes
// the members of instances whose key has expired (deleting rooms left
// empty), so the members of an instance killed without cleaning up
// vanish from every read at most cluster.Config.TTL (15s) after its last
// heartbeat. An instance cut off from Redis for longer loses its members
// the same way; its sockets stay connected, and their next join_room adds
// them again. Close removes this instance's members at once.
//
// # Room names
//
// A tutorial room is "room:<name>" in Socket.IO (SPEC §10, issue 9): "/"
// also holds every socket's id room and each authenticated socket's
// "user:<sub>" room, so a join_room "user:bob" must not put its sender in
// bob's user room. The registry (memory and Redis), acks, payloads and
// GET /api/rooms keep the name the client sent; only the Socket.IO rooms
// (and so the Redis adapter's room channels) carry the prefix. Instances of
// a cluster must all prefix: during a rolling upgrade from a version that
// did not, chat between old and new instances does not cross.
//
// # Reads after a join
//
// The tutorial client emits join_room on "connect" and GETs
// /api/rooms/:room 0–21 ms later without waiting for the ack (issue 10,
// item 6). Unless the GET waits, it reads the registry while the join is
// in the socket's inbox (behind the connect hooks), in a polling POST not
// read yet, or in its registry write: the host of a new room got a 404, a
// newcomer a member list without themself.
//
// Decision: a room read waits for the first join of the sockets of its
// client. The gateway sees an event only when its handler runs (a hook at
// receipt would be in the core, and would still miss a POST not read
// yet), but it sees every socket being admitted: the namespace middleware
// runs before the CONNECT reply, so before the client can emit anything.
// settle.go records each admitted socket, by client address (the
// pipeline's ClientIP, the same for the socket and the GET), until its
// first join_room has been handled, successfully or not, or it is gone.
// GET /api/rooms and GET /api/rooms/:room first wait until the sockets of
// their client address admitted less than 2s ago have had that join
// handled, for at most 1s. Costs: a read waits only while a socket of
// the same address is between its connect and its first join (a few ms);
// clients behind one address (NAT, a proxy not in -trusted-proxies) may
// wait for each other's joins; a socket that never joins, or whose join is
// refused before the handler (rate limit, invalid payload), delays reads
// of its address by at most 1s, for 2s. The bound was 250ms first: with
// 20 sockets of one address joining at once on two loaded cores, some
// first joins took longer and 15 of 200 reads missed their own join.
// Not covered: a second join_room on the same socket (the tutorial client
// joins once per socket) and a GET served by another instance than the
// socket (the load balancer keeps a client address on one instance:
// nginx's ip_hash).
// TestTutorial_JoinThenGet (package gateway) reproduces the race with the
// real socket.io-client: 1,000 of 1,000 iterations pass; without the wait,
// most miss.
//
// It imports gateway/event and gateway/internal/cluster, never the wiring
// or another product.
//
// Decisions where the SPEC is silent:
//   - eventName must name the event it was sent with.
//   - A join_room whose userId is used by another live socket of the room
//     is refused (`conflict`); the host's userId coming back on a new socket
//     after its old one left takes the host seat again (page reload). The
//     host may not kick itself. Kick and chat use the registry's record of
//     the users, not the payload's userName.
//   - The kick system message's timeSent is the en-US locale string of the
//     reference ("11/23/2026, 10:15:11 AM", server time zone) with a plain
//     space before AM/PM.
//   - Metric sockgate_tutorial_rooms: the rooms as this instance last saw them.
package tutorial
