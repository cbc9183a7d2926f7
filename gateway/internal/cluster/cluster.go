// Package cluster is what the products share to keep their state in Redis
// when sockgate runs as several instances (SPEC §9): where the state lives
// (Config) and the heartbeat by which an instance vouches for its entries.
//
// Every product's entries record the instance that made them; each
// instance refreshes a key with a TTL every Config.Heartbeat. A product's
// scripts drop the entries of instances whose key has expired, so the state
// of an instance that dies (SIGKILL) or is cut off from Redis vanishes at
// most Config.TTL after its last refresh. Each product keeps its own
// heartbeat key beside its keys (one Redis Cluster hash slot per product).
package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultHeartbeat is Config.Heartbeat's default; with the default TTL
// (3 × 5 s) a killed instance's entries are gone within 15 s.
const DefaultHeartbeat = 5 * time.Second

// Config says where shared state lives. The zero value keeps it in this
// process's memory (a single instance).
type Config struct {
	// Redis, when set, keeps the state in Redis, shared by every instance.
	// The caller owns the client (it should honour context deadlines).
	Redis redis.UniversalClient
	// Prefix starts every key ("<prefix>:{tutorial}:…"); it must not
	// contain braces. Zero means "sockgate".
	Prefix string
	// InstanceID names this instance: each entry records it, and the
	// instance's heartbeat key vouches for it. Zero means a random id; two
	// live instances must never share one.
	InstanceID string
	// Heartbeat is how often the instance refreshes its heartbeat key.
	// Zero means DefaultHeartbeat.
	Heartbeat time.Duration
	// TTL is how long the key outlives the last refresh: the entries of an
	// instance that stops refreshing are dropped at most this long after.
	// Zero, or not above Heartbeat, means 3 × Heartbeat.
	TTL time.Duration
}

// WithDefaults applies the defaults documented on Config.
func (c Config) WithDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "sockgate"
	}
	if c.InstanceID == "" {
		c.InstanceID = rand.Text()
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.TTL <= c.Heartbeat {
		c.TTL = 3 * c.Heartbeat
	}
	return c
}

// Heartbeat keeps an instance's key alive: SET key PX ttl every period,
// from one goroutine that Stop ends and waits for.
type Heartbeat struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartHeartbeat refreshes key now and then every c.Heartbeat (c with its
// defaults applied). A refresh that finds the key gone (it expired while
// this instance could not reach Redis) is logged: other instances may have
// dropped this instance's entries meanwhile.
func StartHeartbeat(c Config, key string, log *slog.Logger) *Heartbeat {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Heartbeat{cancel: cancel, done: make(chan struct{})}
	go h.run(ctx, c, key, log)
	return h
}

func (h *Heartbeat) run(ctx context.Context, c Config, key string, log *slog.Logger) {
	defer close(h.done)
	tick := time.NewTicker(c.Heartbeat)
	defer tick.Stop()
	beaten := false // a beat succeeded before
	for {
		bctx, cancel := context.WithTimeout(ctx, c.Heartbeat)
		err := c.Redis.SetArgs(bctx, key, "1", redis.SetArgs{TTL: c.TTL, Get: true}).Err()
		cancel()
		switch {
		case errors.Is(err, redis.Nil) && beaten:
			log.Warn("cluster heartbeat lapsed; entries of this instance may have been dropped", "key", key)
		case err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil:
			log.Error("cluster heartbeat failed", "key", key, "err", err)
		}
		if err == nil || errors.Is(err, redis.Nil) {
			beaten = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Stop ends the heartbeat and waits for its goroutine. The key is left to
// expire (or to be deleted by the caller).
func (h *Heartbeat) Stop() {
	h.cancel()
	<-h.done
}

// Keyspace is one product's part of the shared state: its keys under
// "<prefix>:{<name>}" (one Redis Cluster slot), this instance's heartbeat
// there, and the one way to run the product's Lua scripts on it.
type Keyspace struct {
	rc    redis.UniversalClient
	base  string // "<prefix>:{<name>}"
	route string // KEYS[1] of every script: routes the call to the slot
	inst  string
	ttl   time.Duration
	hb    *Heartbeat

	closeOnce sync.Once
	closeErr  error
}

// NewKeyspace starts this instance's heartbeat in product name's keys (c
// with its defaults applied); route names the key (under the base) that
// every script gets as KEYS[1]. Close stops it.
func NewKeyspace(c Config, name, route string, log *slog.Logger) *Keyspace {
	base := c.Prefix + ":{" + name + "}"
	k := &Keyspace{rc: c.Redis, base: base, route: base + ":" + route, inst: c.InstanceID, ttl: c.TTL}
	k.hb = StartHeartbeat(c, base+":alive:"+c.InstanceID, log)
	return k
}

// Instance is this instance's id; TTL its heartbeat key's lifetime.
func (k *Keyspace) Instance() string   { return k.inst }
func (k *Keyspace) TTL() time.Duration { return k.ttl }

// Run runs s with KEYS[1] the route key and ARGV[1] the key base, then args.
func (k *Keyspace) Run(ctx context.Context, s *redis.Script, args ...any) *redis.Cmd {
	return s.Run(ctx, k.rc, []string{k.route}, append([]any{k.base}, args...)...)
}

// Close stops the heartbeat and runs purge (ARGV[2] = this instance) to
// remove this instance's entries at once, within ctx; what it cannot
// remove expires after the TTL. Idempotent.
func (k *Keyspace) Close(ctx context.Context, purge *redis.Script) error {
	k.closeOnce.Do(func() {
		k.hb.Stop()
		if err := k.Run(ctx, purge, k.inst).Err(); err != nil {
			k.closeErr = fmt.Errorf("cluster: remove instance %s from %s: %w", k.inst, k.base, err)
		}
	})
	return k.closeErr
}

// StopHeartbeat stops refreshing the heartbeat key without removing
// anything: the instance then looks dead to the others once the key
// expires (tests simulate a killed instance with it). Close still works.
func (k *Keyspace) StopHeartbeat() { k.hb.Stop() }
