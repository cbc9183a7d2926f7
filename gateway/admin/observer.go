package admin

import (
	"encoding/json"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// aggregatedEvent is one entry of server_stats.aggregatedEvents.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"` // ms, truncated to the second
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     int64  `json:"count"`
}

// counters accumulate the engine's traffic between two server_stats:
// atomics on the packet path, a mutex only for disconnections (by reason).
// Each emission reports them as one bucket stamped with its second (the UI
// sums them into 10 s buckets).
type counters struct {
	conns, packetsIn, packetsOut, bytesIn, bytesOut atomic.Int64

	mu       sync.Mutex
	closings map[string]int64
}

func (c *counters) closed(reason string) {
	c.mu.Lock()
	if c.closings == nil {
		c.closings = make(map[string]int64)
	}
	c.closings[reason]++
	c.mu.Unlock()
}

// drain returns the counts since the previous drain, stamped ts.
func (c *counters) drain(ts time.Time) []aggregatedEvent {
	ms := ts.Truncate(time.Second).UnixMilli()
	out := []aggregatedEvent{}
	for _, e := range []struct {
		typ string
		n   *atomic.Int64
	}{{"rawConnection", &c.conns}, {"packetsIn", &c.packetsIn}, {"packetsOut", &c.packetsOut}, {"bytesIn", &c.bytesIn}, {"bytesOut", &c.bytesOut}} {
		if n := e.n.Swap(0); n > 0 {
			out = append(out, aggregatedEvent{Timestamp: ms, Type: e.typ, Count: n})
		}
	}
	c.mu.Lock()
	for reason, n := range c.closings {
		out = append(out, aggregatedEvent{Timestamp: ms, Type: "rawDisconnection", SubType: reason, Count: n})
	}
	clear(c.closings)
	c.mu.Unlock()
	return out
}

// counterObserver feeds the counters only (production mode).
type counterObserver struct{ c *counters }

func (o counterObserver) ConnOpened()              { o.c.conns.Add(1) }
func (o counterObserver) ConnClosed(reason string) { o.c.closed(reason) }
func (o counterObserver) PacketIn(size int) {
	o.c.packetsIn.Add(1)
	o.c.bytesIn.Add(int64(size))
}
func (o counterObserver) PacketsOut(n, size int) {
	o.c.packetsOut.Add(int64(n))
	o.c.bytesOut.Add(int64(size))
}
func (counterObserver) SocketConnected(*socketio.Socket)                       {}
func (counterObserver) SocketDisconnected(*socketio.Socket, string)            {}
func (counterObserver) RoomJoined(*socketio.Namespace, string, string)         {}
func (counterObserver) RoomLeft(*socketio.Namespace, string, string)           {}
func (counterObserver) EventReceived(*socketio.Socket, []json.RawMessage)      {}
func (counterObserver) EventSent(*socketio.Namespace, string, json.RawMessage) {}

// observer is the development mode: the counters plus one admin broadcast
// per socket connection, disconnection, room change and event, as Node's
// registerVerboseListeners (the admin namespace's own events excepted).
type observer struct{ a *Admin }

var (
	_ socketio.Observer = observer{}
	_ socketio.Observer = counterObserver{}
)

func (o observer) ConnOpened()              { o.a.stats.conns.Add(1) }
func (o observer) ConnClosed(reason string) { o.a.stats.closed(reason) }
func (o observer) PacketIn(size int)        { counterObserver{&o.a.stats}.PacketIn(size) }
func (o observer) PacketsOut(n, size int)   { counterObserver{&o.a.stats}.PacketsOut(n, size) }

func (o observer) now() jsonDate { return jsonDate(o.a.cfg.Now()) }

func (o observer) SocketConnected(s *socketio.Socket) {
	o.a.mu.Lock()
	o.a.transports[s] = s.Transport()
	o.a.mu.Unlock()
	nsp := s.Namespace().Name()
	info := socketio.SocketInfo{ID: s.ID(), Rooms: s.Rooms(), Handshake: *s.Handshake(), Data: jsonOf(s.Data())}
	o.a.broadcast("socket_connected", serialize(nsp, info, s), o.now())
}

func (o observer) SocketDisconnected(s *socketio.Socket, reason string) {
	o.a.mu.Lock()
	delete(o.a.transports, s)
	o.a.mu.Unlock()
	o.a.broadcast("socket_disconnected", s.Namespace().Name(), s.ID(), reason, o.now())
}

func (o observer) RoomJoined(ns *socketio.Namespace, room, id string) {
	o.a.broadcast("room_joined", ns.Name(), room, id, o.now())
}

func (o observer) RoomLeft(ns *socketio.Namespace, room, id string) {
	o.a.broadcast("room_left", ns.Name(), room, id, o.now())
}

func (o observer) EventReceived(s *socketio.Socket, elems []json.RawMessage) {
	if s.Namespace() == o.a.ns {
		return
	}
	o.a.broadcast("event_received", s.Namespace().Name(), s.ID(), elems, o.now())
}

func (o observer) EventSent(ns *socketio.Namespace, id string, payload json.RawMessage) {
	if ns == o.a.ns {
		return // our own broadcasts (and no loop)
	}
	o.a.broadcast("event_sent", ns.Name(), id, payload, o.now())
}

// transportUpdates sends socket_updated for the local sockets whose
// connection upgraded since the previous call (the core has no upgrade
// hook; Node listens to the engine's "upgrade").
func (a *Admin) transportUpdates() {
	var changed []socketUpdate
	a.mu.Lock()
	for s, last := range a.transports {
		if t := s.Transport(); t != last {
			a.transports[s] = t
			changed = append(changed, socketUpdate{ID: s.ID(), Nsp: s.Namespace().Name(), Transport: t})
		}
	}
	a.mu.Unlock()
	for _, u := range changed {
		a.broadcast("socket_updated", u)
	}
}

// serverStats is this instance's server_stats; drain takes the counters
// (false for the extra stats sent to one new admin socket).
func (a *Admin) serverStats(drain bool) serverStats {
	now := a.cfg.Now()
	st := serverStats{
		ServerID: a.cfg.ServerID, Hostname: a.hostname, PID: os.Getpid(),
		Uptime:       now.Sub(a.started).Seconds(),
		ClientsCount: a.io.Clients(), PollingClientsCount: a.io.PollingClients(),
		AggregatedEvents: []aggregatedEvent{},
	}
	if drain {
		st.AggregatedEvents = a.stats.drain(now)
	}
	for _, n := range a.io.Namespaces() {
		st.Namespaces = append(st.Namespaces, namespaceStats{Name: n.Name(), SocketsCount: n.Len()})
	}
	slices.SortFunc(st.Namespaces, func(x, y namespaceStats) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return st
}

// jsonOf is the JSON form of a socket's data (nil if it has none).
func jsonOf(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if _, ok := v.(newSession); ok {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
