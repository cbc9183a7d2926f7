package gateway

import (
	"errors"
	"net/http"
)

// listRooms is GET /api/rooms: every tutorial room (SPEC §2).
func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) error {
	rooms, err := s.reg.Rooms(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rooms)
	return nil
}

// getRoom is GET /api/rooms/{room}: one room, or NestJS's bare 404
// {"statusCode":404,"message":"Not Found"}.
func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) error {
	room, err := s.reg.Room(r.Context(), r.PathValue("room"))
	if errors.Is(err, errRegistryNoRoom) {
		return errNotFoundHTTP
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, room)
	return nil
}
