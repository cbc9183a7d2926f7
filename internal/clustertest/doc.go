// Package clustertest runs the production topology of docker-compose.yml
// without Docker and drives it with the real socket.io-client: a private
// Redis, a throwaway PostgreSQL database, two sockgate processes and nginx
// running deploy/nginx.conf in front of them (internal/testenv's
// StartCluster), everything on loopback.
//
// The clients reach the cluster only through nginx, each from its own
// loopback source address so that nginx's ip_hash spreads them over both
// instances; nginx's access log and each instance's /metrics prove where
// every request and socket landed.
//
// What the tests hold today (each instance on its own, as before the Redis
// adapter): every request of an Engine.IO session (the polling handshake,
// its POSTs, the WebSocket upgrade) sticks to one instance; a polling-first
// and a WebSocket-only client each join a tutorial room, chat and receive
// their own message, and read GET /api/rooms through nginx; a browser's
// Origin passes sockgate's same-origin check behind nginx (the Host header
// keeps its port); /metrics is not served by the load balancer.
//
// The package holds only tests.
package clustertest
