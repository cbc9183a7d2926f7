// Package chats is the stored, authenticated chats (SPEC §3, §6; seeds
// chat-system-gateway.txt and api-with-nestjs-26-realtime-chat.txt): the
// "/chat" events join, chat message, typing with a chatId, read, sync
// (events.go), presence (presence.go, presence_memory.go), missed messages
// on reconnect (recovery.go), and the REST API with attachments (http.go,
// attachments.go, http_auth.go). Messages have one shape on every path
// (views.go); store failures get one mapping (errors.go).
//
// It imports gateway/event and store, never the wiring or another product.
//
// # Concurrency
//
// Chats.sendMu (a RWMutex) is the one lock held across I/O: a "chat
// message" holds it shared from its store commit through its broadcast, a
// recovering socket's last replay step holds it exclusively (recovery.go).
// No other lock is taken while holding it; the presence tracker's mutex is
// a leaf.
package chats
