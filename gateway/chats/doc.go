// Package chats is the stored, authenticated chats (SPEC §3, §6; seeds
// chat-system-gateway.txt and api-with-nestjs-26-realtime-chat.txt): the
// "/chat" events join, chat message, typing with a chatId, read, sync
// (events.go), presence (presence.go, presence_memory.go,
// presence_redis.go), missed messages on reconnect (recovery.go), and the
// REST API with attachments (http.go, attachments.go, http_auth.go). Messages have one shape on every path
// (views.go); store failures get one mapping (errors.go).
//
// It imports gateway/event, gateway/internal/cluster and store, never the
// wiring or another product.
//
// # Concurrency
//
// No lock is held across I/O but that gap read. Live "message" emits go through the
// sequencer (live.go): a mutex per chat, held for an in-memory emit (and,
// after a gap of gapWait, a store read of the missing messages bounded by
// gapFetchTimeout), so a chat's messages leave in seq order and chats never
// wait for each other.
// recovering (recovery.go) is a RWMutex: the sequencer reads it to hand
// live messages to replaying sockets; a replay takes it exclusively only
// to register itself and to go live (in-memory work, no store read). Lock
// order: a chat's line, then recovering, then a replay's buffer mutex;
// the presence tracker's mutex is a leaf. A reconnect never stalls a send.
//
// # Cluster
//
// Live messages reach the other instances by ServerSideEmit (one publish
// per message, like the broadcast it replaces), so that every instance's
// sequencer orders them with its own: a Node server sharing the Redis
// adapter does not see them (it serves no stored chats). Other events
// (user joined, typing, read, presence) are ordinary adapter broadcasts.
//
// With Config.Redis presence lives in Redis (presence_redis.go, SPEC §9):
// a user's first socket on any instance announces them online, their last
// socket anywhere offline, each decided by one atomic Lua script. Each
// socket records its instance's id; each instance refreshes its heartbeat
// key every cluster.Config.Heartbeat (5s) with a TTL of cluster.Config.TTL (15s),
// from a goroutine New starts and Close stops. Every script first forgets
// the sockets of instances whose key has expired, so the sockets of an
// instance killed without cleaning up stop counting (Online, the REST
// members view, the next first/last decision) at most cluster.Config.TTL (15s)
// after its last heartbeat. No offline `presence` event is sent for the
// users that instance had: nobody is left to send it, and another
// instance would have to notice the expiry itself (not built). Close
// forgets this instance's sockets at once, also without offline events.
//
// # Attachments
//
// Attachment bytes live in the Blobs given to NewAPI, an interface of this
// package with two implementations: store.Files, a content-addressed
// directory on this instance's disk, and store.Blobs, the same in the
// database in 256 KiB chunks. Both stream an upload in constant memory
// under the MaxUpload cap, leave nothing behind when it fails, share one
// copy between identical uploads and serve ranges. The wiring picks one
// (gateway.Config.Attachments, flag -attachments): by default the database
// when the store is PostgreSQL, because that is the production shape, a
// cluster behind a load balancer, where an upload taken by one instance
// must download from every other (SPEC §9) and the database is the one
// thing they all share; and the disk when the store is SQLite, which is one
// instance anyway, where files keep the database file small and are served
// straight from the file system. Either can be forced: disk on PostgreSQL
// when every instance mounts one shared directory, the database on SQLite
// to keep a single file to back up. Switching does not move bytes already
// stored: their downloads fail (500) until they are copied over. (SPEC §6
// says files are stored outside the database; §9 says every instance
// reads them. With PostgreSQL the database is the one service every
// instance already shares, so §9 wins by default; -attachments disk with a
// shared directory honours both.)
package chats
