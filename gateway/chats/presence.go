package chats

import "context"

// presence counts the connected sockets of each authenticated user on
// namespace "/chat", so that `presence` events go out when a user's first
// socket connects and when their last one disconnects (SPEC §3), and so that
// the REST members view can tell who is online.
//
// Sockets are counted by id, not by a bare counter: adding or removing the
// same socket twice changes nothing, which keeps the count right when a
// disconnect is reported twice and lets the shared implementation (Redis,
// SPEC §9) use set operations. The memory implementation serves one
// process; with several instances a user's sockets on other instances are
// only seen by the Redis one, which also stops counting the sockets of an
// instance whose heartbeat has expired (package doc, Cluster).
type presence interface {
	// Connect records socketID as a socket of userID; first reports
	// whether the user had no socket before.
	Connect(ctx context.Context, userID, socketID string) (first bool, err error)
	// Disconnect forgets socketID; last reports whether it was the user's
	// last socket.
	Disconnect(ctx context.Context, userID, socketID string) (last bool, err error)
	// Online reports which of userIDs have a socket (absent: offline). It
	// is also the API's Online view (members view, SPEC §3).
	Online(ctx context.Context, userIDs []string) (map[string]bool, error)
}

// Presence statuses of the `presence` event.
const (
	statusOnline  = "online"
	statusOffline = "offline"
)

// presenceEvent is the `presence` event.
type presenceEvent struct {
	UserID string `json:"userId"`
	Status string `json:"status"`
}
