// Package rooms is namespace "/rooms" (SPEC §4, seed
// websockets-realtime-communication.txt §3): joinRoom, leaveRoom,
// sendRoomMessage and getRoomMembers. Counts and members come from the
// adapter's FetchSockets, so they are cluster-wide with a cluster adapter.
//
// It imports gateway/event, never the wiring or another product.
//
// Decisions where the SPEC is silent:
//   - Rooms are "room:<name>" in Socket.IO, so no client can join another
//     socket's id room (or any internal room).
//   - The username of joinRoom is bound to the connection; a payload naming
//     another is refused, and only members send to a room.
//   - Usernames are 1..32 and room names 1..64 characters without control
//     characters; messages 1..1000.
package rooms
