// Command conformance is the reference server the official protocol test
// suites (github.com/socketio/engine.io-protocol and socket.io-protocol)
// run against. It is a test fixture, not a product binary.
//
//	conformance -mode engine   -addr :3000   # Engine.IO suite: /engine.io/
//	conformance -mode socketio -addr :3000   # Socket.IO suite: /socket.io/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	mode := flag.String("mode", "engine", "protocol to serve: engine or socketio")
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch *mode {
	case "engine":
		eng, h := newEngineHandler(log)
		err = serve(log, *addr, h, eng.Shutdown)
	case "socketio":
		srv := newSocketIOServer(log)
		mux := http.NewServeMux()
		mux.Handle("/socket.io/", srv)
		err = serve(log, *addr, mux, srv.Shutdown)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

// serve runs h on addr until SIGINT/SIGTERM, then shuts down the HTTP server
// and the protocol server (shutdown) within 5 s.
func serve(log *slog.Logger, addr string, h http.Handler, shutdown func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("conformance: listening", "addr", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(hs.Shutdown(sctx), shutdown(sctx))
}
