package redis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// StreamsConfig tunes ModeStreams (Node's options of the streams
// adapter's createAdapter); zero values select the defaults written
// beside them, which are Node's.
type StreamsConfig struct {
	// Stream is the Redis stream of every namespace (Node's streamName).
	// Empty means "socket.io".
	Stream string
	// MaxLen trims the stream at each XADD (MAXLEN ~, Node's maxLen): how
	// far back a session can be recovered. Zero means 10000.
	MaxLen int64
	// ReadCount is the COUNT of each XREAD (Node's readCount). Zero means
	// 100.
	ReadCount int64
	// Block is how long one XREAD waits for new entries (Node's
	// blockTimeInMs). Zero means 5s.
	Block time.Duration
	// SessionPrefix prefixes the keys of the sessions kept for recovery
	// (Node's sessionKeyPrefix). Empty means "sio:session:".
	SessionPrefix string
	// ShardedPubSub carries requests and answers over SPUBLISH/SSUBSCRIBE
	// (Node's useShardedPubSub, for Redis 7 Cluster) instead of
	// PUBLISH/SUBSCRIBE.
	ShardedPubSub bool
	// MaxBackoff bounds the wait of the stream reader between two failed
	// reads (it starts at 50ms and doubles). Zero means 2s.
	MaxBackoff time.Duration
}

func (c *StreamsConfig) defaults() {
	if c.Stream == "" {
		c.Stream = "socket.io"
	}
	if c.MaxLen <= 0 {
		c.MaxLen = 10000
	}
	if c.ReadCount <= 0 {
		c.ReadCount = 100
	}
	if c.Block <= 0 {
		c.Block = 5 * time.Second
	}
	if c.SessionPrefix == "" {
		c.SessionPrefix = "sio:session:"
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
}

// newStreamsPubSub is the wire of the streams mode's ephemeral messages
// (broadcasts with acks, fetchSockets, serverSideEmit) and of every
// answer: the sharded format's envelopes, always msgpack, on K#N# and
// K#N#<uid># (PUBLISH/SUBSCRIBE unless StreamsConfig.ShardedPubSub),
// counted by PUBSUB NUMSUB K#N#.
func newStreamsPubSub(a *Adapter) *sharded {
	s := newSharded(a)
	s.mode = SubscribeStatic
	s.plain = !a.cfg.Streams.ShardedPubSub
	s.msgpack = true
	return s
}

// streamsFactory makes the adapters of one server in streams mode: they
// share one stream reader, started with the first adapter and stopped
// with the last.
//
// An adapter is routed the stream's entries from its first local socket
// on (AddAll), not from its creation: the core finishes setting the
// namespace up after the factory returns, and a namespace without
// sockets has nothing to deliver or apply.
type streamsFactory struct {
	rdb goredis.UniversalClient
	cfg Config

	mu     sync.RWMutex
	open   map[*StreamsAdapter]struct{}
	routes map[string]*StreamsAdapter // namespace name → adapter
	reader *streamReader              // nil while no adapter is open
}

func newStreamsFactory(rdb goredis.UniversalClient, cfg Config) socketio.AdapterFactory {
	f := &streamsFactory{rdb: rdb, cfg: cfg, open: make(map[*StreamsAdapter]struct{}), routes: make(map[string]*StreamsAdapter)}
	return f.adapter
}

func (f *streamsFactory) adapter(n *socketio.Namespace) (socketio.Adapter, error) {
	base, err := newAdapter(f.rdb, n, f.cfg)
	if err != nil {
		return nil, err
	}
	a := &StreamsAdapter{Adapter: base, f: f}
	a.rec, a.recOn = n.Recovery()
	if err := f.register(a); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.RequestsTimeout)
		defer cancel()
		_ = base.Close(ctx)
		return nil, err
	}
	return a, nil
}

// register counts a among the open adapters, starting the reader (at the
// stream's newest entry) for the first one.
func (f *streamsFactory) register(a *StreamsAdapter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reader == nil {
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.RequestsTimeout)
		defer cancel()
		r, err := startStreamReader(ctx, f)
		if err != nil {
			return err
		}
		f.reader = r
	}
	a.reader = f.reader
	f.open[a] = struct{}{}
	return nil
}

// route makes the reader hand a the entries of its namespace from now
// on; routedAt is then the newest entry a was not handed.
func (f *streamsFactory) route(a *StreamsAdapter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.open[a]; ok && f.routes[a.ns.Name()] == nil {
		a.routedAt.Store(a.reader.current())
		f.routes[a.ns.Name()] = a
	}
}

// unregister removes a; the reader stops with the last adapter (Close
// waits for it within ctx).
func (f *streamsFactory) unregister(ctx context.Context, a *StreamsAdapter) error {
	f.mu.Lock()
	delete(f.open, a)
	if f.routes[a.ns.Name()] == a {
		delete(f.routes, a.ns.Name())
	}
	var r *streamReader
	if len(f.open) == 0 {
		r, f.reader = f.reader, nil
	}
	f.mu.Unlock()
	if r != nil {
		return r.stop(ctx)
	}
	return nil
}

func (f *streamsFactory) lookup(nsp string) *StreamsAdapter {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.routes[nsp]
}

func (f *streamsFactory) each(fn func(a *StreamsAdapter)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for a := range f.open {
		fn(a)
	}
}

// StreamsAdapter is the adapter of one namespace in streams mode: the
// Adapter (local rooms, requests and answers over pub/sub) whose
// broadcasts and room operations go through the Redis stream, and the
// sessions of connection-state recovery.
type StreamsAdapter struct {
	*Adapter
	f      *streamsFactory
	reader *streamReader
	rec    socketio.RecoveryConfig // the server's, when recOn
	recOn  bool
	routed atomic.Bool
	// routedAt is the newest entry not handed to this adapter (see
	// streamsFactory.route): where the replay of a session with no offset
	// at all starts.
	routedAt atomic.Pointer[streamID]
}

var (
	_ socketio.SessionAdapter    = (*StreamsAdapter)(nil)
	_ socketio.ServerSideEmitter = (*StreamsAdapter)(nil)
)

// Broadcast implements socketio.Adapter: the broadcast is appended to the
// stream (XADD MAXLEN ~) and delivered to this server's sockets by the
// stream reader, in stream order with the other servers' broadcasts and
// with its entry id as offset; Broadcast returns once that happened (or
// its ctx, bounded by PublishTimeout, ends: delivery then follows when
// the reader gets there). When the XADD fails the packet is delivered
// locally without offset and the error returned. Flags.Local broadcasts
// are delivered at once, without offset.
func (a *StreamsAdapter) Broadcast(ctx context.Context, p *parser.Packet, opts socketio.BroadcastOptions) error {
	if opts.Flags.Local {
		a.Deliver(p, opts)
		return nil
	}
	ctx, cancel := a.bound(ctx, a.cfg.PublishTimeout)
	defer cancel()
	id, err := a.appendEntry(ctx, &outMsg{typ: typeBroadcast, packet: p, opts: opts})
	if err != nil {
		a.Deliver(p, opts)
		return err
	}
	wait, cancelWait := context.WithTimeout(ctx, a.cfg.PublishTimeout)
	defer cancelWait()
	a.reader.waitPast(wait, id)
	return nil
}

// AddSockets implements socketio.Adapter: applied locally now, then
// appended to the stream (SOCKETS_JOIN; the reader skips this server's
// own entries).
func (a *StreamsAdapter) AddSockets(ctx context.Context, opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.AddSockets(ctx, opts, rooms)
	return a.appendOp(ctx, &outMsg{typ: typeRemoteJoin, opts: opts, rooms: rooms})
}

// DelSockets implements socketio.Adapter (SOCKETS_LEAVE, like AddSockets).
func (a *StreamsAdapter) DelSockets(ctx context.Context, opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.DelSockets(ctx, opts, rooms)
	return a.appendOp(ctx, &outMsg{typ: typeRemoteLeave, opts: opts, rooms: rooms})
}

// DisconnectSockets implements socketio.Adapter (DISCONNECT_SOCKETS, like
// AddSockets).
func (a *StreamsAdapter) DisconnectSockets(ctx context.Context, opts socketio.BroadcastOptions, close bool) error {
	_ = a.MemoryAdapter.DisconnectSockets(ctx, opts, close)
	return a.appendOp(ctx, &outMsg{typ: typeRemoteDisconnect, opts: opts, close: close})
}

func (a *StreamsAdapter) appendOp(ctx context.Context, m *outMsg) error {
	if m.opts.Flags.Local {
		return nil
	}
	ctx, cancel := a.bound(ctx, a.cfg.PublishTimeout)
	defer cancel()
	_, err := a.appendEntry(ctx, m)
	return err
}

// Close implements socketio.Adapter: the namespace leaves the stream
// reader (which stops with the last namespace), then the Adapter closes.
func (a *StreamsAdapter) Close(ctx context.Context) error {
	errReader := a.f.unregister(ctx, a)
	err := a.Adapter.Close(ctx)
	if err == nil {
		err = errReader
	}
	return err
}

// AddAll implements socketio.Adapter (local); the first local socket
// routes the namespace's stream entries to this adapter.
func (a *StreamsAdapter) AddAll(id string, rooms []string) {
	if !a.routed.Load() {
		a.f.route(a)
		a.routed.Store(true)
	}
	a.Adapter.AddAll(id, rooms)
}

// appendEntry XADDs m as a stream entry {uid, nsp, type, data} within ctx
// and returns its id. data is JSON, or base64 msgpack (binary inline)
// when m holds binary, as Node encodes it.
func (a *StreamsAdapter) appendEntry(ctx context.Context, m *outMsg) (streamID, error) {
	typ, data, bins, err := a.w.(*sharded).encodeData(m)
	if err != nil {
		return streamID{}, err
	}
	field, err := encodeEntryData(data, bins)
	if err != nil {
		return streamID{}, err
	}
	sc := a.cfg.Streams
	id, err := a.rdb.XAdd(ctx, &goredis.XAddArgs{
		Stream: sc.Stream, MaxLen: sc.MaxLen, Approx: true,
		Values: []any{"uid", a.uid, "nsp", a.ns.Name(), "type", strconv.Itoa(typ), "data", field},
	}).Result()
	if err != nil {
		a.stats.publishErrors.Add(1)
		return streamID{}, fmt.Errorf("redis: xadd %s: %w", sc.Stream, err)
	}
	a.stats.published.Add(1)
	a.stats.publishedBytes.Add(uint64(len(field)))
	return parseStreamID(id)
}

// encodeEntryData is the data field of a stream entry.
func encodeEntryData(data map[string]any, bins [][]byte) (string, error) {
	body, err := json.Marshal(data)
	if err != nil || len(bins) == 0 {
		return string(body), err
	}
	var buf bytes.Buffer
	if err := encodeJSON(msgpack.NewEncoder(&buf), body, bins); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// decodeEntryData reads a stream entry's data field: JSON when it starts
// with '{', else base64 msgpack whose binary values become placeholders.
func decodeEntryData(field string) (*envelopeData, [][]byte, error) {
	raw := []byte(field)
	var bins [][]byte
	if len(raw) == 0 || raw[0] != '{' {
		b, err := base64.StdEncoding.DecodeString(field)
		if err != nil {
			return nil, nil, errMalformed
		}
		if raw, bins, err = decodeJSON(msgpack.NewDecoder(bytes.NewReader(b))); err != nil {
			return nil, nil, err
		}
	}
	var d envelopeData
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, nil, errMalformed
	}
	return &d, bins, nil
}

// onEntry handles a stream entry of this namespace, in stream order:
// broadcasts are delivered (this server's own too: local delivery follows
// stream order), room operations of other servers applied.
func (a *StreamsAdapter) onEntry(id string, v map[string]any) {
	uid, _ := v["uid"].(string)
	typText, _ := v["type"].(string)
	field, _ := v["data"].(string)
	a.received(len(field))
	typ, err := strconv.Atoi(typText)
	if err != nil {
		a.malformed("stream entry type", errMalformed)
		return
	}
	d, bins, err := decodeEntryData(field)
	if err != nil {
		a.malformed("stream entry", err)
		return
	}
	if typ == shBroadcast && d.RequestID == "" {
		a.deliverEntry(id, d, bins)
		return
	}
	if uid == a.uid {
		return
	}
	env := &envelope{UID: uid, NSP: a.ns.Name(), Type: typ}
	if r := toResponse(env, d, bins); r != nil {
		a.onResponse(r)
		return
	}
	a.w.(*sharded).dispatch(env, d, bins)
}

// deliverEntry delivers a broadcast entry to the local sockets, its id
// appended as offset when recovery is on and the packet may be replayed.
func (a *StreamsAdapter) deliverEntry(id string, d *envelopeData, bins [][]byte) {
	p, opts, replayable, err := entryPacket(a.ns.Name(), d, bins)
	if err == nil && replayable && a.recovering() {
		p.Data, err = withOffset(p.Data, id)
	}
	if err != nil {
		a.malformed("stream broadcast", err)
		return
	}
	a.Deliver(p, opts)
}

// entryPacket is the packet and options of a broadcast entry; replayable
// reports whether it gets an offset: an event without ack id, not
// volatile (Node's addOffsetIfNecessary).
func entryPacket(nsp string, d *envelopeData, bins [][]byte) (p *parser.Packet, opts socketio.BroadcastOptions, replayable bool, err error) {
	var pk struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
		ID   *uint64         `json:"id"`
	}
	if d.Opts == nil || json.Unmarshal(d.Packet, &pk) != nil || !eventData(pk.Data) ||
		pk.Type != packetEvent && pk.Type != packetBinaryEventNoAck {
		return nil, opts, false, errMalformed
	}
	opts = socketio.BroadcastOptions{Rooms: d.Opts.Rooms, Except: d.Opts.Except, Flags: d.Opts.flags()}
	opts.Flags.Local, opts.Flags.Timeout = true, 0
	p = &parser.Packet{Type: parser.Event, Namespace: nsp, Data: pk.Data, Attachments: bins}
	return p, opts, pk.ID == nil && !opts.Flags.Volatile, nil
}

// eventData reports whether data (valid JSON) is an array whose first
// element is a string: an event's name and arguments.
func eventData(data json.RawMessage) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '[' {
		return false
	}
	data = bytes.TrimLeft(data[1:], " \t\r\n")
	return len(data) > 0 && data[0] == '"'
}

// withOffset returns the JSON array data with the string offset appended.
func withOffset(data json.RawMessage, offset string) (json.RawMessage, error) {
	data = bytes.TrimRight(data, " \t\r\n")
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, errMalformed
	}
	out := make([]byte, 0, len(data)+len(offset)+3)
	out = append(out, data[:len(data)-1]...)
	if len(bytes.TrimSpace(data[1:len(data)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, offset...)
	return append(out, '"', ']'), nil
}

// recovering reports whether the server has connection-state recovery on
// (broadcasts then carry offsets).
func (a *StreamsAdapter) recovering() bool { return a.recOn }

// sessionTTL is the server's MaxDisconnectionDuration, 0 without
// recovery.
func (a *StreamsAdapter) sessionTTL() time.Duration {
	if !a.recOn {
		return 0
	}
	return a.rec.MaxDisconnectionDuration
}
