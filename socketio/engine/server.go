package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/internal/workpool"
)

// Node's engine.io handshake error codes and messages.
const (
	codeUnknownTransport = 0
	codeUnknownSID       = 1
	codeBadHandshake     = 2
	codeBadRequest       = 3
	codeForbidden        = 4
	codeUnsupportedProto = 5
)

var errorMessages = [...]string{
	codeUnknownTransport: "Transport unknown",
	codeUnknownSID:       "Session ID unknown",
	codeBadHandshake:     "Bad handshake method",
	codeBadRequest:       "Bad request",
	codeForbidden:        "Forbidden",
	codeUnsupportedProto: "Unsupported protocol version",
}

// Server is an Engine.IO v4 server. It is an http.Handler meant to be
// mounted at the Engine.IO path (e.g. "/socket.io/" or "/engine.io/"); it
// does not look at the request path.
type Server struct {
	cfg       Config
	log       *slog.Logger
	onConnect func(c *Conn)

	writers     *workpool.Pool[writerJob] // WebSocket writers and flushers (writers.go)
	dirty       atomic.Pointer[Conn]      // connections waiting for a flusher, latest first (writers.go)
	flushers    atomic.Int32              // flushers running
	maxFlushers int32                     // GOMAXPROCS
	parking     idlePoller                // readers of idle WebSocket connections (idlepoll_linux.go)

	refusals refusalLog // handshake refusals, logged at most once a second per reason

	mu       sync.Mutex
	conns    map[string]*Conn
	perIP    map[string]int // sessions holding a MaxConnsPerIP slot, by client address
	shutdown bool
	running  int           // engine goroutines (readers, busy and parked writers, OnClose calls)
	idle     chan struct{} // closed when running drops to 0 and someone waits
}

// New returns a Server that calls onConnect for every new connection, before
// any of its messages is delivered. onConnect must call c.SetHandler.
func New(cfg Config, onConnect func(c *Conn)) *Server {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 20 * time.Second
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 1e6
	}
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = 10 * time.Second
	}
	if cfg.Transports == nil {
		cfg.Transports = []string{"polling", "websocket"}
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 4096
	}
	if cfg.SendQueueBytes <= 0 {
		cfg.SendQueueBytes = 4 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, onConnect: onConnect, conns: make(map[string]*Conn), perIP: make(map[string]int)}
	s.writers = newWriterPool(s)
	s.parking.s = s
	s.maxFlushers = int32(max(1, runtime.GOMAXPROCS(0)))
	return s
}

// Count returns the number of open connections.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting new sessions, closes every connection with reason
// "server shutting down" (queued messages are flushed when the transport can
// take them) and waits, until ctx ends, for the engine's goroutines and for
// every OnClose, including those of sessions whose OnMessage is running on
// a polling POST's request goroutine. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.writers.Close() // parked writers exit; busy ones when done
	s.parking.stop()  // parked readers resume on goroutines (waited for below)
	for _, c := range conns {
		c.closeWith(ReasonShutdown, true)
	}
	// Goroutines are started from request goroutines at any time, so a
	// sync.WaitGroup (whose Add from zero must happen before Wait) does
	// not fit: a counter under s.mu does.
	for {
		s.mu.Lock()
		if s.running == 0 && len(s.conns) == 0 {
			s.mu.Unlock()
			return nil
		}
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-time.After(10 * time.Millisecond): // polling sessions finishing
		case <-ctx.Done():
			s.mu.Lock()
			conns = conns[:0]
			for _, c := range s.conns {
				conns = append(conns, c)
			}
			s.mu.Unlock()
			for _, c := range conns {
				c.closeWith(ReasonShutdown, false)
				c.finish()
			}
			return ctx.Err()
		}
	}
}

// goTracked runs f on a goroutine that Shutdown waits for.
func (s *Server) goTracked(f func()) {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	go func() {
		defer s.trackedDone()
		f()
	}()
}

// trackedDone ends a goroutine started by goTracked.
func (s *Server) trackedDone() {
	s.mu.Lock()
	s.running--
	if s.running == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

func (s *Server) transportAllowed(t string) bool { return slices.Contains(s.cfg.Transports, t) }

func (s *Server) upgradesAllowed() bool {
	return !s.cfg.DisableUpgrades && s.transportAllowed("websocket")
}

// ServeHTTP serves one Engine.IO request: handshake, polling GET/POST or
// WebSocket (new session or upgrade).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	isWS := isWebSocketUpgrade(r)
	if !s.cfg.CORS.Allowed(r) {
		writeError(w, codeForbidden, http.StatusForbidden)
		return
	}
	if !isWS {
		// Like Node: the handshake response carries the session id and
		// poll responses are one-shot; no cache may store them.
		w.Header().Set("Cache-Control", "no-store")
	}
	if s.cfg.CORS.Apply(w, r) {
		return // a preflight, answered
	}
	if r.Method == http.MethodOptions && !isWS {
		// Not a CORS preflight (no Origin, same-origin, or no
		// Access-Control-Request-Method): nothing to do either.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" || !s.transportAllowed(transport) {
		writeError(w, codeUnknownTransport, http.StatusBadRequest)
		return
	}
	if q.Get("EIO") != "4" {
		writeError(w, codeUnsupportedProto, http.StatusBadRequest)
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if r.Method != http.MethodGet {
			writeError(w, codeBadHandshake, http.StatusBadRequest)
			return
		}
		if transport == "websocket" && !isWS {
			writeError(w, codeBadRequest, http.StatusBadRequest)
			return
		}
		s.handshake(w, r, transport, isWS)
		return
	}
	s.serveSession(w, r, sid, transport, isWS)
}

// serveSession serves a request of the existing session sid: a WebSocket
// upgrade, a polling GET or a polling POST.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, sid, transport string, isWS bool) {
	s.mu.Lock()
	c := s.conns[sid]
	s.mu.Unlock()
	if c == nil {
		writeError(w, codeUnknownSID, http.StatusBadRequest)
		return
	}
	if transport == "websocket" {
		if !isWS {
			writeError(w, codeBadRequest, http.StatusBadRequest)
			return
		}
		s.upgrade(w, r, c)
		return
	}
	if c.currentTransport() != "polling" {
		writeError(w, codeBadRequest, http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.servePoll(w, r)
	case http.MethodPost:
		c.serveData(w, r)
	default:
		writeError(w, codeBadRequest, http.StatusBadRequest)
	}
}

func (s *Server) handshake(w http.ResponseWriter, r *http.Request, transport string, isWS bool) {
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			s.refuse(w, r, err)
			return
		}
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusServiceUnavailable)
		return
	}
	s.mu.Unlock()
	if s.cfg.Admit != nil {
		defer s.cfg.Admit(r)()
	}

	sid := newSID()
	c := newConn(s, sid, r, transport)
	if err := s.reserveIP(c, r); err != nil {
		s.refuse(w, r, err)
		return
	}
	if transport == "websocket" {
		if !s.acceptWebSocket(w, r, c) {
			s.releaseIP(c)
			return
		}
		return
	}
	if !s.register(c) {
		s.releaseIP(c)
		writeError(w, codeBadRequest, http.StatusServiceUnavailable)
		return
	}
	// The open packet is the body of the handshake response.
	c.startHeartbeat()
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Write(s.openPacket(sid, s.upgradesAllowed()))
}

// refuse answers a refused handshake: the status, message and headers of
// a *HandshakeError (else 403, or the status of an error with
// StatusCode() int, and "Forbidden"), in Node's JSON body. The refusal is
// logged at Info, at most once a second per status (messages carry
// varying retry delays).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusForbidden, errorMessages[codeForbidden]
	var he *HandshakeError
	var sc interface{ StatusCode() int }
	switch {
	case errors.As(err, &he):
		if he.Status != 0 {
			status = he.Status
		}
		if he.Message != "" {
			msg = he.Message
		}
		for k, v := range he.Header {
			w.Header()[k] = v
		}
	case errors.As(err, &sc):
		status = sc.StatusCode()
	}
	s.refusals.log(s.log, strconv.Itoa(status), "engine: handshake refused", "status", status, "reason", msg,
		"ip", s.cfg.ClientIP(r), "err", err)
	writeErrorMessage(w, codeForbidden, status, msg)
}

// reserveIP takes one of the MaxConnsPerIP slots of c's client address,
// released by unregister (or releaseIP when the handshake fails first).
func (s *Server) reserveIP(c *Conn, r *http.Request) error {
	max := s.cfg.MaxConnsPerIP
	if max <= 0 {
		return nil
	}
	ip := s.cfg.ClientIP(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= max {
		return &HandshakeError{
			Status:  http.StatusTooManyRequests,
			Message: "Too many connections from this address (limit " + strconv.Itoa(max) + ")",
			Header:  http.Header{"Retry-After": {"10"}},
		}
	}
	s.perIP[ip]++
	c.ip = ip
	return nil
}

// releaseIP gives c's MaxConnsPerIP slot back (once).
func (s *Server) releaseIP(c *Conn) {
	s.mu.Lock()
	s.releaseIPLocked(c)
	s.mu.Unlock()
}

func (s *Server) releaseIPLocked(c *Conn) {
	if c.ip == "" {
		return
	}
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	c.ip = ""
}

// remoteHost is the host of r.RemoteAddr (the default ClientIP).
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// register adds c to the session table and runs onConnect.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return false
	}
	s.conns[c.id] = c
	s.mu.Unlock()
	if s.onConnect != nil {
		s.onConnect(c)
	}
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.releaseIPLocked(c)
	s.mu.Unlock()
}

type openPayload struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func (s *Server) openPacket(sid string, upgrades bool) []byte {
	p := openPayload{
		SID:          sid,
		Upgrades:     []string{},
		PingInterval: s.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.cfg.PingTimeout.Milliseconds(),
		MaxPayload:   s.cfg.MaxPayload,
	}
	if upgrades {
		p.Upgrades = []string{"websocket"}
	}
	b, _ := json.Marshal(p)
	return append([]byte{typeOpen}, b...)
}

// writeError writes Node's JSON error body.
func writeError(w http.ResponseWriter, code, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"code":` + strconv.Itoa(code) + `,"message":"` + errorMessages[code] + `"}`))
}

// writeErrorMessage writes Node's JSON error body with msg as its message
// (Node's abortRequest with an error context).
func writeErrorMessage(w http.ResponseWriter, code, status int, msg string) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// newSID returns a 20-character session id: 15 random bytes, base64url.
func newSID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
