package ratelimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// Rule allows Limit events per Period for one key.
type Rule struct {
	// Limit is the number of events allowed per Period; <= 0 means unlimited.
	Limit int64
	// Period is the length of the fixed window.
	Period time.Duration
}

// Config configures a Limiter.
type Config struct {
	// Rules by name, e.g. "/:chat", "/chat:sendMessage", "http:GET /chats",
	// "connect". A name not listed is unlimited.
	Rules map[string]Rule
	// Redis, when set, holds the counters so every instance sharing the
	// server shares the limits (SPEC §9). Nil means an in-memory store: limits
	// are then per process.
	Redis redis.UniversalClient
	// Prefix starts every counter key; zero means DefaultPrefix.
	Prefix string
	// Logger receives construction details; nil discards.
	Logger *slog.Logger
	// Timeout bounds every store call: its deadline is the earlier of the
	// caller's and now+Timeout, so a hung Redis costs an event at most this.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Cooldown is how long, after a store call failed, Allow fails at once
	// (ErrUnavailable, no store access) before one call probes the store
	// again; events queued behind a hung Redis are then not each delayed by
	// Timeout. Zero means DefaultCooldown.
	Cooldown time.Duration
	// Failure is what the gateway does when a limit cannot be checked; the
	// Limiter only reports it (Failure). Zero means FailOpen.
	Failure FailureMode
}

// Defaults of Config.
const (
	DefaultPrefix   = "sockgate:rl"
	DefaultTimeout  = 250 * time.Millisecond
	DefaultCooldown = 500 * time.Millisecond
)

// FailureMode is the policy for an event whose limit cannot be checked
// because the store does not answer in time.
type FailureMode string

// Failure modes.
const (
	// FailOpen lets the event through unchecked (logged and counted by the
	// caller): a Redis outage then costs the limits, not the service.
	FailOpen FailureMode = "open"
	// FailClosed refuses it as unavailable (a retry may succeed).
	FailClosed FailureMode = "closed"
)

// ParseFailureMode parses "open" or "closed" ("" is FailOpen).
func ParseFailureMode(s string) (FailureMode, error) {
	switch FailureMode(s) {
	case "", FailOpen:
		return FailOpen, nil
	case FailClosed:
		return FailClosed, nil
	}
	return "", fmt.Errorf("ratelimit: failure mode must be open or closed, not %q", s)
}

// Limiter counts events per (rule, key) in fixed windows with
// ulule/limiter/v3. It is safe for concurrent use.
type Limiter struct {
	rules    map[string]Rule
	limiters map[string]*limiter.Limiter // by rule name, limited rules only
	now      func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	cooldown time.Duration
	failure  FailureMode

	// downUntil is 0 while the store answers; after a failure, the Unix
	// nanoseconds until which Allow fails at once. The first call after
	// it moves it forward (claiming the probe) and tries the store.
	downUntil atomic.Int64
}

// New builds a Limiter. With Config.Redis it loads its Lua script into
// Redis, so an unreachable Redis is an error here rather than on the first
// event. Rules with a positive Limit need a positive Period.
func New(cfg Config) (*Limiter, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prefix := cmp.Or(cfg.Prefix, DefaultPrefix)
	failure, err := ParseFailureMode(string(cfg.Failure))
	if err != nil {
		return nil, err
	}
	l := &Limiter{
		rules:    make(map[string]Rule, len(cfg.Rules)),
		limiters: make(map[string]*limiter.Limiter, len(cfg.Rules)),
		now:      time.Now,
		log:      log,
		timeout:  cmp.Or(cfg.Timeout, DefaultTimeout),
		cooldown: cmp.Or(cfg.Cooldown, DefaultCooldown),
		failure:  failure,
	}
	var errs []error
	for name, r := range cfg.Rules {
		if r.Limit > 0 && r.Period <= 0 {
			errs = append(errs, fmt.Errorf("ratelimit: rule %q: period must be positive", name))
		}
		l.rules[name] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var store limiter.Store
	opts := limiter.StoreOptions{Prefix: prefix, CleanUpInterval: cleanUpInterval(l.rules)}
	if cfg.Redis != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		if store, err = newRedisStore(ctx, cfg.Redis, prefix); err != nil {
			return nil, err
		}
		log.Info("rate limits shared through redis", "prefix", prefix, "rules", len(l.rules), "failure", failure, "timeout", l.timeout)
	} else {
		store = memory.NewStoreWithOptions(opts)
		log.Info("rate limits in memory (per instance)", "rules", len(l.rules))
	}
	for name, r := range l.rules {
		if r.Limit > 0 {
			l.limiters[name] = limiter.New(store, limiter.Rate{Limit: r.Limit, Period: r.Period})
		}
	}
	return l, nil
}

// cleanUpInterval is how often the memory store drops expired counters:
// every window has its own, so with ulule's 30 s a 1 s rule would keep 30
// of them per active key. Four of the shortest period, within [1s, 30s].
func cleanUpInterval(rules map[string]Rule) time.Duration {
	d := limiter.DefaultCleanUpInterval
	for _, r := range rules {
		if r.Limit > 0 {
			d = min(d, 4*r.Period)
		}
	}
	return max(d, time.Second)
}

// Rule returns the named rule; ok is false when no such rule is configured.
func (l *Limiter) Rule(name string) (Rule, bool) {
	r, ok := l.rules[name]
	return r, ok
}

// Failure is the configured policy for limits that cannot be checked.
func (l *Limiter) Failure() FailureMode { return l.failure }

// Allow counts one event arriving now; see AllowAt.
func (l *Limiter) Allow(ctx context.Context, rule, key string) (Result, error) {
	return l.AllowAt(ctx, rule, key, l.now())
}

// AllowAt counts one event for key under rule in the window of its arrival
// at, and returns that window's state, with a *LimitedError when the event
// is over the limit (the refused event still counts: a client hammering a
// closed window does not get more in it). An unknown or unlimited rule
// always allows and returns a zero Result.
//
// Windows are aligned to the period (windowOf), so an event that waited
// behind a slow handler before it is counted still counts where it arrived,
// not in the window of the backlog's release.
//
// The store call ends by the earlier of ctx's deadline and Config.Timeout.
// When it fails (Redis down, hung or slow), or within Config.Cooldown of a
// failure, AllowAt returns an error wrapping ErrUnavailable and nothing was
// counted; the caller applies Failure.
func (l *Limiter) AllowAt(ctx context.Context, rule, key string, at time.Time) (Result, error) {
	lim, ok := l.limiters[rule]
	if !ok {
		return Result{}, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if !l.mayTry() {
		return Result{}, fmt.Errorf("ratelimit: %s: %w (cooling down after a failure)", rule, ErrUnavailable)
	}
	n, end := windowOf(at, lim.Rate.Period)
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	// "|" keeps rule names (which contain ':' and ' ') apart from keys.
	c, err := lim.Get(cctx, rule+"|"+key+"|"+strconv.FormatInt(n, 10))
	cancel()
	if err != nil {
		if ctx.Err() == nil { // our store failed, not the caller who left
			l.downUntil.Store(l.now().Add(l.cooldown).UnixNano())
		}
		return Result{}, fmt.Errorf("ratelimit: %s: %w: %w", rule, ErrUnavailable, err)
	}
	l.downUntil.Store(0)
	retry := max(end.Sub(l.now()), time.Millisecond)
	res := Result{Limit: c.Limit, Remaining: c.Remaining, Reset: end}
	if c.Reached {
		return res, &LimitedError{Rule: rule, Limit: c.Limit, RetryAfter: retry, Reset: end}
	}
	return res, nil
}

// windowOf returns the number of the window of period that holds at
// (periods since the Unix epoch) and the window's end. The store's counter
// of a window lives a period from its first count, so it outlasts the
// window; an event counted later than that (one that waited longer than a
// period) finds a fresh counter, which errs towards allowing it.
func windowOf(at time.Time, period time.Duration) (int64, time.Time) {
	n := at.UnixNano() / int64(period)
	return n, time.Unix(0, (n+1)*int64(period))
}

// mayTry reports whether a store call may be made: always while the store
// answers; after a failure only once the cooldown has passed, and then for
// one caller at a time (it moves the cooldown forward by one timeout; its
// result ends or renews the cooldown).
func (l *Limiter) mayTry() bool {
	d := l.downUntil.Load()
	if d == 0 {
		return true
	}
	now := l.now()
	if now.UnixNano() < d {
		return false
	}
	return l.downUntil.CompareAndSwap(d, now.Add(l.timeout).UnixNano())
}

// Close releases the Limiter. The Redis client belongs to the caller and is
// not closed; the in-memory store's cleaner is stopped by ulule when the
// store is garbage collected.
func (l *Limiter) Close() error { return nil }

// Result is the window state after an event, for X-RateLimit-* headers.
type Result struct {
	// Limit is the rule's limit.
	Limit int64
	// Remaining is how many more events the window allows.
	Remaining int64
	// Reset is when the window ends.
	Reset time.Time
}

var _ io.Closer = (*Limiter)(nil)
