package socketio

import (
	"context"
	"encoding/json"
	"sync"
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
	rooms map[string]map[string]struct{} // room → socket ids
	sids  map[string]map[string]struct{} // socket id → rooms
}

var _ Adapter = (*MemoryAdapter)(nil)

// NewMemoryAdapter returns the in-memory adapter of n. It is the default
// AdapterFactory.
func NewMemoryAdapter(n *Namespace) *MemoryAdapter {
	return &MemoryAdapter{
		ns:    n,
		rooms: make(map[string]map[string]struct{}),
		sids:  make(map[string]map[string]struct{}),
	}
}

// AddAll implements Adapter. An Observer is told of the rooms actually
// joined, after the lock is released.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.ns.observeJoined(id, a.addAll(id, rooms, a.ns.observer() != nil))
}

// addAll adds id to rooms and, when track is set, returns the rooms it was
// not in before.
func (a *MemoryAdapter) addAll(id string, rooms []string, track bool) (joined []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.sids[id]
	if set == nil {
		set = make(map[string]struct{}, len(rooms))
		a.sids[id] = set
	}
	for _, r := range rooms {
		if _, in := set[r]; track && !in {
			joined = append(joined, r)
		}
		set[r] = struct{}{}
		m := a.rooms[r]
		if m == nil {
			m = make(map[string]struct{})
			a.rooms[r] = m
		}
		m[id] = struct{}{}
	}
	return joined
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	_, in := a.sids[id][room]
	if set := a.sids[id]; set != nil {
		delete(set, room)
	}
	a.delLocked(room, id)
	a.mu.Unlock()
	if in {
		a.ns.observeLeftOne(id, room)
	}
}

func (a *MemoryAdapter) delLocked(room, id string) {
	if m := a.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(a.rooms, room)
		}
	}
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id string) {
	track := a.ns.observer() != nil
	var left []string
	a.mu.Lock()
	for r := range a.sids[id] {
		a.delLocked(r, id)
		if track {
			left = append(left, r)
		}
	}
	delete(a.sids, id)
	a.mu.Unlock()
	a.ns.observeLeft(id, left)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	set := a.sids[id]
	if set == nil {
		return nil
	}
	out := make([]string, 0, len(set))
	for r := range set {
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
	for _, s := range a.match(opts) {
		a.ns.observeEventOut(s.id, p.Type, p.Data, p.Elems)
		s.write(msgs, opts.Flags.Volatile, off)
	}
}

// BroadcastWithAck implements Adapter. The receivers' ack callbacks are
// forgotten after opts.Flags.Timeout (Config.AckTimeout when unset).
func (a *MemoryAdapter) BroadcastWithAck(_ context.Context, p *parser.Packet, opts BroadcastOptions, clientCount func(int), ack func(Args)) error {
	msgs := encodeMessages(p)
	ss := a.match(opts)
	n := 0
	for _, s := range ss {
		if !s.registerAck(p.ID, ack) {
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
	if n > 0 {
		timeout := opts.Flags.Timeout
		if timeout <= 0 {
			timeout = a.ns.srv.cfg.AckTimeout
		}
		reached := ss[:n]
		time.AfterFunc(timeout, func() {
			for _, s := range reached {
				s.cancelAck(p.ID)
			}
		})
	}
	return nil
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
	ss := a.match(opts)
	out := make([]SocketInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.info())
	}
	return out, nil
}

// AddSockets implements Adapter.
func (a *MemoryAdapter) AddSockets(_ context.Context, opts BroadcastOptions, rooms []string) error {
	for _, s := range a.match(opts) {
		s.Join(rooms...)
	}
	return nil
}

// DelSockets implements Adapter.
func (a *MemoryAdapter) DelSockets(_ context.Context, opts BroadcastOptions, rooms []string) error {
	for _, s := range a.match(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
	return nil
}

// DisconnectSockets implements Adapter.
func (a *MemoryAdapter) DisconnectSockets(_ context.Context, opts BroadcastOptions, close bool) error {
	for _, s := range a.match(opts) {
		s.Disconnect(close)
	}
	return nil
}

// Close implements Adapter.
func (a *MemoryAdapter) Close(context.Context) error { return nil }

// match returns the connected local sockets selected by opts. The lock is
// released before the caller acts on them (sending may close a connection,
// which leaves rooms).
func (a *MemoryAdapter) match(opts BroadcastOptions) []*Socket {
	a.mu.RLock()
	var except map[string]struct{}
	if len(opts.Except) > 0 {
		except = make(map[string]struct{})
		for _, r := range opts.Except {
			for id := range a.rooms[r] {
				except[id] = struct{}{}
			}
		}
	}
	var ids []string
	if len(opts.Rooms) > 0 {
		n := 0
		for _, r := range opts.Rooms {
			n += len(a.rooms[r])
		}
		ids = make([]string, 0, n)
		var seen map[string]struct{}
		if len(opts.Rooms) > 1 {
			seen = make(map[string]struct{}, n)
		}
		for _, r := range opts.Rooms {
			for id := range a.rooms[r] {
				if _, ok := except[id]; ok {
					continue
				}
				if seen != nil {
					if _, ok := seen[id]; ok {
						continue
					}
					seen[id] = struct{}{}
				}
				ids = append(ids, id)
			}
		}
	} else {
		ids = make([]string, 0, len(a.sids))
		for id := range a.sids {
			if _, ok := except[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	a.mu.RUnlock()
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if s := a.ns.Socket(id); s != nil && s.Connected() {
			out = append(out, s)
		}
	}
	return out
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
