package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
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
}

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "sockgate:rl"

// Limiter counts events per (rule, key) in fixed windows with
// ulule/limiter/v3. It is safe for concurrent use.
type Limiter struct {
	rules    map[string]Rule
	limiters map[string]*limiter.Limiter // by rule name, limited rules only
	now      func() time.Time
	log      *slog.Logger
}

// New builds a Limiter. With Config.Redis it loads ulule's Lua scripts into
// Redis, so an unreachable Redis is an error here rather than on the first
// event. Rules with a positive Limit need a positive Period.
func New(cfg Config) (*Limiter, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	l := &Limiter{
		rules:    make(map[string]Rule, len(cfg.Rules)),
		limiters: make(map[string]*limiter.Limiter, len(cfg.Rules)),
		now:      time.Now,
		log:      log,
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
	opts := limiter.StoreOptions{Prefix: prefix, CleanUpInterval: limiter.DefaultCleanUpInterval}
	if cfg.Redis != nil {
		var err error
		if store, err = redisstore.NewStoreWithOptions(cfg.Redis, opts); err != nil {
			return nil, fmt.Errorf("ratelimit: redis store: %w", err)
		}
		log.Info("rate limits shared through redis", "prefix", prefix, "rules", len(l.rules))
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

// Rule returns the named rule; ok is false when no such rule is configured.
func (l *Limiter) Rule(name string) (Rule, bool) {
	r, ok := l.rules[name]
	return r, ok
}

// Allow counts one event for key under rule. It returns the window state, and
// a *LimitedError when the event is over the limit (the refused event still
// counts: a client hammering a closed window does not get a new one sooner).
// An unknown or unlimited rule always allows and returns a zero Result. A
// store failure (Redis down) is returned as is, wrapped; the caller decides
// whether to fail open or closed.
func (l *Limiter) Allow(ctx context.Context, rule, key string) (Result, error) {
	lim, ok := l.limiters[rule]
	if !ok {
		return Result{}, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	// "|" keeps rule names (which contain ':' and ' ') apart from keys.
	c, err := lim.Get(ctx, rule+"|"+key)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: %s: %w", rule, err)
	}
	now := l.now()
	reset, retry := resetOf(c.Reset, now, lim.Rate.Period)
	res := Result{Limit: c.Limit, Remaining: c.Remaining, Reset: reset}
	if c.Reached {
		return res, &LimitedError{Rule: rule, Limit: c.Limit, RetryAfter: retry, Reset: reset}
	}
	return res, nil
}

// resetOf turns ulule's reset (Unix seconds, truncated) into a time and a
// wait. The true reset lies in [s, s+1s); taking the end of that second means
// a client told to wait is never refused again for waiting too little. The
// wait is capped at the period, which the window cannot outlast.
func resetOf(unix int64, now time.Time, period time.Duration) (time.Time, time.Duration) {
	reset := time.Unix(unix+1, 0)
	if latest := now.Add(period); reset.After(latest) {
		reset = latest
	}
	retry := reset.Sub(now)
	if retry < time.Millisecond {
		retry = time.Millisecond
		reset = now.Add(retry)
	}
	return reset, retry
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
