package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves net/http/pprof on Config.PprofAddr, a listener of its
// own (never the public one), when set. Its server is closed with the rest
// (m.closer). Profiles of a loaded server are what an operator needs when
// something is slow; Validate keeps the listener on loopback unless
// -pprof-public says otherwise.
func (m *Main) servePprof() error {
	if m.Config.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.PprofAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("pprof listener failed", "addr", m.Config.PprofAddr, "err", err)
		}
	}()
	m.closer = append(m.closer, func(ctx context.Context) error {
		_ = srv.Close() // profiles in progress are not worth waiting for
		return nil
	})
	if host, _, _ := net.SplitHostPort(m.Config.PprofAddr); !isLoopback(host) {
		m.log.Warn("pprof served on a non-loopback address (-pprof-public): restrict who can reach it", "addr", ln.Addr().String())
	}
	m.log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}
