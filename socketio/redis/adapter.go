package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
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
	// K-response#N#<requester uid># (Node's option of the same name; classic
	// mode: the sharded mode always answers on the requester's channel).
	PublishOnSpecificResponseChannel bool
	// Mode is the wire format: ModeClassic (the zero value), ModeSharded
	// or ModeStreams.
	Mode Mode
	// Subscription is the sharded mode's subscriptionMode (Node's option):
	// SubscribeDynamic (the zero value, Node's default) also subscribes
	// K#N#<room># for each public room with local members, and publishes
	// a plain broadcast to one such room there; SubscribeStatic uses only
	// K#N# and the response channel; SubscribeDynamicPrivate treats socket
	// ids like public rooms. Ignored in classic mode.
	Subscription Subscription
	// Logger receives the adapter's logs (malformed messages at Debug,
	// rate limited). Nil discards.
	Logger *slog.Logger

	// Streams is the configuration of ModeStreams (ignored otherwise).
	Streams StreamsConfig
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
	c.Streams.defaults()
}

// Mode selects the wire format and transport of the adapters.
type Mode int

const (
	// ModeClassic is Node's createAdapter: PUBLISH/PSUBSCRIBE on one
	// Redis (or a cluster, whose pub/sub reaches every node).
	ModeClassic Mode = iota
	// ModeSharded is Node's createShardedAdapter: envelopes {uid, nsp,
	// type, data} over Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), for
	// Redis Cluster.
	ModeSharded
	// ModeStreams is Node's @socket.io/redis-streams-adapter: broadcasts
	// and room operations in a Redis stream (XADD/XREAD), whose entry ids
	// are the offsets of connection-state recovery; requests and answers
	// over pub/sub. Its adapters are socketio.SessionAdapters.
	ModeStreams
)

// String returns "classic", "sharded" or "streams".
func (m Mode) String() string {
	switch m {
	case ModeSharded:
		return "sharded"
	case ModeStreams:
		return "streams"
	}
	return "classic"
}

// ParseMode reads "classic" (or ""), "sharded" and "streams" (a flag's
// value).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "classic":
		return ModeClassic, nil
	case "sharded":
		return ModeSharded, nil
	case "streams":
		return ModeStreams, nil
	}
	return 0, fmt.Errorf("redis: unknown adapter mode %q (want classic, sharded or streams)", s)
}

// NewAdapter returns the factory of Redis adapters publishing on client,
// in Config.Mode: classic (Node's createAdapter) by default, or sharded
// (createShardedAdapter). Each namespace's adapter subscribes on
// connections of its own, taken from client, and the factory fails when
// its subscriptions are not confirmed within Config.RequestsTimeout.
func NewAdapter(client goredis.UniversalClient, cfg Config) socketio.AdapterFactory {
	cfg.defaults()
	if cfg.Mode == ModeStreams {
		return newStreamsFactory(client, cfg)
	}
	return func(n *socketio.Namespace) (socketio.Adapter, error) {
		return newAdapter(client, n, cfg)
	}
}

// Adapter is the Redis adapter of one namespace: a MemoryAdapter for this
// server's sockets plus the exchange with the other servers, in the format
// and over the transport of its wire (classic or sharded).
type Adapter struct {
	*socketio.MemoryAdapter
	ns  *socketio.Namespace
	rdb goredis.UniversalClient
	cfg Config
	uid string
	log *slog.Logger
	w   wire
	// onRooms, when set (sharded dynamic modes), is called after a local
	// room was created or deleted.
	onRooms func()

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the receive loops and asynchronous answers

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

// wire is what differs between the classic and the sharded format: the
// subscriptions, the publish command, the server count and the encoding
// of outgoing messages. Received messages are decoded into request,
// response and broadcastMsg values and handed to the Adapter.
type wire interface {
	// open subscribes and starts receiving; it returns once the
	// subscriptions that count this server are confirmed, or ctx ends.
	open(ctx context.Context) error
	// close ends every subscription.
	close() error
	// name is the namespace's main channel (for error messages).
	name() string
	publish(ctx context.Context, channel string, payload []byte) error
	serverCount(ctx context.Context) (int, error)
	// encode returns the channel and payload of a message of this server.
	encode(m *outMsg) (channel string, payload []byte, err error)
	// encodeAnswer returns the channel and payload of an answer to r.
	encodeAnswer(r *request, ans *answer) (channel string, payload []byte, err error)
}

// outMsg is a message this server publishes, typed with the classic
// request numbers: typeBroadcast without id is a plain broadcast.
type outMsg struct {
	typ    int
	id     string // requestId; empty when no answer is expected
	opts   socketio.BroadcastOptions
	rooms  []string       // to join or leave
	close  bool           // disconnect: close the connection too
	packet *parser.Packet // broadcasts; serverSideEmit data
}

// answer is this server's answer to another server's request r, typed by
// r's classic type (typeBroadcastCount and typeBroadcastAck for the
// answers to a broadcast with acks).
type answer struct {
	typ     int
	sockets any // []socketio.SocketInfo, or socket ids (typeSockets)
	rooms   []string
	count   int           // client count
	data    any           // serverSideEmit reply
	reply   socketio.Args // a client's reply to a broadcast with acks
}

func newAdapter(rdb goredis.UniversalClient, n *socketio.Namespace, cfg Config) (*Adapter, error) {
	a := &Adapter{
		MemoryAdapter: socketio.NewMemoryAdapter(n),
		ns:            n,
		rdb:           rdb,
		cfg:           cfg,
		log:           cfg.Logger.With("ns", n.Name()),
		requests:      make(map[string]*call),
		ackReqs:       make(map[string]*ackCall),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	switch cfg.Mode {
	case ModeSharded:
		a.uid = newHexID()
		a.w = newSharded(a)
	case ModeStreams:
		a.uid = newHexID()
		a.w = newStreamsPubSub(a)
	default:
		a.uid = newUID()
		a.w = newClassic(a)
	}
	ctx, cancel := context.WithTimeout(a.ctx, cfg.RequestsTimeout)
	defer cancel()
	if err := a.w.open(ctx); err != nil {
		a.cancel()
		return nil, err
	}
	return a, nil
}

// Close unsubscribes (closing the subscriber connections), fails the
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
	err := a.w.close()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("redis: close %s: %w", a.w.name(), ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("redis: close %s: %w", a.w.name(), err)
	}
	return nil
}

// AddAll implements socketio.Adapter (local), telling the wire when a
// room is created.
func (a *Adapter) AddAll(id string, rooms []string) {
	created := false
	if a.onRooms != nil {
		for _, r := range rooms {
			created = created || a.RoomSize(r) == 0
		}
	}
	a.MemoryAdapter.AddAll(id, rooms)
	if created {
		a.onRooms()
	}
}

// Del implements socketio.Adapter (local), telling the wire when a room
// is deleted.
func (a *Adapter) Del(id, room string) {
	a.MemoryAdapter.Del(id, room)
	if a.onRooms != nil && a.RoomSize(room) == 0 {
		a.onRooms()
	}
}

// DelAll implements socketio.Adapter (local), telling the wire when
// rooms are deleted.
func (a *Adapter) DelAll(id string) {
	var rooms []string
	if a.onRooms != nil {
		rooms = a.SocketRooms(id)
	}
	a.MemoryAdapter.DelAll(id)
	for _, r := range rooms {
		if a.RoomSize(r) == 0 {
			a.onRooms()
			return
		}
	}
}

// UID returns the adapter's random id (its messages carry it): 6
// characters in classic mode, 16 hex digits in sharded mode.
func (a *Adapter) UID() string { return a.uid }

// ServerCount implements socketio.Adapter: the servers subscribed to the
// namespace, this one included (classic: PUBSUB NUMSUB of the request
// channel; sharded: PUBSUB SHARDNUMSUB of K#N#).
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ctx, cancel := a.bound(ctx, a.cfg.RequestsTimeout)
	defer cancel()
	n, err := a.w.serverCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("redis: server count: %w", err)
	}
	return n, nil
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
	if err := a.w.publish(ctx, channel, payload); err != nil {
		a.stats.publishErrors.Add(1)
		return fmt.Errorf("redis: publish %s: %w", channel, err)
	}
	a.stats.published.Add(1)
	a.stats.publishedBytes.Add(uint64(len(payload)))
	return nil
}

// send publishes m within ctx.
func (a *Adapter) send(ctx context.Context, m *outMsg) error {
	channel, payload, err := a.w.encode(m)
	if err != nil {
		return err
	}
	return a.publish(ctx, channel, payload)
}

// reply publishes the answer to r without blocking the caller.
func (a *Adapter) reply(r *request, ans *answer) {
	channel, payload, err := a.w.encodeAnswer(r, ans)
	if err != nil {
		a.log.Debug("redis adapter: answer not encoded", "err", err)
		return
	}
	a.publishAsync(channel, payload)
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

// received counts a message read from a subscription.
func (a *Adapter) received(n int) {
	a.stats.received.Add(1)
	a.stats.receivedBytes.Add(uint64(n))
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

// newHexID returns 16 random hex digits (socket.io-adapter's randomId,
// the uid of sharded adapters).
func newHexID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
