// Package ratelimit limits events and requests per rule and per client with
// ulule/limiter/v3 (SPEC §7, §9; error replies in SPEC §6: 429 with
// Retry-After and X-RateLimit-*).
//
// A Limiter holds named rules ("/:chat", "/chat:sendMessage",
// "http:GET /chats", "connect"); the gateway calls Allow(ctx, rule, Key(user,
// ip)) before handling an event, request or connection, and maps a
// *LimitedError to `rate_limited` / 429. The package decides nothing about
// which rules exist or their defaults: that is the gateway's and the config's.
//
// Decisions where the SPEC is silent:
//   - Fixed windows, aligned to the period (a 1 s rule counts per second of
//     the clock, a 1 m rule per minute): at most Limit events per window per
//     key, ulule counting each window under its own key. An event counts in
//     the window in which it arrived (AllowAt), not the one in which it is
//     checked: events that waited in their socket's inbox behind a slow
//     handler (a stalled store) are not counted all at once when it
//     resumes, which refused a client sending well under its limit. Every
//     instance agrees on the windows, and Retry-After is exact. Refused
//     events still count. Unknown rules and Limit <= 0 are unlimited and
//     cost nothing (no store access).
//   - Counters live in ulule's memory store by default (per process) or, when
//     Config.Redis is set, in Redis through a limiter.Store of ours
//     (store_redis.go: one Lua script, INCR+PEXPIRE like ulule's), so every
//     instance on that Redis shares one count per key (SPEC §9). Keys are
//     "<prefix>:<rule>|<key>|<window>", prefix "sockgate:rl" as with
//     ulule's store, window the number of periods since the Unix epoch.
//   - A failed count is not a hit. ulule's Redis store sends its INCRBY and
//     waits; a caller that gives up at its deadline leaves the command in a
//     hung Redis's socket buffer, and Redis runs it when it resumes, so after
//     a pause every abandoned event of every instance lands in one window
//     (false `rate_limited`). Our script carries the caller's deadline (in
//     Redis's clock: the offset is measured from TIME) and counts nothing
//     once it has passed.
//   - Every store call has a deadline: the earlier of the caller's and
//     Config.Timeout (250ms) from the call. After a failure, calls fail at
//     once for Config.Cooldown (500ms), then one call probes Redis: events
//     queued behind a hung Redis are not each delayed by the timeout, and
//     few commands pile up in its buffers.
//   - A store failure is returned as ErrUnavailable, not swallowed: the
//     gateway applies Config.Failure (FailOpen by default: the event is let
//     through unchecked; FailClosed: refused as unavailable).
//   - Keys: the authenticated user id, else the client IP; X-Forwarded-For is
//     believed only when the peer is a configured trusted proxy, walking the
//     list right to left past trusted hops (the leftmost entries are
//     client-controlled).
//
// A Limiter's rules are immutable after New; its only state, the cooldown
// after a store failure, is atomic. It is safe for concurrent use.
package ratelimit
