package tutorial

import (
	"errors"
	"net/http"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
)

// listRooms is GET /api/rooms: every tutorial room (SPEC §2).
func (t *Tutorial) listRooms(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	t.arrivals.settle(r.Context(), t.n.Pipeline().ClientIP(r))
	rooms, err := t.reg.Rooms(r.Context())
	if err != nil {
		return err
	}
	event.WriteJSON(w, http.StatusOK, rooms)
	return nil
}

// getRoom is GET /api/rooms/{room}: one room, or NestJS's bare 404
// {"statusCode":404,"message":"Not Found"}.
func (t *Tutorial) getRoom(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
	t.arrivals.settle(r.Context(), t.n.Pipeline().ClientIP(r))
	room, err := t.reg.Room(r.Context(), r.PathValue("room"))
	if errors.Is(err, errRegistryNoRoom) {
		return event.ErrNotFoundHTTP
	}
	if err != nil {
		return err
	}
	event.WriteJSON(w, http.StatusOK, room)
	return nil
}
