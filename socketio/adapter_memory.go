package socketio

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/parser"
)

// MemoryAdapter is the single-process Adapter: rooms ↔ socket ids in maps,
// broadcasts delivered to the namespace's local sockets. A cluster adapter
// embeds one for local delivery (see Adapter).
type MemoryAdapter struct {
	ns *Namespace

	mu    sync.RWMutex
	rooms map[string]map[*member]struct{} // room → members
	sids  map[string]*member              // socket id → member

	pendingAcks atomic.Int64 // broadcasts with acks still awaiting replies (tests)
}

// member is one socket id's entry in the rooms. It carries the local
// socket the id delivers to, resolved when the id joins, so a broadcast
// reaches its receivers straight from the rooms: looking each id up in the
// namespace (a string hash under the namespace's lock per receiver) was
// ~12% of a fan-out's CPU.
type member struct {
	s     *Socket             // nil until a socket of that id is in the namespace; under MemoryAdapter.mu
	rooms map[string]struct{} // the id's rooms
}

var _ Adapter = (*MemoryAdapter)(nil)

// NewMemoryAdapter returns the in-memory adapter of n. It is the default
// AdapterFactory.
func NewMemoryAdapter(n *Namespace) *MemoryAdapter {
	return &MemoryAdapter{
		ns:    n,
		rooms: make(map[string]map[*member]struct{}),
		sids:  make(map[string]*member),
	}
}

// AddAll implements Adapter. An Observer is told of the rooms actually
// joined, after the lock is released.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.ns.observeJoined(id, a.addAll(id, rooms, a.ns.observer() != nil))
}

// addAll adds id to rooms and, when track is set, returns the rooms it was
// not in before. The id's socket is looked up once here (before a.mu: the
// locks are never nested) and kept for its deliveries: the socket in the
// namespace now, which is the id's current one (a recovered successor
// replaces its predecessor before joining). An id joining before its
// socket is in the namespace (a middleware's Join) gets it at the
// socket's own join, which follows.
func (a *MemoryAdapter) addAll(id string, rooms []string, track bool) (joined []string) {
	s := a.ns.Socket(id)
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.sids[id]
	if m == nil {
		m = &member{rooms: make(map[string]struct{}, len(rooms))}
		a.sids[id] = m
	}
	if s != nil {
		m.s = s
	}
	for _, r := range rooms {
		if _, in := m.rooms[r]; track && !in {
			joined = append(joined, r)
		}
		m.rooms[r] = struct{}{}
		set := a.rooms[r]
		if set == nil {
			set = make(map[*member]struct{})
			a.rooms[r] = set
		}
		set[m] = struct{}{}
	}
	return joined
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	m := a.sids[id]
	in := false
	if m != nil {
		_, in = m.rooms[room]
		delete(m.rooms, room)
		a.delLocked(room, m)
	}
	a.mu.Unlock()
	if in {
		a.ns.observeLeftOne(id, room)
	}
}

func (a *MemoryAdapter) delLocked(room string, m *member) {
	if set := a.rooms[room]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(a.rooms, room)
		}
	}
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id string) {
	track := a.ns.observer() != nil
	var left []string
	a.mu.Lock()
	if m := a.sids[id]; m != nil {
		for r := range m.rooms {
			a.delLocked(r, m)
			if track {
				left = append(left, r)
			}
		}
		delete(a.sids, id)
	}
	a.mu.Unlock()
	a.ns.observeLeft(id, left)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	m := a.sids[id]
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m.rooms))
	for r := range m.rooms {
		out = append(out, r)
	}
	return out
}

// RoomSize implements Adapter.
func (a *MemoryAdapter) RoomSize(room string) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.rooms[room])
}

// Broadcast implements Adapter: the packet is encoded once and the same
// messages are queued on every receiving connection.
func (a *MemoryAdapter) Broadcast(_ context.Context, p *parser.Packet, opts BroadcastOptions) error {
	a.Deliver(p, opts)
	return nil
}

// Deliver sends p to the matching local sockets, encoded once, and assigns
// no offset: what a cluster adapter calls for local delivery. With
// recovery on in the namespace, a packet that carries an offset (see
// SessionAdapter) records it as the namespace's newest.
func (a *MemoryAdapter) Deliver(p *parser.Packet, opts BroadcastOptions) {
	off := ""
	if a.ns.sessions != nil && logged(p, opts) {
		off = packetOffset(p)
	}
	a.deliver(p, opts, off)
}

// deliver is Deliver of a packet whose offset (if any) is known. Sockets
// being restored see it through the namespace's taps first (see tap).
func (a *MemoryAdapter) deliver(p *parser.Packet, opts BroadcastOptions, off string) {
	msgs := encodeMessages(p)
	if off != "" {
		a.ns.noteOffset(off)
	}
	if a.ns.ntaps.Load() > 0 {
		a.ns.tapDelivery(msgs, opts, off)
	}
	bp := receiversPool.Get().(*[]*Socket)
	ss := a.match(opts, (*bp)[:0])
	for _, s := range ss {
		a.ns.observeEventOut(s.id, p.Type, p.Data, p.Elems)
		s.write(msgs, opts.Flags.Volatile, off)
	}
	clear(ss)
	*bp = ss[:0]
	receiversPool.Put(bp)
}

// receiversPool recycles the receiver lists of broadcasts, so that a
// broadcast allocates nothing in proportion to its receivers.
var receiversPool = sync.Pool{New: func() any { return new([]*Socket) }}

// BroadcastWithAck implements Adapter. The receivers' ack callbacks are
// forgotten after opts.Flags.Timeout (Config.AckTimeout when unset), or as
// soon as every receiver has answered: the cleanup walks the receivers it
// reached, never the namespace, and what it holds (their list) is released
// with the last reply rather than kept for the whole timeout.
func (a *MemoryAdapter) BroadcastWithAck(_ context.Context, p *parser.Packet, opts BroadcastOptions, clientCount func(int), ack func(Args)) error {
	msgs := encodeMessages(p)
	ss := a.match(opts, nil)
	w := &ackWait{id: p.ID, ack: ack, pending: &a.pendingAcks}
	w.left.Store(int64(len(ss)) + 1) // +1: the receivers are being reached
	reply := w.reply                 // one callback shared by every receiver
	n := 0
	for _, s := range ss {
		if !s.registerAck(p.ID, reply) {
			continue
		}
		a.ns.observeEventOut(s.id, p.Type, p.Data, p.Elems)
		if s.write(msgs, opts.Flags.Volatile, "") {
			ss[n] = s
			n++
		} else {
			s.cancelAck(p.ID)
		}
	}
	clientCount(n)
	if n == 0 {
		return nil
	}
	clear(ss[n:])
	timeout := opts.Flags.Timeout
	if timeout <= 0 {
		timeout = a.ns.srv.cfg.AckTimeout
	}
	w.arm(ss[:n], int64(len(ss)-n), timeout)
	return nil
}

// ackWait is the receivers' side of one broadcast with acks: it forwards
// their replies and forgets the callbacks of those who did not answer in
// time.
type ackWait struct {
	id      uint64
	ack     func(Args)
	pending *atomic.Int64 // MemoryAdapter.pendingAcks
	left    atomic.Int64  // replies awaited, +1 until armed

	mu      sync.Mutex
	reached []*Socket // nil once done
	timer   *time.Timer
}

// reply is every receiver's callback: the first reply of each receiver
// (the socket deletes its callback as it calls it).
func (w *ackWait) reply(args Args) {
	w.ack(args)
	w.answered(1)
}

// arm starts the timeout once the receivers are known; unreached of them
// were matched but not written to and will never answer.
func (w *ackWait) arm(reached []*Socket, unreached int64, timeout time.Duration) {
	w.mu.Lock()
	w.reached = reached
	w.pending.Add(1)
	w.timer = time.AfterFunc(timeout, w.expire)
	w.mu.Unlock()
	w.answered(unreached + 1)
}

// answered counts n replies; with the last one the wait is done.
func (w *ackWait) answered(n int64) {
	if w.left.Add(-n) != 0 {
		return
	}
	w.mu.Lock()
	if w.reached != nil && w.timer.Stop() {
		w.reached = nil
		w.pending.Add(-1)
	}
	w.mu.Unlock()
}

// expire forgets the callbacks of the receivers that did not answer.
func (w *ackWait) expire() {
	w.mu.Lock()
	reached := w.reached
	w.reached = nil
	w.mu.Unlock()
	if reached == nil {
		return
	}
	for _, s := range reached {
		s.cancelAck(w.id)
	}
	w.pending.Add(-1)
}

// Rooms returns every room of this server's sockets (socket-id rooms
// included): Node's adapter.rooms keys, for a cluster adapter's allRooms.
func (a *MemoryAdapter) Rooms() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.rooms))
	for r := range a.rooms {
		out = append(out, r)
	}
	return out
}

// ServerCount implements Adapter.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// FetchSockets implements Adapter.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	ss := a.match(opts, nil)
	out := make([]SocketInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info())
	}
	return out, nil
}

// AddSockets implements Adapter.
func (a *MemoryAdapter) AddSockets(_ context.Context, opts BroadcastOptions, rooms []string) error {
	for _, s := range a.match(opts, nil) {
		s.Join(rooms...)
	}
	return nil
}

// DelSockets implements Adapter.
func (a *MemoryAdapter) DelSockets(_ context.Context, opts BroadcastOptions, rooms []string) error {
	for _, s := range a.match(opts, nil) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
	return nil
}

// DisconnectSockets implements Adapter.
func (a *MemoryAdapter) DisconnectSockets(_ context.Context, opts BroadcastOptions, close bool) error {
	for _, s := range a.match(opts, nil) {
		s.Disconnect(close)
	}
	return nil
}

// Close implements Adapter.
func (a *MemoryAdapter) Close(context.Context) error { return nil }

// match appends the connected local sockets selected by opts to out and
// returns it. Receivers come from the rooms' members, with no lookup per
// receiver. The lock is released before the caller acts on them (sending
// may close a connection, which leaves rooms).
func (a *MemoryAdapter) match(opts BroadcastOptions, out []*Socket) []*Socket {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ex := a.excludedLocked(opts.Except)
	add := func(m *member) {
		if m.s != nil && !ex.has(m) && m.s.Connected() {
			out = append(out, m.s)
		}
	}
	switch {
	case len(opts.Rooms) == 1:
		out = slices.Grow(out, len(a.rooms[opts.Rooms[0]]))
		for m := range a.rooms[opts.Rooms[0]] {
			add(m)
		}
	case len(opts.Rooms) > 1:
		n := 0
		for _, r := range opts.Rooms {
			n += len(a.rooms[r])
		}
		out = slices.Grow(out, n)
		seen := make(map[*member]struct{}, n)
		for _, r := range opts.Rooms {
			for m := range a.rooms[r] {
				if _, ok := seen[m]; !ok {
					seen[m] = struct{}{}
					add(m)
				}
			}
		}
	default:
		out = slices.Grow(out, len(a.sids))
		for _, m := range a.sids {
			add(m)
		}
	}
	return out
}

// excluded is the set of members a broadcast skips (its Except rooms): a
// short list scanned in place when small (Socket.Broadcast excludes the
// sender's own id room, one member), a set otherwise.
type excluded struct {
	few  [maxFewExcluded]*member
	nfew int
	set  map[*member]struct{}
}

// maxFewExcluded is the largest exclusion kept as a list.
const maxFewExcluded = 8

func (a *MemoryAdapter) excludedLocked(rooms []string) excluded {
	var ex excluded
	if len(rooms) == 0 {
		return ex
	}
	n := 0
	for _, r := range rooms {
		n += len(a.rooms[r])
	}
	if n > maxFewExcluded {
		ex.set = make(map[*member]struct{}, n)
		for _, r := range rooms {
			for m := range a.rooms[r] {
				ex.set[m] = struct{}{}
			}
		}
		return ex
	}
	for _, r := range rooms {
		for m := range a.rooms[r] {
			ex.few[ex.nfew] = m
			ex.nfew++
		}
	}
	return ex
}

func (ex *excluded) has(m *member) bool {
	if ex.set != nil {
		_, ok := ex.set[m]
		return ok
	}
	return slices.Contains(ex.few[:ex.nfew], m)
}

// encodeMessages encodes p into the Engine.IO messages that carry it.
func encodeMessages(p *parser.Packet) []*engine.Message {
	text, bins := parser.Encode(p)
	msgs := make([]*engine.Message, 0, 1+len(bins))
	msgs = append(msgs, engine.TextMessage(text))
	for _, b := range bins {
		msgs = append(msgs, engine.BinaryMessage(b))
	}
	return msgs
}

// socketData returns the JSON form of v (nil if it has none).
func socketData(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
