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
//   - Fixed windows (ulule's model): at most Limit events per Period per key,
//     the window starting at a key's first event. Refused events still count,
//     so they cannot shorten the window. Unknown rules and Limit <= 0 are
//     unlimited and cost nothing (no store access).
//   - Counters live in ulule's memory store by default (per process) or, when
//     Config.Redis is set, in ulule's Redis store (go-redis v9, an atomic Lua
//     INCRBY+PEXPIRE), so every instance on that Redis shares one count per
//     key (SPEC §9). Keys are "<prefix>:<rule>|<key>", prefix "sockgate:rl".
//   - ulule reports a window's reset in whole Unix seconds, truncated. We take
//     the end of that second, capped at now+Period, so RetryAfter errs late by
//     under a second and a client that obeys it is not refused again.
//   - A store error is returned, not swallowed: the gateway chooses to fail
//     open or closed.
//   - Keys: the authenticated user id, else the client IP; X-Forwarded-For is
//     believed only when the peer is a configured trusted proxy, walking the
//     list right to left past trusted hops (the leftmost entries are
//     client-controlled).
//
// A Limiter is immutable after New and safe for concurrent use.
package ratelimit
