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
