package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/admin"
	"github.com/sockgate/sockgate/gateway/chats"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/gateway/internal/cluster"
	"github.com/sockgate/sockgate/gateway/lobby"
	"github.com/sockgate/sockgate/gateway/rooms"
	"github.com/sockgate/sockgate/gateway/tutorial"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/engine"
	sioredis "github.com/sockgate/sockgate/socketio/redis"
	"github.com/sockgate/sockgate/store"
)

// Config tunes a Server. Zero values select the defaults written beside them.
type Config struct {
	// EventTimeout bounds the handling of one event. Zero means 10s.
	EventTimeout time.Duration
	// MaxHTTPBufferSize caps one Socket.IO message (WebSocket frame or
	// polling POST body, Node's maxHttpBufferSize). Zero means 1e6 bytes.
	MaxHTTPBufferSize int64
	// MaxBodyBytes caps the body of every other HTTP request. Zero means 1 MiB.
	MaxBodyBytes int64
	// BodyTimeout bounds the reading of a request body, counted from the
	// request's arrival: a polling POST or a REST body slower than that is
	// cut (the engine answers 408; REST answers invalid_payload 400) and
	// its connection closed. Attachment uploads get BodyTimeout plus one
	// second per 64 KiB of MaxUpload. Zero means 10s.
	BodyTimeout time.Duration
	// WriteTimeout bounds one write to a Socket.IO client: a WebSocket
	// batch, a poll response. A client that reads nothing for that long is
	// disconnected ("write timeout"). Zero means 10s. (Attachment downloads
	// have chats.DownloadWriteTimeout per chunk.)
	WriteTimeout time.Duration
	// SendQueueBytes bounds the bytes queued for one Socket.IO connection
	// (engine.Config.SendQueueBytes): a client that falls further behind is
	// disconnected ("send queue overflow"). Zero means 4 MiB.
	SendQueueBytes int64
	// MaxConnsPerIP caps the open Engine.IO connections of one client
	// address (X-Forwarded-For from TrustedProxies only); beyond it a
	// handshake gets 429 with the reason. Zero means no cap.
	MaxConnsPerIP int
	// MaxConnsPerUser caps the connected sockets of one authenticated user
	// on this instance, every namespace counted; beyond it a namespace
	// CONNECT gets connect_error rate_limited with the reason. Zero means
	// no cap.
	MaxConnsPerUser int
	// CORSOrigins lists the origins allowed cross-origin requests (Socket.IO
	// polling and the REST API); "*" allows any. Empty means same-origin only.
	CORSOrigins []string
	// CORSCredentials sends Access-Control-Allow-Credentials: true to the
	// CORSOrigins (cookies and withCredentials from those sites). It cannot
	// be combined with "*".
	CORSCredentials bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// finding a client's address (rate-limit keys), and whose
	// X-Forwarded-Host / Forwarded host= name the site for the same-origin
	// check of cross-origin requests. Empty means none.
	TrustedProxies []netip.Prefix
	// StaticDir, when set, is served at "/" with SPA fallback to index.html
	// (never for /api* and /socket.io/*): e.g. the tutorial's built client.
	StaticDir string
	// ReadyChecks are run by GET /readyz, by name (e.g. "store", "redis");
	// any error makes the instance unready (503).
	ReadyChecks map[string]func(ctx context.Context) error
	// Adapter builds each namespace's Socket.IO adapter. Nil means the
	// Node-compatible Redis adapter (socketio/redis) on Config.Redis when
	// that is set, else in-memory (single instance).
	Adapter socketio.AdapterFactory
	// AdapterKey is the channel prefix of the Redis adapter (Node's key
	// option): servers, Node's included, share rooms when they share it.
	// Zero means "socket.io", Node's default.
	AdapterKey string
	// AdapterMode is the Redis adapter's format: "classic" (Node's
	// createAdapter, pub/sub on one Redis) or "sharded" (Node's
	// createShardedAdapter, sharded pub/sub on a Redis 7 Cluster; Redis
	// must then be a cluster client). Zero means classic.
	AdapterMode string
	// PingInterval and PingTimeout are Engine.IO's heartbeat. Zero means
	// 25s and 20s (Node's defaults).
	PingInterval, PingTimeout time.Duration
	// Logger receives the gateway's logs. Nil discards.
	Logger *slog.Logger
	// Now is the clock of timestamps sent to clients. Nil means time.Now.
	Now func() time.Time

	// Auth is the auth mode of each namespace, by name ("/", "/rooms",
	// "/chat"); a namespace not listed is AuthOptional. AuthRequired needs
	// a Verifier. Without a Verifier every socket is anonymous.
	Auth map[string]AuthMode
	// Attachments is where attachment bytes live: AttachmentsDB (the
	// store's database, read by every instance), AttachmentsDisk (Files).
	// Zero means AttachmentsAuto: the database on PostgreSQL, the disk on
	// SQLite.
	Attachments AttachmentStore
	// Files holds attachment bytes (Files.Dir) when they live on disk;
	// required then.
	Files store.Files
	// MaxUpload caps one attachment, in bytes. Zero means 10 MiB.
	MaxUpload int64
	// UploadTypes are the media types attachments may have. Nil means the
	// chat API's default allow-list (chats.APIConfig.AllowedTypes).
	UploadTypes []string
	// MaxReplay caps the missed messages replayed to one reconnecting
	// socket (chats.Config.MaxReplay). Zero means 1000.
	MaxReplay int
	// ConnectConcurrency bounds the "/chat" connection hooks running at
	// once (chats.Config.ConnectConcurrency). Zero means half the CPUs.
	ConnectConcurrency int

	// Redis, when set, holds the application state every instance of a
	// cluster shares (SPEC §9): the tutorial's room registry and "/chat"
	// presence. Nil means this process's memory (a single instance). The
	// caller owns the client and closes it after Shutdown; it should be
	// built to honour context deadlines.
	Redis redis.UniversalClient
	// RedisPrefix starts the keys of that state ("<prefix>:{tutorial}:…",
	// "<prefix>:{presence}:…"); no braces. Zero means "sockgate".
	RedisPrefix string
	// InstanceID names this instance in the shared state. Zero means a
	// random id, which is what a deployment wants: two live instances
	// must never share one.
	InstanceID string
	// ClusterHeartbeat is how often the instance tells Redis it is alive;
	// ClusterTTL is how long after its last heartbeat the state of an
	// instance that stopped (SIGKILL, lost Redis) expires. Zero means
	// 5s and 15s; ClusterTTL must exceed ClusterHeartbeat.
	ClusterHeartbeat, ClusterTTL time.Duration

	// Recovery turns on Socket.IO connection-state recovery (Node's
	// connectionStateRecovery; package socketio) on every namespace: a
	// client cut off for at most MaxDisconnectionDuration comes back with
	// its socket id, rooms and the packets it missed. Nil means off, as in
	// Node. In memory on one instance; with the Redis adapter's streams
	// mode, across instances.
	Recovery *socketio.RecoveryConfig

	// Admin enables the Socket.IO Admin UI namespace "/admin" when its
	// User or PasswordHash is set (package admin); zero disables it.
	Admin admin.Config
}

// Server is the chat application on the Socket.IO core: it builds each
// product with its dependencies on one event pipeline and serves them
// behind one http.Handler. Use Handler to serve it and Shutdown to stop it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	io      *socketio.Server
	p       *event.Pipeline
	metrics *event.Metrics
	handler http.Handler
	// restCORS is the cross-origin policy of the REST API: the engine's
	// type, with what REST responses need (rate-limit headers readable,
	// the methods and headers of the routes).
	restCORS engine.CORS

	root, rooms, chat *event.Namespace

	tutorial *tutorial.Tutorial
	lobby    *lobby.Lobby
	chats    *chats.Chats // nil without a store
	admin    *admin.Admin // nil unless Config.Admin is set
	api      *chats.API   // nil without a store

	shutOnce sync.Once
	shutErr  error
}

// DefaultRateRules are the rate limits applied unless configured otherwise
// (SPEC §7): each product's own (the tutorial seed's "/:chat" 10/30s and
// "/:join_room" 5/60s, the lobby seed's 10 messages per second, our
// choices elsewhere) and "connect" (new Engine.IO sessions per IP). Rule
// names are "<namespace>:<event>", "http:<METHOD> <route>" and "connect".
//
// "nsconnect" counts namespace CONNECTs (every namespace, re-CONNECTs on
// one connection included) per user, else per connection: each costs an
// authentication, on "/chat" a user upsert and a missed-message replay.
func DefaultRateRules() map[string]ratelimit.Rule {
	r := map[string]ratelimit.Rule{
		"connect":   {Limit: 120, Period: time.Minute},
		"nsconnect": {Limit: 60, Period: time.Minute},
	}
	for _, rules := range []map[string]ratelimit.Rule{tutorial.RateRules(), rooms.RateRules(), lobby.RateRules(), chats.RateRules(), admin.RateRules()} {
		maps.Copy(r, rules)
	}
	return r
}

// New builds a Server.
//
// st and v may be nil. Without v (no JWT key configured) every socket is
// anonymous and Config.Auth must not require auth. Without st the stored
// chats are off: "/chat" keeps its anonymous lobby, its stored-chat events
// answer `unavailable`, and the REST chat API is not served. A store needs
// a verifier (stored chats belong to authenticated users) and, for
// attachments on disk, Config.Files.
// lim may be nil (no rate limits, for tests and embedding). The lifetimes
// of st, v and lim are the caller's: Shutdown closes none of them.
func New(st *store.Store, v *auth.Verifier, lim *ratelimit.Limiter, cfg Config) (*Server, error) {
	return build(st, v, lim, cfg, nil)
}

// build is New with extra, when set, registering more middleware or events
// before the namespaces are attached (tests).
func build(st *store.Store, v *auth.Verifier, lim *ratelimit.Limiter, cfg Config, extra func(s *Server)) (*Server, error) {
	if err := checkConfig(st, v, cfg); err != nil {
		return nil, err
	}
	s, err := newServer(lim, withDefaults(cfg))
	if err != nil {
		return nil, err
	}
	s.authenticate(v)
	s.limitConnects()
	s.tutorial = tutorial.New(s.root, s.metrics, s.cluster())
	if s.cfg.Redis != nil {
		s.log.Info("application state shared through redis", "instance", s.cfg.InstanceID, "prefix", s.cfg.RedisPrefix)
	}
	rooms.New(s.rooms)
	s.lobby = lobby.New(s.chat)
	if err := s.storedChats(st, v); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.EventTimeout)
		defer cancel()
		s.closeState(ctx)
		return nil, err
	}
	event.On(s.chat, "typing", "/chat:typing", s.typing)
	if extra != nil {
		extra(s)
	}
	for _, n := range []*event.Namespace{s.root, s.rooms, s.chat} {
		n.Attach()
	}
	if err := s.adminUI(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// adminUI installs the admin namespace when it is configured, after every
// other namespace exists (its observer sees them all).
func (s *Server) adminUI() (err error) {
	if !adminEnabled(s.cfg.Admin) {
		return nil
	}
	ac := s.cfg.Admin
	ac.TrustedProxies, ac.Logger = s.cfg.TrustedProxies, s.log
	if s.admin, err = admin.New(s.p, s.io, ac); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.EventTimeout)
		defer cancel()
		_ = s.io.Shutdown(ctx)
		s.closeState(ctx)
	}
	return err
}

func withDefaults(cfg Config) Config {
	if cfg.EventTimeout <= 0 {
		cfg.EventTimeout = 10 * time.Second
	}
	if cfg.MaxHTTPBufferSize <= 0 {
		cfg.MaxHTTPBufferSize = 1e6
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InstanceID == "" {
		// One id for every product's state, so that logs and keys agree.
		cfg.InstanceID = rand.Text()
	}
	return cfg
}

// newServer builds the Socket.IO server, the pipeline and the namespaces.
// With a Redis adapter, it fails when Redis cannot be subscribed.
func newServer(lim *ratelimit.Limiter, cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: event.NewMetrics(), restCORS: engine.CORS{
		AllowedOrigins:   cfg.CORSOrigins,
		AllowCredentials: cfg.CORSCredentials,
		ExposeHeaders:    []string{"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		AllowMethods:     []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
		AllowHeaders:     []string{"Authorization", "Content-Type"},
		MaxAge:           10 * time.Minute,
		TrustedProxies:   cfg.TrustedProxies,
	}}
	var (
		p        *event.Pipeline
		onRefuse func(r *http.Request, origin string, hosts []string) // set with p, before any request
	)
	ioCORS := engine.CORS{AllowedOrigins: cfg.CORSOrigins, AllowCredentials: cfg.CORSCredentials, TrustedProxies: cfg.TrustedProxies,
		ExposeHeaders: s.restCORS.ExposeHeaders, // a refused handshake's Retry-After, readable by the page
		OnRefuse:      func(r *http.Request, origin string, hosts []string) { onRefuse(r, origin, hosts) }}
	disconnects := newDisconnectCounter()
	s.metrics.Register(disconnects)
	io, err := socketio.Open(socketio.Config{
		Engine: engine.Config{
			PingInterval:   cfg.PingInterval,
			PingTimeout:    cfg.PingTimeout,
			MaxPayload:     cfg.MaxHTTPBufferSize,
			CORS:           ioCORS,
			AllowRequest:   func(r *http.Request) error { return handshakeRefusal(p.AllowConnect(r)) },
			Admit:          func(r *http.Request) func() { return p.AdmitHandshake(r) },
			WriteTimeout:   cfg.WriteTimeout,
			BodyTimeout:    cfg.BodyTimeout,
			SendQueueBytes: cfg.SendQueueBytes,
			MaxConnsPerIP:  cfg.MaxConnsPerIP,
			ClientIP:       func(r *http.Request) string { return p.ClientIP(r) },
			OnDisconnect:   disconnects.inc,
			Logger:         cfg.Logger,
		},
		Adapter:  adapterOf(cfg),
		Recovery: cfg.Recovery,
		// Events queued behind a handler that overruns are answered
		// (unavailable) at their own deadline (event.Namespace.expired).
		EventDeadline: cfg.EventTimeout,
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.io = io
	p = event.New(s.io, lim, s.metrics, event.Config{
		Timeout: cfg.EventTimeout, TrustedProxies: cfg.TrustedProxies, Logger: cfg.Logger, Now: cfg.Now,
	})
	s.p = p
	onRefuse = p.OriginRefused(engineRefusal, cfg.CORSOrigins)
	s.restCORS.OnRefuse = p.OriginRefused(restRefusal, cfg.CORSOrigins)
	s.metrics.ConnectionsGauge(s.io.Clients)
	if err := s.namespaces(); err != nil {
		_ = s.io.Shutdown(context.Background())
		return nil, err
	}
	s.metrics.Register(adapterStats{s.io, []string{"/", "/rooms", "/chat"}})
	return s, nil
}

// namespaces opens the three namespaces (their adapters subscribe).
func (s *Server) namespaces() (err error) {
	if s.root, err = s.p.Namespace("/", event.StyleTutorial); err != nil {
		return err
	}
	if s.rooms, err = s.p.Namespace("/rooms", event.StyleObject); err != nil {
		return err
	}
	s.chat, err = s.p.Namespace("/chat", event.StyleObject)
	return err
}

// adapterOf is the Socket.IO adapter of cfg (see Config.Adapter).
func adapterOf(cfg Config) socketio.AdapterFactory {
	if cfg.Adapter != nil || cfg.Redis == nil {
		return cfg.Adapter
	}
	mode, _ := sioredis.ParseMode(cfg.AdapterMode) // checked by checkConfig
	return sioredis.NewAdapter(cfg.Redis, sioredis.Config{Key: cfg.AdapterKey, Mode: mode, Logger: cfg.Logger})
}

// What an origin refusal does, as logged: the engine answers 403; the REST
// API answers without CORS headers, and the browser hides the answer.
const (
	engineRefusal = "cross-origin Socket.IO request refused (403): origin not allowed"
	restRefusal   = "cross-origin REST request from an origin not allowed: answered without CORS headers, the browser blocks it"
)

// authenticate installs JWT authentication on every namespace (v non-nil),
// before any product's middleware.
func (s *Server) authenticate(v *auth.Verifier) {
	if v == nil {
		return
	}
	a := event.NewSocketAuth(v, s.cfg.Now)
	a.MaxPerUser = s.cfg.MaxConnsPerUser
	for _, n := range []*event.Namespace{s.root, s.rooms, s.chat} {
		a.Install(n, s.cfg.Auth[n.Name()] == AuthRequired)
	}
}

// limitConnects installs the "nsconnect" rate rule on every namespace,
// after authentication (it counts per user) and before any product's
// middleware (a refused CONNECT costs no store call).
func (s *Server) limitConnects() {
	for _, n := range []*event.Namespace{s.root, s.rooms, s.chat} {
		event.LimitConnects(n, "nsconnect")
	}
}

// cluster is where the products keep state shared by every instance.
func (s *Server) cluster() cluster.Config {
	return cluster.Config{
		Redis: s.cfg.Redis, Prefix: s.cfg.RedisPrefix, InstanceID: s.cfg.InstanceID,
		Heartbeat: s.cfg.ClusterHeartbeat, TTL: s.cfg.ClusterTTL,
	}
}

// storedChats builds the stored chats of "/chat" and their REST API, or
// registers their events as disabled without a store (or a verifier).
func (s *Server) storedChats(st *store.Store, v *auth.Verifier) error {
	if st == nil || v == nil {
		chats.Disable(s.chat)
		return nil
	}
	s.chats = chats.New(s.chat, st, chats.Config{MaxReplay: s.cfg.MaxReplay, ConnectConcurrency: s.cfg.ConnectConcurrency, Cluster: s.cluster()})
	api, err := chats.NewAPI(s.p, st, s.blobs(st), v, s.chats, chats.APIConfig{
		MaxUpload:      s.cfg.MaxUpload,
		AllowedTypes:   s.cfg.UploadTypes,
		TrustedOrigins: trustedOrigins(s.cfg.CORSOrigins),
	})
	s.api = api
	return err
}

// typingReq is "typing" on "/chat", which two products share: without
// chatId it is the lobby's indicator, with one it concerns a stored chat.
type typingReq struct {
	ChatID   *string `json:"chatId,omitempty"`
	IsTyping bool    `json:"isTyping"`
}

func (s *Server) typing(ctx context.Context, c *event.Client, req typingReq) (event.OK, error) {
	if req.ChatID == nil {
		return s.lobby.Typing(ctx, c, req.IsTyping)
	}
	if s.chats == nil {
		return event.OK{}, chats.ErrDisabled
	}
	return s.chats.Typing(ctx, c, *req.ChatID, req.IsTyping)
}

// Handler returns the one http.Handler serving everything (SPEC §1).
func (s *Server) Handler() http.Handler { return s.handler }

// AcceptGate returns a gate that defers the accepting of new connections
// to the events while they flow; the caller wires it as its http.Server's
// listener and ConnState hook (event.AcceptGate).
func (s *Server) AcceptGate() *event.AcceptGate { return s.p.AcceptGate() }

// Shutdown disconnects every socket and waits for the running handlers and
// the disconnect handlers, within ctx's deadline; then it cancels the
// context of what still runs. Last, with Config.Redis, it stops the
// heartbeats of the shared state and removes what this instance still has
// there (see closeState). The caller stops its http.Server first (which
// does not wait for WebSockets). Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		if s.admin != nil {
			// First: no stats or observed events on adapters closing.
			_ = s.admin.Close(ctx) // only ctx's error: io's reports it too
		}
		err := s.io.Shutdown(ctx)
		s.p.Close()
		s.closeState(ctx)
		s.shutErr = err
	})
	if s.shutErr != nil && !errors.Is(s.shutErr, context.Canceled) {
		return s.shutErr
	}
	return nil
}

// closeState releases the products' shared state, within ctx. The
// disconnect handlers have normally removed this instance's sockets
// already; what a failure left behind is removed here, best effort: what
// cannot be removed expires after Config.ClusterTTL, so it is logged, not
// returned.
func (s *Server) closeState(ctx context.Context) {
	if err := s.tutorial.Close(ctx); err != nil {
		s.log.Warn("tutorial registry not cleaned up; it expires by itself", "instance", s.cfg.InstanceID, "err", err)
	}
	if s.chats == nil {
		return
	}
	if err := s.chats.Close(ctx); err != nil {
		s.log.Warn("presence not cleaned up; it expires by itself", "instance", s.cfg.InstanceID, "err", err)
	}
}
