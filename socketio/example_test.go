package socketio_test

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

type chatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// Example shows a namespace with a middleware, rooms, a broadcast and an ack.
func Example() {
	srv := socketio.New(socketio.Config{})
	chat := srv.Of("/chat")
	chat.Use(func(s *socketio.Socket) error {
		if s.Handshake().Auth == nil {
			return errors.New("auth required")
		}
		return nil
	})
	chat.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			var room string
			if args.Decode(0, &room) != nil {
				return
			}
			s.Join(room)
			if ack != nil {
				_ = ack(true)
			}
		})
		s.On("message", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			var m chatMessage
			if args.Decode(0, &m) != nil {
				return
			}
			_ = chat.To(m.Room).Emit("message", m) // encoded once for the whole room
		})
		s.OnDisconnecting(func(s *socketio.Socket, reason string) {
			_ = s.Broadcast().Emit("left", s.ID(), reason)
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
	_ = hs // hs.ListenAndServe() in a real program

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
