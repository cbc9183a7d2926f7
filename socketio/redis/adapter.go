package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/socketio"
)

// Errors of the adapter's requests.
var (
	// ErrTimeout is returned when other servers did not answer a request
	// (fetchSockets, allRooms) within Config.RequestsTimeout or ctx.
	ErrTimeout = errors.New("redis: timeout reached while waiting for responses")
	// ErrClosed is returned by requests made after Close.
	ErrClosed = errors.New("redis: adapter closed")
)

// Config tunes the adapters; zero values select the defaults written
// beside them.
type Config struct {
	// Key prefixes every channel (Node's key option). Empty means
	// "socket.io".
	Key string
	// RequestsTimeout bounds the wait for other servers' answers
	// (fetchSockets, allRooms, serverSideEmit with acks) and the
	// subscription at start-up. Zero means 5s (Node's requestsTimeout).
	RequestsTimeout time.Duration
	// PublishTimeout bounds a publish whose context has no deadline
	// (Emit, the answers to other servers). Zero means 2s. The go-redis
	// client must be built with ContextTimeoutEnabled for a deadline to
	// interrupt a hung Redis; otherwise its ReadTimeout bounds the wait.
	PublishTimeout time.Duration
	// PublishOnSpecificResponseChannel makes this server answer requests on
	// K-response#N#<requester uid># (Node's option of the same name).
	PublishOnSpecificResponseChannel bool
	// Logger receives the adapter's logs (malformed messages at Debug,
	// rate limited). Nil discards.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Key == "" {
		c.Key = "socket.io"
	}
	if c.RequestsTimeout <= 0 {
		c.RequestsTimeout = 5 * time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// NewAdapter returns the factory of classic Redis adapters (Node's
// createAdapter) publishing on client. Each namespace's adapter
// subscribes on a connection of its own, taken from client, and the
// factory fails when that subscription is not confirmed within
// Config.RequestsTimeout.
func NewAdapter(client goredis.UniversalClient, cfg Config) socketio.AdapterFactory {
	cfg.defaults()
	return func(n *socketio.Namespace) (socketio.Adapter, error) {
		return newAdapter(client, n, cfg)
	}
}

// Adapter is the classic adapter of one namespace: a MemoryAdapter for
// this server's sockets plus the pub/sub exchange with the other servers.
type Adapter struct {
	*socketio.MemoryAdapter
	ns  *socketio.Namespace
	rdb goredis.UniversalClient
	cfg Config
	uid string
	log *slog.Logger

	broadcastCh, requestCh, responseCh, specificCh string

	ps      *goredis.PubSub
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the receive loop and asynchronous answers
	ready   chan struct{}  // closed when every subscription is confirmed
	readyOn sync.Once

	mu       sync.Mutex
	requests map[string]*call    // requestId → request waiting for answers
	ackReqs  map[string]*ackCall // requestId → broadcast with acks
	closed   bool

	stats   counters
	lastLog atomic.Int64 // unix nanoseconds of the last malformed-message log
}

var (
	_ socketio.Adapter           = (*Adapter)(nil)
	_ socketio.ServerSideEmitter = (*Adapter)(nil)
)

func newAdapter(rdb goredis.UniversalClient, n *socketio.Namespace, cfg Config) (*Adapter, error) {
	a := &Adapter{
		MemoryAdapter: socketio.NewMemoryAdapter(n),
		ns:            n,
		rdb:           rdb,
		cfg:           cfg,
		uid:           newUID(),
		log:           cfg.Logger.With("ns", n.Name()),
		broadcastCh:   cfg.Key + "#" + n.Name() + "#",
		requestCh:     cfg.Key + "-request#" + n.Name() + "#",
		responseCh:    cfg.Key + "-response#" + n.Name() + "#",
		ready:         make(chan struct{}),
		requests:      make(map[string]*call),
		ackReqs:       make(map[string]*ackCall),
	}
	a.specificCh = a.responseCh + a.uid + "#"
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if err := a.subscribe(); err != nil {
		a.cancel()
		return nil, err
	}
	return a, nil
}

// subscribe opens the subscriber connection (PSUBSCRIBE K#N#*, SUBSCRIBE
// request and both response channels) and waits for the confirmations,
// so that NUMSUB counts this server once the factory returns.
func (a *Adapter) subscribe() error {
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.RequestsTimeout)
	defer cancel()
	a.ps = a.rdb.Subscribe(ctx)
	err := a.ps.PSubscribe(ctx, a.broadcastCh+"*")
	if err == nil {
		err = a.ps.Subscribe(ctx, a.requestCh, a.responseCh, a.specificCh)
	}
	if err != nil {
		_ = a.ps.Close()
		return fmt.Errorf("redis: subscribe %s: %w", a.broadcastCh, err)
	}
	msgs := a.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	a.wg.Add(1)
	go a.receive(msgs)
	select {
	case <-a.ready:
		return nil
	case <-ctx.Done():
		a.cancel()
		_ = a.ps.Close()
		a.wg.Wait()
		return fmt.Errorf("redis: subscribe %s: not confirmed: %w", a.broadcastCh, ctx.Err())
	}
}

// receive is the adapter's goroutine: it handles the subscription's
// messages in order until the PubSub is closed.
func (a *Adapter) receive(msgs <-chan any) {
	defer a.wg.Done()
	confirmed := 0
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "psubscribe" {
				continue
			}
			confirmed++
			if confirmed == 4 {
				a.readyOn.Do(func() { close(a.ready) })
			} else if confirmed > 4 && m.Kind == "psubscribe" {
				a.stats.reconnects.Add(1) // go-redis re-subscribed after a reconnection
			}
		case *goredis.Message:
			a.stats.received.Add(1)
			a.stats.receivedBytes.Add(uint64(len(m.Payload)))
			a.dispatch(m)
		}
	}
}

func (a *Adapter) dispatch(m *goredis.Message) {
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, []byte(m.Payload))
	case m.Channel == a.requestCh:
		a.onRequest([]byte(m.Payload))
	case m.Channel == a.responseCh || m.Channel == a.specificCh:
		a.onResponse([]byte(m.Payload))
	}
}

// Close unsubscribes (closing the subscriber connection), fails the
// requests in flight and waits for the adapter's goroutines within ctx.
func (a *Adapter) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for id, c := range a.requests {
		c.finish(ErrClosed)
		delete(a.requests, id)
	}
	for id := range a.ackReqs {
		delete(a.ackReqs, id)
	}
	a.mu.Unlock()
	a.cancel()
	err := a.ps.Close()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("redis: close %s: %w", a.broadcastCh, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("redis: close %s: %w", a.broadcastCh, err)
	}
	return nil
}

// UID returns the adapter's random 6-character id (its messages carry it).
func (a *Adapter) UID() string { return a.uid }

// ServerCount implements socketio.Adapter: PUBSUB NUMSUB of the request
// channel, this server included.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.bound(ctx, a.cfg.RequestsTimeout)
	defer cancel()
	m, err := a.rdb.PubSubNumSub(ctx, a.requestCh).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: server count: %w", err)
	}
	return int(m[a.requestCh]), nil
}

// bound returns ctx with d as deadline when it has none (and not after
// Close).
func (a *Adapter) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// publish sends payload on channel within ctx (PublishTimeout when ctx has
// no deadline).
func (a *Adapter) publish(ctx context.Context, channel string, payload []byte) error {
	ctx, cancel := a.bound(ctx, a.cfg.PublishTimeout)
	defer cancel()
	if err := a.rdb.Publish(ctx, channel, payload).Err(); err != nil {
		a.stats.publishErrors.Add(1)
		return fmt.Errorf("redis: publish %s: %w", channel, err)
	}
	a.stats.published.Add(1)
	a.stats.publishedBytes.Add(uint64(len(payload)))
	return nil
}

// publishAsync publishes an answer to another server without blocking
// the caller (the receive loop, or a client's read path for acks).
func (a *Adapter) publishAsync(channel string, payload []byte) {
	a.mu.Lock()
	closed := a.closed
	if !closed {
		a.wg.Add(1)
	}
	a.mu.Unlock()
	if closed {
		return
	}
	go func() {
		defer a.wg.Done()
		if err := a.publish(a.ctx, channel, payload); err != nil {
			a.log.Debug("redis adapter: answer not published", "err", err)
		}
	}()
}

// malformed logs an ignored message at Debug, at most once a second.
func (a *Adapter) malformed(what string, err error) {
	a.stats.malformed.Add(1)
	now := time.Now().UnixNano()
	last := a.lastLog.Load()
	if now-last < int64(time.Second) || !a.lastLog.CompareAndSwap(last, now) {
		return
	}
	a.log.Debug("redis adapter: message ignored", "what", what, "err", err, "ignored_total", a.stats.malformed.Load())
}

const uidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newUID returns 6 random alphanumeric characters (Node's uid2(6)).
func newUID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = uidChars[int(b[i])%len(uidChars)]
	}
	return string(b[:])
}

// Stats are the adapter's counters since it was created.
type Stats struct {
	Published       uint64 // messages published
	PublishedBytes  uint64
	PublishErrors   uint64 // publishes that failed
	Received        uint64 // messages received on the subscription
	ReceivedBytes   uint64
	Malformed       uint64 // received messages ignored as malformed or unknown
	RequestTimeouts uint64 // requests that ended without every answer
	Reconnects      uint64 // re-subscriptions after a lost connection
}

type counters struct {
	published, publishedBytes, publishErrors atomic.Uint64
	received, receivedBytes, malformed       atomic.Uint64
	requestTimeouts, reconnects              atomic.Uint64
}

// Stats returns a snapshot of the adapter's counters.
func (a *Adapter) Stats() Stats {
	c := &a.stats
	return Stats{
		Published: c.published.Load(), PublishedBytes: c.publishedBytes.Load(), PublishErrors: c.publishErrors.Load(),
		Received: c.received.Load(), ReceivedBytes: c.receivedBytes.Load(), Malformed: c.malformed.Load(),
		RequestTimeouts: c.requestTimeouts.Load(), Reconnects: c.reconnects.Load(),
	}
}
