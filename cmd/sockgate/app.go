package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/internal/redisclient"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
)

// Main is the server program: ParseFlags, Run, then Close. Tests run it
// in-process with Addr "127.0.0.1:0".
type Main struct {
	Config Config
	// Stderr receives logs and flag errors. Nil means os.Stderr.
	Stderr io.Writer
	// Getenv reads the environment. Nil means os.Getenv.
	Getenv func(string) string

	log      *slog.Logger
	closer   []func(ctx context.Context) error // run in reverse order by Close
	ln       net.Listener
	http     *http.Server
	gw       *gateway.Server
	redis    redisclient.Client // nil without -redis
	done     chan struct{}      // closed when the HTTP server stops serving
	serveErr error              // why, unless it was Close

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main { return &Main{Config: DefaultConfig()} }

func (m *Main) stderr() io.Writer {
	if m.Stderr == nil {
		return os.Stderr
	}
	return m.Stderr
}

// ParseFlags reads the flags of args with environment fallbacks, then
// validates the result.
func (m *Main) ParseFlags(args []string) error {
	getenv := m.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := serverFlags(&m.Config, m.stderr()).parse(args, getenv); err != nil {
		return err
	}
	return m.Config.Validate()
}

// Run starts the server and returns once it listens; serving errors are
// reported by Done. ctx bounds start-up only (e.g. dialing Redis). What it
// opened is released by Close, which Run calls itself when it fails.
func (m *Main) Run(ctx context.Context) (err error) {
	c := m.Config
	if err := c.Validate(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	m.log = newLogger(m.stderr(), c.LogFormat, c.LogLevel)
	for _, w := range c.warnings() {
		m.log.Warn(w)
	}
	ready := map[string]func(context.Context) error{}
	lim, err := m.openLimiter(ctx, ready)
	if err != nil {
		return err
	}
	v, st, err := m.openStore(ctx, ready)
	if err != nil {
		return err
	}
	if err := m.startGateway(st, v, lim, ready); err != nil {
		return err
	}
	if err := m.serve(); err != nil {
		return err
	}
	if err := m.servePprof(); err != nil {
		return err
	}
	m.log.Info("sockgate listening", "addr", m.ln.Addr().String(), "redis", c.RedisURL != "", "static", c.StaticDir, "store", st != nil)
	return nil
}

// newLogger builds the process's logger on w: text or JSON, at level.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level) // checked by Validate
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openLimiter dials Redis when a URL is configured (then Redis is also a
// readiness check, and the gateway's shared state lives there too) and
// builds the rate limiter, on Redis then. The Redis client is closed after
// the gateway's shutdown (closers run in reverse).
func (m *Main) openLimiter(ctx context.Context, ready map[string]func(context.Context) error) (*ratelimit.Limiter, error) {
	c := m.Config
	rules, err := c.rateRules()
	if err != nil {
		return nil, err
	}
	failure, err := ratelimit.ParseFailureMode(c.RateLimitFailure)
	if err != nil {
		return nil, err
	}
	limCfg := ratelimit.Config{Rules: rules, Prefix: c.RedisPrefix + ":rl", Logger: m.log, Failure: failure}
	if c.RedisURL != "" {
		dial := redisclient.Dial
		if c.AdapterMode == "sharded" {
			dial = redisclient.DialCluster // sharded pub/sub lives on a Redis Cluster
		}
		rc, err := dial(ctx, c.RedisURL)
		if err != nil {
			return nil, err
		}
		m.closer = append(m.closer, func(context.Context) error { return rc.Close() })
		m.redis = rc
		limCfg.Redis = rc
		ready["redis"] = func(ctx context.Context) error { return rc.Ping(ctx).Err() }
	}
	lim, err := ratelimit.New(limCfg)
	if err != nil {
		return nil, err
	}
	m.closer = append(m.closer, func(context.Context) error { return lim.Close() })
	return lim, nil
}

// openStore builds the token verifier and opens (and migrates) the store,
// a readiness check. Stored chats belong to authenticated users: without a
// JWT key there is no identity, so both are nil and the store is not even
// opened.
func (m *Main) openStore(ctx context.Context, ready map[string]func(context.Context) error) (*auth.Verifier, *store.Store, error) {
	c := m.Config
	if !c.jwtConfigured() {
		m.log.Warn("no JWT key configured (-jwt-secret, -jwt-public-key or -jwt-jwks): every socket is anonymous; stored chats and the chat REST API are off")
		return nil, nil, nil
	}
	v, err := auth.NewVerifier(c.verifierConfig())
	if err != nil {
		return nil, nil, err
	}
	dsn, err := c.storeDSN()
	if err != nil {
		return nil, nil, err
	}
	// A statement never outlives the event that runs it (PostgreSQL).
	st, err := store.Open(ctx, store.Config{DSN: dsn, Logger: m.log, StatementTimeout: c.EventTimeout, Committers: int(c.DBCommitters)})
	if err != nil {
		return nil, nil, err
	}
	m.closer = append(m.closer, func(context.Context) error { return st.Close() })
	ready["store"] = st.Ping
	return v, st, nil
}

// startGateway builds the application on its dependencies (st and v may
// be nil: no stored chats).
func (m *Main) startGateway(st *store.Store, v *auth.Verifier, lim *ratelimit.Limiter, ready map[string]func(context.Context) error) error {
	c := m.Config
	modes, err := c.authModes()
	if err != nil {
		return err
	}
	trusted, err := ratelimit.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return err
	}
	m.gw, err = gateway.New(st, v, lim, gateway.Config{
		Auth:               modes,
		Attachments:        gateway.AttachmentStore(c.Attachments),
		Files:              store.Files{Dir: filepath.Join(c.DataDir, "attachments")},
		MaxUpload:          c.MaxUpload,
		UploadTypes:        c.uploadTypes(),
		MaxHTTPBufferSize:  c.MaxHTTPBufferSize,
		SendQueueBytes:     c.SendQueueBytes,
		WriteTimeout:       c.WriteTimeout,
		BodyTimeout:        c.BodyTimeout,
		MaxConnsPerIP:      int(c.MaxConnsPerIP),
		MaxConnsPerUser:    int(c.MaxConnsPerUser),
		ConnectConcurrency: int(c.ConnectConcurrency),
		CORSOrigins:        c.corsOrigins(),
		CORSCredentials:    c.CORSCredentials,
		TrustedProxies:     trusted,
		StaticDir:          c.StaticDir,
		ReadyChecks:        ready,
		PingInterval:       c.PingInterval,
		PingTimeout:        c.PingTimeout,
		ClusterHeartbeat:   c.ClusterHeartbeat,
		ClusterTTL:         c.ClusterTTL,
		Redis:              m.redis,
		RedisPrefix:        c.RedisPrefix,
		AdapterKey:         c.AdapterKey,
		AdapterMode:        c.AdapterMode,
		Recovery:           c.recovery(),
		EventTimeout:       c.EventTimeout,
		Admin:              c.adminConfig(),
		Logger:             m.log,
	})
	if err != nil {
		return err
	}
	return nil
}

// serve listens on Config.Addr and serves the gateway's handler in the
// background until Close (or a listener failure, then Err says why).
func (m *Main) serve() error {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	gate := m.gw.AcceptGate()
	m.ln = gate.Listener(ln)
	m.http = &http.Server{
		Handler:           m.gw.Handler(),
		ConnState:         gate.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
	}
	m.done = make(chan struct{})
	go func() {
		if err := m.http.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			m.serveErr = err
		}
		close(m.done)
	}()
	return nil
}

// Addr returns the address the server listens on (its port when Addr was ":0").
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Done is closed when the HTTP server stops serving: after Close, or on its
// own when the listener fails (then Err says why).
func (m *Main) Done() <-chan struct{} { return m.done }

// Err returns why the server stopped serving on its own, after Done.
func (m *Main) Err() error {
	select {
	case <-m.done:
		return m.serveErr
	default:
		return nil
	}
}

// Close shuts down gracefully within Config.ShutdownTimeout, in the order
// that loses nothing (issue 9, "graceful drain"):
//
//  1. stop accepting connections (http.Server.Shutdown, in the background:
//     it then waits for the requests in flight);
//  2. drain the gateway: the Socket.IO server stops reading new events, lets
//     running handlers finish and flushes their acks, then closes every
//     connection so that clients reconnect (elsewhere behind a load
//     balancer) — which also ends the long-polling requests step 1 waits for;
//  3. wait for the HTTP server: REST requests in flight finish with the
//     store still open;
//  4. release the store, the limiter and Redis (reverse order of opening).
//
// Idempotent.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		m.closeErr = errors.Join(m.drain(ctx), m.release(ctx))
		switch {
		case m.ln == nil:
			// Run failed before listening: its caller reports why, once.
		case m.closeErr != nil:
			m.log.Error("sockgate stopped", "err", m.closeErr)
		default:
			m.log.Info("sockgate stopped")
		}
	})
	return m.closeErr
}

// drain runs steps 1-3 of Close.
func (m *Main) drain(ctx context.Context) error {
	httpDone := make(chan error, 1)
	if m.http != nil {
		go func() { httpDone <- m.http.Shutdown(ctx) }()
	} else {
		httpDone <- nil
	}
	var errs []error
	if m.gw != nil {
		if err := m.gw.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		_ = m.http.Close()
	}
	if m.done != nil {
		<-m.done
	}
	return errors.Join(errs...)
}

// release runs step 4 of Close: the closers, newest first.
func (m *Main) release(ctx context.Context) error {
	var errs []error
	for i := len(m.closer) - 1; i >= 0; i-- {
		if err := m.closer[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parseLevel parses a -log-level value.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("-log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}
