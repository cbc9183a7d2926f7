package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// streamID is a Redis stream entry id, <milliseconds>-<sequence>.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("redis: invalid stream id %q", s)
	}
	return streamID{a, b}, nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// next is the smallest id after id (XRANGE's exclusive start, which
// Redis before 6.2 lacks).
func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{id.ms + 1, 0}
	}
	return streamID{id.ms, id.seq + 1}
}

// streamReader is the one XREAD loop of a server: it reads the stream
// from the entry after the newest one at start, hands each entry to the
// adapter of its namespace in stream order, and after an error retries
// from the last id read (backoff from 50ms doubling to
// StreamsConfig.MaxBackoff), so that nothing appended meanwhile is
// skipped while the stream keeps it.
type streamReader struct {
	f      *streamsFactory
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	last  streamID      // the newest entry handled
	moved chan struct{} // closed (and replaced) when last moves
	cur   streamID      // the entry being dispatched (last before a batch)

	// The reader's own connection (so that stop can CLIENT UNBLOCK its
	// XREAD), dialled again after an error.
	connMu sync.Mutex
	conn   *goredis.Conn
	node   *goredis.Client // the stream's node, which unblocks conn
	connID int64

	lastLog atomic.Int64 // unix nanoseconds of the last error log
}

// startStreamReader finds the stream's newest entry within ctx and starts
// reading after it.
func startStreamReader(ctx context.Context, f *streamsFactory) (*streamReader, error) {
	newest, err := f.rdb.XRevRangeN(ctx, f.cfg.Streams.Stream, "+", "-", 1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: read stream %s: %w", f.cfg.Streams.Stream, err)
	}
	r := &streamReader{f: f, done: make(chan struct{}), moved: make(chan struct{})}
	if len(newest) == 1 {
		if r.last, err = parseStreamID(newest[0].ID); err != nil {
			return nil, err
		}
		r.cur = r.last
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// stop ends the reader and waits for it within ctx, unblocking its
// XREAD (CLIENT UNBLOCK) until it returns.
func (r *streamReader) stop(ctx context.Context) error {
	r.cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r.unblock(ctx)
		select {
		case <-r.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("redis: stop stream reader: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (r *streamReader) unblock(ctx context.Context) {
	r.connMu.Lock()
	node, id := r.node, r.connID
	r.connMu.Unlock()
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.f.cfg.PublishTimeout)
	defer cancel()
	_ = node.ClientUnblock(ctx, id).Err()
}

// dial opens the reader's connection on the stream's node and learns its
// CLIENT ID.
func (r *streamReader) dial(ctx context.Context) (*goredis.Conn, error) {
	var node *goredis.Client
	switch c := r.f.rdb.(type) {
	case *goredis.Client:
		node = c
	case *goredis.ClusterClient:
		var err error
		if node, err = c.MasterForKey(ctx, r.f.cfg.Streams.Stream); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("redis: streams mode needs a Client or a ClusterClient, not %T", r.f.rdb)
	}
	conn := node.Conn()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := r.rewind(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	r.connMu.Lock()
	r.conn, r.node, r.connID = conn, node, id
	r.connMu.Unlock()
	return conn, nil
}

// rewind makes the reader read the stream from its start when the last
// entry it handled is no longer there: either Redis lost the stream and
// started it again (every entry is then new to this server, and the new
// ids may even be below ours if its clock is behind), or MAXLEN trimmed
// it (every entry left is then after ours anyway).
func (r *streamReader) rewind(ctx context.Context, conn *goredis.Conn) error {
	last := r.position()
	if last == (streamID{}) {
		return nil
	}
	found, err := conn.XRangeN(ctx, r.f.cfg.Streams.Stream, last.String(), last.String(), 1).Result()
	if err != nil || len(found) > 0 {
		return err
	}
	r.mu.Lock()
	r.last, r.cur = streamID{}, streamID{}
	r.mu.Unlock()
	r.f.cfg.Logger.Warn("redis adapter: last entry read is gone from the stream, reading it from its start",
		"stream", r.f.cfg.Streams.Stream, "last_read", last.String())
	return nil
}

// hangUp closes the reader's connection (after an error, and at the end).
func (r *streamReader) hangUp() {
	r.connMu.Lock()
	conn := r.conn
	r.conn, r.node = nil, nil
	r.connMu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

func (r *streamReader) run() {
	defer close(r.done)
	defer r.hangUp()
	sc := r.f.cfg.Streams
	var backoff time.Duration
	for r.ctx.Err() == nil {
		msgs, err := r.read(sc)
		if err != nil {
			r.hangUp()
			if r.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), sc.MaxBackoff)
			r.logError(err, backoff)
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		if backoff > 0 {
			backoff = 0
			r.f.each(func(a *StreamsAdapter) { a.stats.reconnects.Add(1) })
			r.f.cfg.Logger.Info("redis adapter: stream reader resumed", "stream", sc.Stream, "after", r.position().String())
		}
		r.dispatch(msgs)
	}
}

// read is one XREAD BLOCK of at most ReadCount entries after the last
// one, within Block plus PublishTimeout.
func (r *streamReader) read(sc StreamsConfig) ([]goredis.XMessage, error) {
	ctx, cancel := context.WithTimeout(r.ctx, sc.Block+r.f.cfg.PublishTimeout)
	defer cancel()
	r.connMu.Lock()
	conn := r.conn
	r.connMu.Unlock()
	if conn == nil {
		var err error
		if conn, err = r.dial(ctx); err != nil {
			return nil, err
		}
	}
	res, err := conn.XRead(ctx, &goredis.XReadArgs{
		Streams: []string{sc.Stream, r.position().String()}, Count: sc.ReadCount, Block: sc.Block,
	}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// dispatch hands each entry to its namespace's adapter, then moves the
// position past them and wakes the broadcasters waiting for it.
func (r *streamReader) dispatch(msgs []goredis.XMessage) {
	if len(msgs) == 0 {
		return
	}
	last := r.position()
	for _, m := range msgs {
		id, err := parseStreamID(m.ID)
		if err != nil {
			continue
		}
		last = id
		r.mu.Lock()
		r.cur = id
		r.mu.Unlock()
		nsp, _ := m.Values["nsp"].(string)
		if a := r.f.lookup(nsp); a != nil {
			a.onEntry(m.ID, m.Values)
		}
	}
	r.mu.Lock()
	r.last = last
	close(r.moved)
	r.moved = make(chan struct{})
	r.mu.Unlock()
}

// current returns the entry being dispatched, or the last handled.
func (r *streamReader) current() *streamID {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.cur
	return &id
}

func (r *streamReader) position() streamID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// waitPast waits until the entry id has been handled, ctx ends or the
// reader stops; it reports whether the entry was handled.
func (r *streamReader) waitPast(ctx context.Context, id streamID) bool {
	for {
		r.mu.Lock()
		handled, moved := !r.last.less(id), r.moved
		r.mu.Unlock()
		if handled {
			return true
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return false
		case <-r.done:
			return false
		}
	}
}

// logError logs a failed read at Warn, at most once a second.
func (r *streamReader) logError(err error, retry time.Duration) {
	now := time.Now().UnixNano()
	last := r.lastLog.Load()
	if now-last < int64(time.Second) || !r.lastLog.CompareAndSwap(last, now) {
		return
	}
	r.f.cfg.Logger.Warn("redis adapter: stream read failed", "stream", r.f.cfg.Streams.Stream, "err", err, "retry_in", retry)
}
