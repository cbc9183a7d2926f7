package event

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// Config tunes a Pipeline. Zero values select the defaults written beside them.
type Config struct {
	// Timeout bounds the handling of one event. Zero means 10s.
	Timeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// finding a client's address (rate-limit keys). Empty means none.
	TrustedProxies []netip.Prefix
	// Logger receives the pipeline's logs. Nil discards.
	Logger *slog.Logger
	// Now is the clock of timestamps sent to clients. Nil means time.Now.
	Now func() time.Time
}

// Pipeline is what every product's events and routes go through: rate
// limits, decoding and validation, per-event contexts, and the one
// rendering of results and errors (acks, `exception`, HTTP bodies). The
// wiring builds one and hands each product the Namespace it serves.
type Pipeline struct {
	io      *socketio.Server
	lim     *ratelimit.Limiter // nil: no limits
	metrics *Metrics
	cfg     Config
	log     *slog.Logger
	// refusals limits the Info lines of refusals clients can repeat.
	refusals *LogLimiter

	// limiterLogged is when a limiter failure was last logged (Unix ns);
	// limiterSuppressed counts those not logged since.
	limiterLogged, limiterSuppressed atomic.Int64
	// handshakes admits the new sessions' handshakes that run at once
	// while events flow (AdmitHandshake).
	handshakes Slots
	// running counts the event handlers running now (Running); lastDone
	// is when the last one finished (Unix ns; Active).
	running, lastDone atomic.Int64

	// ctx is the parent of every event's context; cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// New builds a Pipeline on io. lim may be nil (no rate limits).
func New(io *socketio.Server, lim *ratelimit.Limiter, m *Metrics, cfg Config) *Pipeline {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pipeline{io: io, lim: lim, metrics: m, cfg: cfg, log: cfg.Logger, refusals: NewLogLimiter(time.Minute, nil),
		handshakes: make(Slots, max(1, runtime.GOMAXPROCS(0)/2))}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Now returns the clock's time.
func (p *Pipeline) Now() time.Time { return p.cfg.Now() }

// Logger returns the pipeline's logger.
func (p *Pipeline) Logger() *slog.Logger { return p.log }

// LogRefusal logs at Info a refusal that a client may repeat at will (a
// foreign origin, a bad token), at most once a minute per key: the line
// then carries "suppressed", the number held back since the previous one.
// Refusals are client mistakes, but the operator of a new deployment needs
// to see them once (SPEC §5: a refusal says why).
func (p *Pipeline) LogRefusal(key, msg string, args ...any) {
	ok, n := p.refusals.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	p.log.Info(msg, args...)
}

// maxLoggedOrigin bounds an Origin header as logged (clients choose it).
const maxLoggedOrigin = 200

// OriginRefused returns the engine.CORS OnRefuse hook of a policy allowing
// allowed: it logs (LogRefusal, once a minute per origin) the origin, the
// allowed list and the hosts a same-origin request would have named, so
// that the operator of a dev server on another port sees at once what to
// add to the configuration. msg says what the refusal does.
func (p *Pipeline) OriginRefused(msg string, allowed []string) func(r *http.Request, origin string, hosts []string) {
	list := strings.Join(allowed, ",")
	if list == "" {
		list = "(none: same origin only)"
	}
	return func(r *http.Request, origin string, hosts []string) {
		if len(origin) > maxLoggedOrigin {
			origin = origin[:maxLoggedOrigin] + "…"
		}
		p.LogRefusal("origin|"+origin, msg, "origin", origin, "allowed_origins", list,
			"same_origin_hosts", strings.Join(hosts, ","), "path", r.URL.Path, "ip", p.ClientIP(r))
	}
}

// Timeout is the deadline of one event.
func (p *Pipeline) Timeout() time.Duration { return p.cfg.Timeout }

// Running is the number of event handlers running now, on every namespace
// of the pipeline: background work (a reconnect's replay) defers to them.
func (p *Pipeline) Running() int64 { return p.running.Load() }

// Active reports whether an event handler is running or finished within
// recent. Background work defers to Active rather than Running: with one
// CPU a hook that is running is never beside a running event (they share
// the only P), and events arriving at a steady rate leave the pipeline idle
// between them, so Running is mostly 0 when a hook asks while the next
// event waits for the CPU the hook holds.
func (p *Pipeline) Active(recent time.Duration) bool {
	return p.running.Load() > 0 || time.Now().UnixNano()-p.lastDone.Load() < int64(recent)
}

// Context is the parent of the contexts of events and connection hooks.
func (p *Pipeline) Context() context.Context { return p.ctx }

// Close cancels the context of every event still running (after the
// Socket.IO server has drained).
func (p *Pipeline) Close() { p.cancel() }

// ClientIP is the address of r's client (X-Forwarded-For only from
// trusted proxies).
func (p *Pipeline) ClientIP(r *http.Request) string {
	return ratelimit.ClientIP(r.RemoteAddr, r.Header, p.cfg.TrustedProxies)
}

// Allow counts one request arriving now; see AllowAt.
func (p *Pipeline) Allow(ctx context.Context, rule, key string) (ratelimit.Result, error) {
	return p.AllowAt(ctx, rule, key, time.Now())
}

// AllowAt counts one request that arrived at under rule for key (in the
// limiter's window of that arrival, so events that waited in a socket's
// inbox do not crowd the window in which they run): the one place where
// events, routes and connections meet the rate limiter. rule "" (or a rule the
// limiter does not know) means no limit. A refusal is counted and returned
// as *ratelimit.LimitedError.
//
// A limit that cannot be checked (Redis down or slower than the limiter's
// timeout, 250ms by default, within ctx's deadline) follows the limiter's
// Failure: FailOpen allows the request, counted in
// sockgate_ratelimit_unchecked_total{rule}; FailClosed refuses it with
// ErrLimiterDown (`unavailable`: a retry may succeed). Either way it is
// logged at most once per second, with the number of others since.
func (p *Pipeline) AllowAt(ctx context.Context, rule, key string, at time.Time) (ratelimit.Result, error) {
	if p.lim == nil || rule == "" {
		return ratelimit.Result{}, nil
	}
	res, err := p.lim.AllowAt(ctx, rule, key, at)
	var le *ratelimit.LimitedError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &le):
		p.metrics.limitedBy.get(rule).Inc()
		return res, err
	case p.lim.Failure() == ratelimit.FailOpen:
		p.metrics.uncheckedBy.get(rule).Inc()
		p.logLimiterDown("rate limit not checked; allowed (fail open)", rule, err)
		return ratelimit.Result{}, nil
	default:
		p.logLimiterDown("rate limit not checked; refused (fail closed)", rule, err)
		return res, ErrLimiterDown
	}
}

// logLimiterDown logs a limiter failure, at most once per second: during an
// outage every event fails the same way.
func (p *Pipeline) logLimiterDown(msg, rule string, err error) {
	now := time.Now().UnixNano()
	last := p.limiterLogged.Load()
	if now-last < int64(time.Second) || !p.limiterLogged.CompareAndSwap(last, now) {
		p.limiterSuppressed.Add(1)
		return
	}
	p.log.Error(msg, "rule", rule, "err", err, "suppressed", p.limiterSuppressed.Swap(0))
}

// AllowConnect is the engine's AllowRequest hook: the per-IP limit on new
// Engine.IO sessions (rule "connect").
func (p *Pipeline) AllowConnect(r *http.Request) error {
	_, err := p.Allow(r.Context(), "connect", ratelimit.Key("", p.ClientIP(r)))
	if err == nil {
		return nil
	}
	e, _ := ReplyOf(err)
	p.metrics.errorsBy.get(e.Code).Inc()
	return statusError{err: err, status: StatusOf(e.Code)}
}

// statusError gives the engine the HTTP status of a refused handshake.
type statusError struct {
	err    error
	status int
}

func (e statusError) Error() string   { return e.err.Error() }
func (e statusError) Unwrap() error   { return e.err }
func (e statusError) StatusCode() int { return e.status }
