// Package redisclient builds the one go-redis client a sockgate process
// shares (rate-limit counters today; the Socket.IO adapter and the presence
// and room registries of the cluster issue later), so that cmd/sockgate
// needs no go-redis import and every user gets the same client settings.
//
// It owns three decisions:
//   - the URL format: go-redis's ("redis://[[user]:pass@]host:port/db",
//     "rediss://" for TLS, query options such as dial_timeout);
//   - deadlines: the client is built with ContextTimeoutEnabled, so every
//     command, blocking ones included, returns when its context's deadline
//     passes instead of waiting for the client's own read/write timeouts;
//   - failing early: Dial pings the server, so a wrong REDIS_URL fails at
//     start rather than on the first event.
package redisclient
