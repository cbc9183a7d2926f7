package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// MemorySessionAdapter is the single-process SessionAdapter, the default
// adapter when Config.Recovery is set: a MemoryAdapter plus a log of the
// broadcasts that get offsets and the sessions of disconnected sockets, in
// memory (Node's SessionAwareAdapter).
//
//   - Offsets are "<epoch>-<n>": an epoch random per adapter (a client
//     coming back with an offset of another process or namespace gets a new
//     session, never a wrong replay) and a counter. Broadcast assigns them,
//     appends the packet to the log and delivers it under one mutex, so
//     every receiver gets the packets in offset order.
//   - The log keeps a packet for MaxDisconnectionDuration and within
//     MaxLogBytes in all (payload, attachments, rooms and ~200 B of
//     bookkeeping each): beyond either the oldest entries are dropped. A
//     session is kept for MaxDisconnectionDuration after its disconnect;
//     expired sessions and entries are swept by a timer armed while there
//     is something to sweep.
//   - Unlike Node (which refuses any offset no longer in the log), a
//     client whose offset is older than the log is still recovered when
//     every dropped entry after it was emitted at least the engine's
//     PingInterval+PingTimeout before the disconnection: the connection
//     was alive for a whole heartbeat after it, so the client received it.
//     A client idle for longer than MaxDisconnectionDuration before a short
//     disconnection recovers here, not in Node.
type MemorySessionAdapter struct {
	*MemoryAdapter
	maxAge   time.Duration
	maxBytes int64
	grace    time.Duration // see above: a heartbeat
	epoch    string
	now      func() time.Time // time.Now; a test's clock

	mu       sync.Mutex // offsets, log and local delivery of logged packets
	n        uint64     // last offset assigned
	entries  []logEntry // entries[head:] in offset order
	head     int
	bytes    int64
	pruned   uint64    // newest offset dropped from the log
	prunedAt time.Time // its emission time

	smu      sync.Mutex
	sessions map[string]memSession // by pid
	timer    *time.Timer
	armed    atomic.Bool // timer != nil
	closed   bool
}

type logEntry struct {
	n    uint64
	p    *parser.Packet
	opts BroadcastOptions
	at   time.Time
	size int64
}

type memSession struct {
	s  Session
	at time.Time // disconnection
}

var _ SessionAdapter = (*MemorySessionAdapter)(nil)

// logEntryOverhead is what an entry costs beyond its payload and rooms.
const logEntryOverhead = 200

// NewMemorySessionAdapter returns the in-memory session adapter of n (its
// server's Config.Recovery, or the defaults, set the bounds).
func NewMemorySessionAdapter(n *Namespace) *MemorySessionAdapter {
	rc := RecoveryConfig{}
	if n.srv.cfg.Recovery != nil {
		rc = *n.srv.cfg.Recovery
	}
	cfg := rc.withDefaults()
	ec := n.srv.cfg.Engine
	grace := max(ec.PingInterval, 0) + max(ec.PingTimeout, 0)
	if ec.PingInterval <= 0 || ec.PingTimeout <= 0 {
		grace = 45 * time.Second // the engine's defaults
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &MemorySessionAdapter{
		MemoryAdapter: NewMemoryAdapter(n),
		maxAge:        cfg.MaxDisconnectionDuration,
		maxBytes:      cfg.MaxLogBytes,
		grace:         grace,
		epoch:         base64.RawURLEncoding.EncodeToString(b[:]),
		sessions:      make(map[string]memSession),
		now:           time.Now,
	}
}

// Broadcast implements Adapter: a packet that gets an offset (see
// SessionAdapter) has it appended to p, is logged and delivered in offset
// order; others are delivered as by MemoryAdapter.
func (a *MemorySessionAdapter) Broadcast(_ context.Context, p *parser.Packet, opts BroadcastOptions) error {
	if !logged(p, opts) {
		a.Deliver(p, opts)
		return nil
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	off := a.offset(a.n)
	appendOffset(p, off)
	e := logEntry{n: a.n, p: p, opts: opts, at: now, size: entrySize(p, opts)}
	a.entries = append(a.entries, e)
	a.bytes += e.size
	a.pruneLocked(now)
	a.deliver(p, opts, off)
	if !a.armed.Load() {
		a.smu.Lock()
		a.armLocked()
		a.smu.Unlock()
	}
	return nil
}

func (a *MemorySessionAdapter) offset(n uint64) string {
	var buf [32]byte
	b := append(buf[:0], a.epoch...)
	b = append(b, '-')
	return string(strconv.AppendUint(b, n, 36))
}

// parseOffset returns the counter of one of our offsets; "" is 0 (before
// every entry).
func (a *MemorySessionAdapter) parseOffset(off string) (uint64, bool) {
	if off == "" {
		return 0, true
	}
	rest, ok := strings.CutPrefix(off, a.epoch+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 36, 64)
	return n, err == nil
}

func entrySize(p *parser.Packet, opts BroadcastOptions) int64 {
	n := int64(logEntryOverhead + len(p.Data))
	for _, b := range p.Attachments {
		n += int64(len(b))
	}
	for _, r := range opts.Rooms {
		n += int64(len(r)) + 16
	}
	for _, r := range opts.Except {
		n += int64(len(r)) + 16
	}
	return n
}

// pruneLocked drops the entries older than maxAge and, oldest first,
// those beyond maxBytes.
func (a *MemorySessionAdapter) pruneLocked(now time.Time) {
	limit := now.Add(-a.maxAge)
	for a.head < len(a.entries) {
		e := &a.entries[a.head]
		if !e.at.Before(limit) && a.bytes <= a.maxBytes {
			break
		}
		a.pruned, a.prunedAt = e.n, e.at
		a.bytes -= e.size
		*e = logEntry{}
		a.head++
	}
	if a.head == len(a.entries) {
		a.entries, a.head = a.entries[:0], 0
	} else if a.head > 64 && a.head*2 > len(a.entries) {
		n := copy(a.entries, a.entries[a.head:])
		clear(a.entries[n:])
		a.entries, a.head = a.entries[:n], 0
	}
}

// PersistSession implements SessionAdapter.
func (a *MemorySessionAdapter) PersistSession(_ context.Context, s *Session) error {
	ms := memSession{s: *s, at: a.now()}
	ms.s.MissedPackets = nil
	a.smu.Lock()
	defer a.smu.Unlock()
	if a.closed {
		return nil
	}
	a.sessions[s.PID] = ms
	a.armLocked()
	return nil
}

// RestoreSession implements SessionAdapter.
func (a *MemorySessionAdapter) RestoreSession(_ context.Context, pid, offset string) (*Session, error) {
	now := a.now()
	a.smu.Lock()
	ms, ok := a.sessions[pid]
	delete(a.sessions, pid)
	a.smu.Unlock()
	if !ok || now.Sub(ms.at) > a.maxAge {
		return nil, nil
	}
	if offset == "" {
		offset = ms.s.Offset
	}
	from, ok := a.parseOffset(offset)
	if !ok {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	if from > a.n {
		return nil, nil // not one of ours
	}
	if from < a.pruned && !a.prunedAt.Before(ms.at.Add(-a.grace)) {
		return nil, nil // dropped entries the client may have missed
	}
	out := ms.s
	for _, e := range a.entries[a.head:] {
		if e.n > from && includes(out.Rooms, e.opts) {
			out.MissedPackets = append(out.MissedPackets, e.p)
		}
	}
	return &out, nil
}

// armLocked starts the sweep timer if it is not running.
func (a *MemorySessionAdapter) armLocked() {
	if a.timer == nil && !a.closed {
		a.timer = time.AfterFunc(a.maxAge, a.sweep)
		a.armed.Store(true)
	}
}

// sweep drops expired sessions and log entries; it re-arms itself while
// either remains.
func (a *MemorySessionAdapter) sweep() {
	now := a.now()
	a.mu.Lock()
	a.pruneLocked(now)
	more := a.head < len(a.entries)
	a.mu.Unlock()
	a.smu.Lock()
	defer a.smu.Unlock()
	for pid, ms := range a.sessions {
		if now.Sub(ms.at) > a.maxAge {
			delete(a.sessions, pid)
		}
	}
	a.timer = nil
	a.armed.Store(false)
	if !a.closed && (more || len(a.sessions) > 0) {
		a.timer = time.AfterFunc(a.maxAge/2, a.sweep)
		a.armed.Store(true)
	}
}

// Close implements Adapter: the sessions and the log are dropped.
func (a *MemorySessionAdapter) Close(ctx context.Context) error {
	a.smu.Lock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	clear(a.sessions)
	a.smu.Unlock()
	a.mu.Lock()
	a.entries, a.head, a.bytes = nil, 0, 0
	a.mu.Unlock()
	return a.MemoryAdapter.Close(ctx)
}
