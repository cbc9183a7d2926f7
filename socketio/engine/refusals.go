package engine

import (
	"log/slog"
	"sync"
	"time"
)

// refusalLog limits the log lines of refusals a client can repeat at will
// (handshakes over a cap or a rate limit): one line per reason and second,
// carrying "suppressed", the number held back since the previous one.
type refusalLog struct {
	mu   sync.Mutex
	last map[string]refusalEntry
}

type refusalEntry struct {
	at         time.Time
	suppressed int
}

// maxRefusalKeys bounds the reasons remembered (reasons are ours, few).
const maxRefusalKeys = 256

func (l *refusalLog) log(log *slog.Logger, key, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if l.last == nil || len(l.last) >= maxRefusalKeys {
		l.last = make(map[string]refusalEntry)
	}
	e, ok := l.last[key]
	if ok && now.Sub(e.at) < time.Second {
		e.suppressed++
		l.last[key] = e
		l.mu.Unlock()
		return
	}
	l.last[key] = refusalEntry{at: now}
	l.mu.Unlock()
	if e.suppressed > 0 {
		args = append(args, "suppressed", e.suppressed)
	}
	log.Info(msg, args...)
}
