package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
	"golang.org/x/crypto/bcrypt"
)

// Namespace is the admin namespace, the UI's default.
const Namespace = "/admin"

// Mode selects what the admin namespace sends.
type Mode string

// Modes, as @socket.io/admin-ui names them.
const (
	// Development (the default) sends stats plus the sockets, rooms and
	// events: the UI's Sockets, Rooms, Clients and Events pages.
	Development Mode = "development"
	// Production sends only the configuration and the server stats.
	Production Mode = "production"
)

// ParseMode parses "development" or "production" ("" means development).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Development:
		return Development, nil
	case Production:
		return Production, nil
	}
	return "", fmt.Errorf("admin: mode must be development or production, not %q", s)
}

// Config enables and tunes the admin namespace.
type Config struct {
	// User and PasswordHash are the operator's credentials: a bcrypt hash
	// ($2a$, $2b$ or $2y$), as the Node package takes it. Both required.
	User, PasswordHash string
	// Mode is Development when empty.
	Mode Mode
	// AllowProtected lets the UI's join, leave and emit actions touch
	// protected rooms (chat:*, user:*, socket id rooms); they are still
	// logged, at Warn. False refuses them.
	AllowProtected bool
	// ServerID names this instance in the UI's server list. Empty means
	// the host name, with "#pid" appended.
	ServerID string
	// StatsPeriod is the server_stats period. Zero means 2s (Node's).
	StatsPeriod time.Duration
	// SessionTTL is how long a session id stays valid. Zero means 24h
	// (the Node package's RedisStore).
	SessionTTL time.Duration
	// Timeout bounds each cluster operation an action or a login starts
	// (fetching sockets, joining...). Zero means 5s.
	Timeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address (logs and the login rate limit), as the gateway's.
	TrustedProxies []netip.Prefix
	// Logger receives the audit log of admin actions. Nil discards.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Check reports what is wrong with cfg (an invalid hash makes Node's
// instrument() throw; we refuse it at start too).
func (cfg Config) Check() error {
	var errs []error
	if cfg.User == "" {
		errs = append(errs, errors.New("admin: a user name is required"))
	}
	if _, err := bcrypt.Cost([]byte(cfg.PasswordHash)); err != nil {
		errs = append(errs, fmt.Errorf("admin: the password hash must be a valid bcrypt hash: %w", err))
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RateRules are the admin namespace's limits: login attempts per client
// address (each costs a bcrypt comparison).
func RateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{"/admin:login": {Limit: 10, Period: time.Minute}}
}

// Admin is the server side of @socket.io/admin-ui on namespace /admin.
type Admin struct {
	cfg      Config
	log      *slog.Logger
	p        *event.Pipeline
	io       *socketio.Server
	ns       *socketio.Namespace
	sessions sessions
	stats    counters
	started  time.Time
	hostname string
	login    chan struct{} // bounds concurrent bcrypt comparisons

	mu         sync.Mutex
	transports map[*socketio.Socket]string // local sockets' last transport seen (development)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New installs the admin namespace on io: its authentication, its actions,
// the observer of every namespace (development mode) and the stats timer.
// p provides the logs of refusals and the login rate limit.
func New(p *event.Pipeline, io *socketio.Server, cfg Config) (*Admin, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	ns, err := io.OfErr(Namespace)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	a := &Admin{
		cfg: cfg, log: cfg.Logger, p: p, io: io, ns: ns,
		sessions: newSessions(cfg.PasswordHash, cfg.SessionTTL, cfg.Now),
		started:  cfg.Now(), hostname: host, login: make(chan struct{}, 2),
		transports: make(map[*socketio.Socket]string),
	}
	if a.cfg.ServerID == "" {
		a.cfg.ServerID = host + "#" + strconv.Itoa(os.Getpid())
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	ns.Use(a.authenticate)
	ns.OnConnection(a.onConnection)
	if cfg.Mode == Development {
		io.Observe(observer{a})
	} else {
		io.Observe(counterObserver{&a.stats})
	}
	a.wg.Add(1)
	go a.emitStats()
	a.log.Info("admin UI namespace enabled", "ns", Namespace, "mode", cfg.Mode, "server_id", a.cfg.ServerID, "allow_protected", cfg.AllowProtected)
	return a, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Mode == "" {
		cfg.Mode = Development
	}
	if cfg.StatsPeriod <= 0 {
		cfg.StatsPeriod = 2 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Close stops the stats timer and the observer; the Socket.IO server
// disconnects the admin sockets itself. It obeys ctx.
func (a *Admin) Close(ctx context.Context) error {
	a.once.Do(func() {
		a.io.Observe(nil)
		a.cancel()
	})
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("admin: close: %w", ctx.Err())
	}
}

// emitStats sends server_stats every StatsPeriod, and once at start.
func (a *Admin) emitStats() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.StatsPeriod)
	defer t.Stop()
	for {
		a.broadcast("server_stats", a.serverStats(true))
		if a.cfg.Mode == Development {
			a.transportUpdates()
		}
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// broadcast emits to every admin socket of the cluster (through the
// adapter, as Node's adminNamespace.emit).
func (a *Admin) broadcast(ev string, args ...any) {
	if err := a.ns.Emit(ev, args...); err != nil {
		a.log.Debug("admin: broadcast failed", "event", ev, "err", err)
	}
}
