package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/internal/workpool"
)

// Errors returned by the emit and ack operations.
var (
	// ErrAckTimeout is returned when an acknowledgement did not arrive in
	// time (for a broadcast: when some receivers did not answer in time).
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrNotConnected is returned when emitting to a socket that is not
	// (or no longer) connected.
	ErrNotConnected = errors.New("socketio: socket not connected")
	// ErrReservedEvent is returned when emitting a reserved event name
	// ("connect", "disconnect", ...).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrAckSent is returned by an AckFunc called more than once.
	ErrAckSent = errors.New("socketio: acknowledgement already sent")
	// ErrNotSupported is returned when the adapter lacks a capability
	// (e.g. ServerSideEmit without a cluster adapter).
	ErrNotSupported = errors.New("socketio: not supported by the adapter")
)

// Disconnect reasons, as Node's socket.io names them. The server sees
// ReasonServerNamespaceDisconnect / ReasonClientNamespaceDisconnect where the
// client sees "io server disconnect" / "io client disconnect".
const (
	ReasonTransportError            = "transport error"
	ReasonTransportClose            = "transport close"
	ReasonForcedClose               = "forced close"
	ReasonPingTimeout               = "ping timeout"
	ReasonParseError                = "parse error"
	ReasonServerShuttingDown        = "server shutting down"
	ReasonForcedServerClose         = "forced server close"
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
)

// Config tunes a Server; zero values select the defaults written beside them.
type Config struct {
	// Engine configures the Engine.IO layer (heartbeat, payload limit, CORS...).
	Engine engine.Config
	// ConnectTimeout closes an Engine.IO connection that joins no namespace in
	// time. Zero means 45s (Node's default).
	ConnectTimeout time.Duration
	// AckTimeout is the default timeout of EmitWithAck calls whose context has
	// no deadline. Zero means 10s.
	AckTimeout time.Duration
	// Adapter builds the room/broadcast adapter of each namespace. Nil means
	// the in-memory adapter.
	Adapter AdapterFactory
	// InboundQueue bounds the events queued for one socket while its handlers
	// run; when full, reading from the connection pauses (back-pressure on
	// that connection only). Zero means 256.
	InboundQueue int
	// InboundBytes bounds the payload bytes (JSON text and binary
	// attachments) of the events queued for one socket, so that a client
	// flooding a slow handler with large events holds at most this much
	// (not InboundQueue × MaxPayload); reading pauses like for
	// InboundQueue. An event larger than the bound is still admitted into
	// an empty inbox. Zero means 2 × Engine.MaxPayload.
	InboundBytes int64
	// EventDeadline, when set, bounds how long an event may wait in its
	// socket's inbox: an event still queued ReceivedAt + EventDeadline
	// after it arrived (behind a handler that overruns) is taken out of
	// the queue, in arrival order, and handed to the namespace's
	// OnExpired handler instead of waiting for its turn — so it is
	// answered at its deadline, not when the worker gets to it. One timer
	// per inbox, armed only while events wait behind a running task; no
	// goroutine per event. Zero: events wait for their turn.
	EventDeadline time.Duration
	// MaxAttachments caps the binary attachments of one inbound packet.
	// Zero means 10 (Node's default).
	MaxAttachments int
	// Logger receives protocol logs. Nil discards.
	Logger *slog.Logger
	// Recovery turns on connection-state recovery (see the package doc)
	// in the namespaces whose adapter is a SessionAdapter; the default
	// adapter is then MemorySessionAdapter. Nil means off (as in Node).
	Recovery *RecoveryConfig
}

// AdapterFactory builds the adapter of one namespace. It may fail (a
// cluster adapter that cannot subscribe): Open and OfErr return the error
// for static namespaces; a dynamic namespace whose adapter fails is not
// created and the client is refused. It runs with Server locks held: it
// must not call back into the Server.
type AdapterFactory func(n *Namespace) (Adapter, error)

// Server is a Socket.IO v5 server. It is an http.Handler meant to be mounted
// at "/socket.io/".
type Server struct {
	cfg    Config
	log    *slog.Logger
	eng    *engine.Server
	ctx    context.Context // parent of every socket's context
	cancel context.CancelFunc

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	dynamic []dynamicNamespace
	clients map[*client]struct{}
	dynMu   sync.Mutex // serialises the creation of dynamic namespaces

	workers  *workpool.Pool[*inbox] // drain the sockets' inboxes (see inbox)
	closing  atomic.Bool
	draining chan struct{} // closed when Shutdown starts
	live     atomic.Int64  // sockets whose lifecycle has not finished
	shutOnce sync.Once
	obs      atomic.Pointer[observerRef] // see Observe
}

type dynamicNamespace struct {
	accept func(name string, auth json.RawMessage) bool
	setup  func(n *Namespace)
}

// New returns a Server. The main namespace "/" always exists. New panics
// if the adapter of "/" cannot be built: with an AdapterFactory that can
// fail, use Open.
func New(cfg Config) *Server {
	s, err := Open(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Open returns a Server and builds the adapter of its main namespace "/",
// returning the factory's error.
func Open(cfg Config) (*Server, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 45 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	if cfg.Recovery != nil {
		cfg.Recovery = cfg.Recovery.withDefaults()
	}
	switch {
	case cfg.Adapter != nil:
	case cfg.Recovery != nil:
		cfg.Adapter = func(n *Namespace) (Adapter, error) { return NewMemorySessionAdapter(n), nil }
	default:
		cfg.Adapter = func(n *Namespace) (Adapter, error) { return NewMemoryAdapter(n), nil }
	}
	if cfg.InboundQueue <= 0 {
		cfg.InboundQueue = 256
	}
	if cfg.InboundBytes <= 0 {
		maxPayload := cfg.Engine.MaxPayload
		if maxPayload <= 0 {
			maxPayload = 1e6 // the engine's default
		}
		cfg.InboundBytes = 2 * maxPayload
	}
	if cfg.MaxAttachments <= 0 {
		cfg.MaxAttachments = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Engine.Logger == nil {
		cfg.Engine.Logger = cfg.Logger
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		nsps:     make(map[string]*Namespace),
		clients:  make(map[*client]struct{}),
		draining: make(chan struct{}),
	}
	// A fresh goroutine starts on a 2 KB stack that encoding/json
	// outgrows: parked workers keep their grown stacks for the next
	// inbox instead of growing a new one for nearly every event.
	s.workers = workpool.New((*inbox).drain, workpool.Config{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.eng = engine.New(cfg.Engine, func(c *engine.Conn) {
		c.SetHandler(s.newClient(c))
	})
	if _, err := s.OfErr("/"); err != nil {
		s.cancel()
		s.workers.Close()
		return nil, err
	}
	return s, nil
}

// ServeHTTP serves Engine.IO requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

func normalizeNamespace(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return name
}

// Clients returns the number of open Engine.IO connections.
func (s *Server) Clients() int { return s.eng.Count() }

// Of returns the static namespace name, creating it on first use. It
// panics if the namespace's adapter cannot be built: with an
// AdapterFactory that can fail, create namespaces with OfErr at start-up.
func (s *Server) Of(name string) *Namespace {
	n, err := s.OfErr(name)
	if err != nil {
		panic(err)
	}
	return n
}

// OfErr returns the static namespace name, creating it (and its adapter)
// on first use; it returns the adapter factory's error, and a later call
// tries again.
func (s *Server) OfErr(name string) (*Namespace, error) {
	name = normalizeNamespace(name)
	s.mu.RLock()
	n := s.nsps[name]
	s.mu.RUnlock()
	if n != nil {
		return n, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n = s.nsps[name]; n != nil {
		return n, nil
	}
	n, err := s.newNamespace(name)
	if err != nil {
		return nil, err
	}
	s.nsps[name] = n
	return n, nil
}

// OfFunc registers a dynamic namespace: a client connecting to an unknown
// namespace name for which accept returns true gets a namespace created with
// that name; setup is called once for each namespace so created (to register
// middleware and connection handlers). accept runs on the connection's read
// path: it must be quick.
func (s *Server) OfFunc(accept func(name string, auth json.RawMessage) bool, setup func(n *Namespace)) {
	s.mu.Lock()
	s.dynamic = append(s.dynamic, dynamicNamespace{accept: accept, setup: setup})
	s.mu.Unlock()
}

// namespaceFor resolves the namespace a CONNECT packet asks for: a known one,
// or a dynamic one created now. It returns nil for an invalid namespace, and
// the adapter factory's error when a dynamic namespace cannot be created.
func (s *Server) namespaceFor(name string, auth json.RawMessage) (*Namespace, error) {
	s.mu.RLock()
	n := s.nsps[name]
	dyn := s.dynamic
	s.mu.RUnlock()
	if n != nil {
		return n, nil
	}
	for _, d := range dyn {
		if !d.accept(name, auth) {
			continue
		}
		// The namespace is published only after setup has registered its
		// middleware, so no socket connects to a half-configured namespace.
		s.dynMu.Lock()
		defer s.dynMu.Unlock()
		s.mu.RLock()
		n = s.nsps[name]
		s.mu.RUnlock()
		if n == nil {
			var err error
			if n, err = s.newNamespace(name); err != nil {
				return nil, err
			}
			d.setup(n)
			s.mu.Lock()
			s.nsps[name] = n
			s.mu.Unlock()
		}
		return n, nil
	}
	return nil, nil
}

// Shutdown drains the server within ctx, in an order that loses nothing
// the server accepted:
//
//  1. No new CONNECT is accepted, and the sockets' inboxes take no new
//     EVENT (the events already queued still run); waits for client acks
//     (Socket.EmitWithAck, broadcast EmitWithAck) end at once.
//  2. The running and queued handlers finish; their acks are queued on
//     the still open connections. Then each socket disconnects with
//     reason "server shutting down" (its Context is cancelled, its
//     disconnect handlers run) and, with recovery on, its session is
//     persisted: the client may recover it on another server.
//  3. The Engine.IO connections are closed (what is queued is flushed
//     first) with an Engine.IO close, not a Socket.IO DISCONNECT, so
//     clients reconnect (elsewhere, behind a load balancer).
//  4. The adapters are closed.
//
// When ctx ends first, the remaining sockets are closed at once and the
// error says how many were still disconnecting. It is idempotent. Do not
// call it from an event handler (it would wait for ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	var engErr error
	s.shutOnce.Do(func() {
		s.closing.Store(true)
		close(s.draining)
		for _, c := range s.clientList() {
			c.drainSockets(ReasonServerShuttingDown)
		}
		left := s.waitSockets(ctx)
		if left > 0 {
			for _, c := range s.clientList() {
				c.closeSockets(ReasonServerShuttingDown)
			}
		}
		if err := s.eng.Shutdown(ctx); err != nil {
			engErr = fmt.Errorf("socketio: shutdown engine: %w", err)
		}
		s.cancel()
	})
	if n := s.waitSockets(ctx); n > 0 {
		s.workers.Close()
		return fmt.Errorf("socketio: shutdown: %d sockets still disconnecting: %w", n, ctx.Err())
	}
	s.workers.Close()
	var errs []error
	if engErr != nil {
		errs = append(errs, engErr)
	}
	s.mu.RLock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.RUnlock()
	for _, n := range nsps {
		if err := n.closeAdapter(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) clientList() []*client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	return clients
}

// waitSockets waits until every socket's lifecycle has finished (its
// disconnect handlers ran) or ctx ends; it returns how many remain.
func (s *Server) waitSockets(ctx context.Context) int64 {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.live.Load() > 0 {
		select {
		case <-ctx.Done():
			return s.live.Load()
		case <-t.C:
		}
	}
	return 0
}

// newClient is the Engine.IO connection hook.
func (s *Server) newClient(c engineConn) *client {
	cl := newClient(s, c)
	s.observeConnOpened()
	s.mu.Lock()
	s.clients[cl] = struct{}{}
	s.mu.Unlock()
	return cl
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// newID returns a socket id like Node's: 15 random bytes, base64url, 20 characters.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
