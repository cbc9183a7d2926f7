// Package lobby is the anonymous lobby of namespace "/chat" (SPEC §3, seed
// websockets-realtime-communication.txt §2): welcome, joinChat,
// sendMessage, typing without a chatId, userLeft. The namespace is shared
// with the stored chats (package chats); the wiring dispatches "typing".
//
// It imports gateway/event, never the wiring or another product.
//
// Decisions where the SPEC is silent:
//   - Usernames are 1..32 characters without control characters.
//   - onlineUsers lists the usernames in joining order, cluster-wide: each
//     joined socket publishes {name, joinedAt} in its FetchSockets data
//     (key "lobby").
//   - Typing from a socket that did not join is acknowledged and ignored,
//     as in the seed. sendMessage's refusal keeps the seed's exact ack
//     {error:"You must join the chat first"} (plus the `exception` event).
package lobby
