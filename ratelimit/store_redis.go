package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/common"
)

// redisStore is a limiter.Store (ulule's interface, so ulule's Limiter still
// does the window arithmetic) whose counting script refuses to count for a
// caller that has already given up.
//
// Why not ulule's own Redis store: it sends one EVALSHA of
// INCRBY key 1 (+ PEXPIRE on the first hit) and waits. When Redis hangs
// (SIGSTOP, a long fork, a saturated host) go-redis abandons the call at the
// context's deadline and closes the connection, but the command is already
// in the server's socket buffer: when Redis resumes it reads and runs every
// such INCRBY, from every instance, in the same window. Each of those events
// was refused (fail closed) or let through unchecked (fail open) and then
// counted anyway, and a client well under its limit is refused
// `rate_limited` for the rest of the window. go-redis retries (MaxRetries)
// multiply the stale hits. A failed INCR must not be a hit.
//
// So the script is sent with the caller's deadline, translated to Redis's
// clock, and compares it with TIME before INCR: a command Redis only gets to
// after the caller's deadline changes nothing and answers {-1}. The offset
// between our clock and Redis's is measured at New and refreshed from every
// quick answer (the script returns TIME), so the check does not depend on
// the clocks agreeing; its error is half the round trip of the sample.
type redisStore struct {
	rdb    redis.Scripter
	prefix string
	// offset is Redis's clock minus ours, in nanoseconds, from the last
	// answer whose round trip was under maxSampleRTT.
	offset atomic.Int64
}

// maxSampleRTT is the slowest round trip whose Redis TIME still updates the
// clock offset (its error is at most half of it).
const maxSampleRTT = 20 * time.Millisecond

// countScript counts one hit on KEYS[1] in a fixed window of ARGV[1] ms
// unless Redis's clock is past ARGV[2] (ms since the epoch, Redis's clock):
// then it answers {-1, 0, now} and counts nothing. It answers {count, pttl,
// now}. A counter without a TTL (which ulule's script can leave if PEXPIRE
// is ever lost) gets the window's.
var countScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[2]) then
	return {-1, 0, now}
end
local n = redis.call("INCR", KEYS[1])
local ttl = redis.call("PTTL", KEYS[1])
if n == 1 or ttl < 0 then
	redis.call("PEXPIRE", KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl, now}
`)

// errTooLate reports that Redis got to a count only after its caller's
// deadline, so it counted nothing.
var errTooLate = errors.New("ratelimit: redis answered after the deadline; not counted")

// newRedisStore loads the script and measures the clock offset within ctx.
func newRedisStore(ctx context.Context, rdb redis.UniversalClient, prefix string) (*redisStore, error) {
	s := &redisStore{rdb: rdb, prefix: prefix}
	if err := countScript.Load(ctx, rdb).Err(); err != nil {
		return nil, fmt.Errorf("ratelimit: redis: load script: %w", err)
	}
	t0 := time.Now()
	rt, err := rdb.Time(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: time: %w", err)
	}
	s.sample(t0, time.Now(), rt.UnixMilli(), true)
	return s, nil
}

// sample records Redis's clock (ms) seen in a round trip from t0 to t1.
func (s *redisStore) sample(t0, t1 time.Time, redisMS int64, force bool) {
	rtt := t1.Sub(t0)
	if !force && rtt > maxSampleRTT {
		return
	}
	mid := t0.Add(rtt / 2)
	s.offset.Store(time.UnixMilli(redisMS).Sub(mid).Nanoseconds())
}

// Get counts one hit for key if Redis gets to it before ctx's deadline.
func (s *redisStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(rate.Period)
	}
	redisDeadline := deadline.Add(time.Duration(s.offset.Load()))
	t0 := time.Now()
	v, err := countScript.Run(ctx, s.rdb, []string{s.prefix + ":" + key},
		rate.Period.Milliseconds(), redisDeadline.UnixMilli()).Int64Slice()
	if err != nil {
		return limiter.Context{}, err
	}
	t1 := time.Now()
	if len(v) != 3 {
		return limiter.Context{}, fmt.Errorf("ratelimit: redis: script answered %v", v)
	}
	s.sample(t0, t1, v[2], false)
	if v[0] < 0 {
		return limiter.Context{}, errTooLate
	}
	return common.GetContextFromState(t1, rate, t1.Add(time.Duration(v[1])*time.Millisecond), v[0]), nil
}

// Peek, Reset and Increment are not used by Limiter; they exist to satisfy
// limiter.Store and refuse.
func (s *redisStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.ErrUnsupported
}

func (s *redisStore) Reset(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.ErrUnsupported
}

func (s *redisStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.ErrUnsupported
}

var _ limiter.Store = (*redisStore)(nil)
