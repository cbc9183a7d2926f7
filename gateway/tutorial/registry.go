package tutorial

import (
	"context"
	"errors"
)

// Registry facts; errors.go decides what clients are told.
var (
	// errRegistryNoRoom means the room does not exist.
	errRegistryNoRoom = errors.New("tutorial: registry: room not found")
	// errRegistryUserIDTaken means another socket of the room uses the userId.
	errRegistryUserIDTaken = errors.New("tutorial: registry: userId taken in room")
)

// registry holds the rooms of the tutorial namespace "/" (SPEC §2): who is in
// which room and who hosts it. Socket.IO's own rooms deliver the messages;
// the registry is the source of truth for membership, hosting and the REST
// room view. The memory implementation serves one process; the Redis one
// (SPEC §9) shares it between instances, and drops the members of an
// instance whose heartbeat has expired (package doc, Cluster).
//
// Rules every implementation keeps:
//   - a room is created by its first join; that user is its host;
//   - a user is a member by socket id; joining twice is a no-op;
//   - a join whose userId is held by another socket in the room fails with
//     errRegistryUserIDTaken, except that the host's userId rejoining an
//     abandoned host seat rebinds the host to the new socket (a page reload);
//   - removing a room's last member deletes the room.
type registry interface {
	// Join adds u to room (creating it) and returns the room after the join.
	Join(ctx context.Context, room string, u User) (Room, error)
	// Leave removes socket id from room; ok is false when it was no member.
	Leave(ctx context.Context, room, socketID string) (removed User, ok bool, err error)
	// LeaveAll removes socket id from every room and returns their names.
	LeaveAll(ctx context.Context, socketID string) ([]string, error)
	// Room returns one room or errRegistryNoRoom.
	Room(ctx context.Context, name string) (Room, error)
	// Rooms returns every room, oldest first.
	Rooms(ctx context.Context) ([]Room, error)
	// Count returns the number of rooms.
	Count(ctx context.Context) (int, error)
}

// member returns the user of room with socket id, if any.
func member(r Room, socketID string) (User, bool) {
	for _, u := range r.Users {
		if u.SocketID == socketID {
			return u, true
		}
	}
	return User{}, false
}
