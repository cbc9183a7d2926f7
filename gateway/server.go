package gateway

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/engine"
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
	// CORSOrigins lists the origins allowed cross-origin requests (Socket.IO
	// polling and the REST API); "*" allows any. Empty means same-origin only.
	CORSOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// finding a client's address (rate-limit keys). Empty means none.
	TrustedProxies []netip.Prefix
	// StaticDir, when set, is served at "/" with SPA fallback to index.html
	// (never for /api* and /socket.io/*): e.g. the tutorial's built client.
	StaticDir string
	// ReadyChecks are run by GET /readyz, by name (e.g. "store", "redis");
	// any error makes the instance unready (503).
	ReadyChecks map[string]func(ctx context.Context) error
	// Adapter builds each namespace's Socket.IO adapter. Nil means in-memory
	// (single instance).
	Adapter socketio.AdapterFactory
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
	// Files holds attachment bytes (Files.Dir); required with a store.
	Files store.Files
	// MaxUpload caps one attachment, in bytes. Zero means 10 MiB.
	MaxUpload int64
	// UploadTypes are the media types attachments may have. Nil means the
	// chat API's default allow-list (http_attachments.go).
	UploadTypes []string
	// MaxReplay caps the missed messages replayed to one reconnecting
	// socket (recovery.go). Zero means 1000. Keep it well below the
	// Engine.IO send queue (4096 messages), which a replay fills at once.
	MaxReplay int
}

// Server is the chat application on the Socket.IO core: namespaces "/"
// (tutorial), "/rooms" and "/chat", the REST API, health and metrics. Use
// Handler to serve it and Shutdown to stop it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	lim     *ratelimit.Limiter
	io      *socketio.Server
	reg     registry
	metrics *metrics
	handler http.Handler

	// ctx is the parent of every event's context; cancelled by Shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	tutorial, rooms, chat *namespace

	// Stored chats (nil without a store): the "/chat" events and presence,
	// and the REST chat API.
	chats *chats
	api   *chatAPI

	shutOnce sync.Once
	shutErr  error
}

// DefaultRateRules are the rate limits applied unless configured otherwise
// (SPEC §7): the tutorial seed's "/:chat" 10/30s and "/:join_room" 5/60s,
// the lobby seed's 10 messages per second, and our choices elsewhere.
// Typing has its own rule so it cannot starve messages. Rule names are
// "<namespace>:<event>", "http:<METHOD> <route>" and "connect" (new
// Engine.IO sessions per IP).
//
// The stored chats add "/chat:join", "/chat:chat message" (10 per second,
// the lobby seed's rate) and "/chat:read" (ns_chat_chats.go; stored-chat
// typing shares "/chat:typing"), and the REST chat API one rule per route
// (http_chats.go).
func DefaultRateRules() map[string]ratelimit.Rule {
	r := map[string]ratelimit.Rule{
		"connect":                {Limit: 120, Period: time.Minute},
		"/:chat":                 {Limit: 10, Period: 30 * time.Second},
		"/:join_room":            {Limit: 5, Period: time.Minute},
		"/:kick_user":            {Limit: 20, Period: time.Minute},
		"/chat:joinChat":         {Limit: 10, Period: time.Minute},
		"/chat:sendMessage":      {Limit: 10, Period: time.Second},
		"/chat:typing":           {Limit: 20, Period: 10 * time.Second},
		"/rooms:joinRoom":        {Limit: 10, Period: time.Minute},
		"/rooms:leaveRoom":       {Limit: 10, Period: time.Minute},
		"/rooms:sendRoomMessage": {Limit: 10, Period: time.Second},
		"/rooms:getRoomMembers":  {Limit: 30, Period: time.Minute},
		"http:GET /api/rooms":    {Limit: 120, Period: time.Minute},
	}
	maps.Copy(r, chatRateRules())
	maps.Copy(r, chatAPIRateRules())
	return r
}

// New builds a Server.
//
// st and v may be nil. Without v (no JWT key configured) every socket is
// anonymous and Config.Auth must not require auth. Without st the stored
// chats are off: "/chat" keeps its anonymous lobby, its stored-chat events
// answer `unavailable`, and the REST chat API is not served. A store needs
// a verifier (stored chats belong to authenticated users) and Config.Files.
// lim may be nil (no rate limits, for tests and embedding). The lifetimes
// of st, v and lim are the caller's: Shutdown closes none of them.
func New(st *store.Store, v *auth.Verifier, lim *ratelimit.Limiter, cfg Config) (*Server, error) {
	return build(st, v, lim, cfg, nil)
}

// build is New with extra, when set, registering more middleware or events
// before the namespaces are attached (tests).
func build(st *store.Store, v *auth.Verifier, lim *ratelimit.Limiter, cfg Config, extra func(s *Server)) (*Server, error) {
	if err := checkChatsConfig(st, v, cfg); err != nil {
		return nil, err
	}
	if cfg.EventTimeout <= 0 {
		cfg.EventTimeout = 10 * time.Second
	}
	if cfg.MaxHTTPBufferSize <= 0 {
		cfg.MaxHTTPBufferSize = 1e6
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		lim:     lim,
		reg:     newMemoryRegistry(),
		metrics: newMetrics(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.io = socketio.New(socketio.Config{
		Engine: engine.Config{
			PingInterval: cfg.PingInterval,
			PingTimeout:  cfg.PingTimeout,
			MaxPayload:   cfg.MaxHTTPBufferSize,
			CORS:         engine.CORS{AllowedOrigins: cfg.CORSOrigins},
			AllowRequest: s.allowConnect,
			Logger:       cfg.Logger,
		},
		Adapter: cfg.Adapter,
		Logger:  cfg.Logger,
	})
	s.metrics.connectionsGauge(s.io.Clients)
	s.tutorial = s.namespace("/", styleTutorial)
	s.rooms = s.namespace("/rooms", styleObject)
	s.chat = s.namespace("/chat", styleObject)
	s.setupTutorial(s.tutorial)
	s.setupRooms(s.rooms)
	s.setupChat(s.chat)
	s.chats = s.enableChats(st, v, cfg.Auth, cfg.MaxReplay)
	if st != nil {
		api, err := newChatAPI(st, cfg.Files, v, lim, s.chats, chatAPIConfig{
			MaxUpload:      cfg.MaxUpload,
			AllowedTypes:   cfg.UploadTypes,
			TrustedProxies: cfg.TrustedProxies,
			TrustedOrigins: trustedOrigins(cfg.CORSOrigins),
			Logger:         cfg.Logger,
			Metrics:        s.metrics,
		})
		if err != nil {
			return nil, err
		}
		s.api = api
	}
	if extra != nil {
		extra(s)
	}
	for _, n := range []*namespace{s.tutorial, s.rooms, s.chat} {
		n.attach()
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the one http.Handler serving everything (SPEC §1).
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown disconnects every socket, cancels in-flight events and waits for
// the disconnect handlers, within ctx's deadline. The caller stops its
// http.Server first (which does not wait for WebSockets). Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		err := s.io.Shutdown(ctx)
		s.cancel()
		s.shutErr = err
	})
	if s.shutErr != nil && !errors.Is(s.shutErr, context.Canceled) {
		return s.shutErr
	}
	return nil
}

// allowConnect is the engine's AllowRequest hook: the per-IP limit on new
// Engine.IO sessions (rule "connect").
func (s *Server) allowConnect(r *http.Request) error {
	ip := ratelimit.ClientIP(r.RemoteAddr, r.Header, s.cfg.TrustedProxies)
	err := s.allow(r.Context(), "connect", ratelimit.Key("", ip))
	if err == nil {
		return nil
	}
	e, _ := replyOf(err)
	s.metrics.errors.WithLabelValues(e.Code).Inc()
	return statusError{err: err, status: statusOf(e.Code)}
}

// statusError gives the engine the HTTP status of a refused handshake.
type statusError struct {
	err    error
	status int
}

func (e statusError) Error() string   { return e.err.Error() }
func (e statusError) Unwrap() error   { return e.err }
func (e statusError) StatusCode() int { return e.status }
