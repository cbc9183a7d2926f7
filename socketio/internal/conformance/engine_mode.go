package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
)

// engineConfig is what the Engine.IO suite expects (test-suite.js:
// PING_INTERVAL 300, PING_TIMEOUT 200, maxPayload 1e6).
func engineConfig(log *slog.Logger) engine.Config {
	return engine.Config{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1e6,
		CORS:         engine.CORS{AllowedOrigins: []string{"*"}},
		Logger:       log,
	}
}

// echo sends every message back on its connection, text as text, binary as
// binary.
type echo struct{ c *engine.Conn }

func (e echo) OnMessage(data []byte, binary bool) {
	if binary {
		e.c.Send(engine.BinaryMessage(data))
		return
	}
	e.c.Send(engine.TextMessage(string(data)))
}

func (e echo) OnClose(string) {}

func newEngineHandler(log *slog.Logger) (*engine.Server, http.Handler) {
	srv := engine.New(engineConfig(log), func(c *engine.Conn) { c.SetHandler(echo{c}) })
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	return srv, mux
}
