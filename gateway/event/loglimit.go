package event

import (
	"sync"
	"time"
)

// LogLimiter keeps refusals that clients can repeat at will (a page on a
// foreign origin retrying its handshake, a client with a stale token) from
// flooding the log: at most one line per key per period, the next line
// telling how many were suppressed. It is safe for concurrent use.
//
// Keys come from clients (an Origin header), so their number is bounded:
// once maxKeys keys are recent, every further key shares one overflow key.
type LogLimiter struct {
	period time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*logKey
}

type logKey struct {
	last       time.Time // when a line was last let through
	suppressed int       // lines refused since
}

// logLimitMaxKeys bounds the keys a LogLimiter remembers.
const logLimitMaxKeys = 1024

// logLimitOverflow is the key of every key beyond logLimitMaxKeys.
const logLimitOverflow = "\x00overflow"

// NewLogLimiter returns a limiter letting one line per key through every
// period (zero means one minute). now is the clock; nil means time.Now.
func NewLogLimiter(period time.Duration, now func() time.Time) *LogLimiter {
	if period <= 0 {
		period = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &LogLimiter{period: period, now: now, keys: map[string]*logKey{}}
}

// Allow reports whether a line for key may be logged now and, when it may,
// how many lines for key were suppressed since the previous one.
func (l *LogLimiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= logLimitMaxKeys {
			l.prune(now)
		}
		if len(l.keys) >= logLimitMaxKeys {
			return l.allowOverflow(now)
		}
		l.keys[key] = &logKey{last: now}
		return true, 0
	}
	return k.allow(now, l.period)
}

func (k *logKey) allow(now time.Time, period time.Duration) (bool, int) {
	if now.Sub(k.last) < period {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	return true, n
}

// allowOverflow counts a line of a key that did not fit under the shared
// overflow key, which is never pruned while the map is full.
func (l *LogLimiter) allowOverflow(now time.Time) (bool, int) {
	k := l.keys[logLimitOverflow]
	if k == nil {
		// Replace one key to make room: any will do, the map is full of
		// keys that logged within the period.
		for victim := range l.keys {
			delete(l.keys, victim)
			break
		}
		l.keys[logLimitOverflow] = &logKey{last: now}
		return true, 0
	}
	return k.allow(now, l.period)
}

// prune forgets the keys whose period is over (their suppressed count is
// lost: the price of bounded memory).
func (l *LogLimiter) prune(now time.Time) {
	for key, k := range l.keys {
		if now.Sub(k.last) >= l.period {
			delete(l.keys, key)
		}
	}
}
