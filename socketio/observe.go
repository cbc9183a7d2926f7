package socketio

import (
	"encoding/json"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/parser"
)

// Observer watches a Server from the inside: connections, sockets, rooms
// and events, what Node's @socket.io/admin-ui instrument() listens to (the
// engine's connection and packet events, the adapters' join-room /
// leave-room, each socket's connection, disconnect, onAny and
// onAnyOutgoing). Set one with Server.Observe.
//
// Methods are called synchronously from many goroutines (connection
// readers, socket workers, whoever broadcasts), with none of our locks
// held, so an Observer may emit (e.g. to an admin namespace) but must not
// block for long: it delays the socket or connection it observes. The
// packets and slices it receives are shared: read-only, and not to be kept
// past the call unless copied. Without an Observer each hook costs one
// atomic load and allocates nothing.
type Observer interface {
	// ConnOpened: a new Engine.IO connection (Node's rawConnection).
	ConnOpened()
	// ConnClosed: an Engine.IO connection closed, with the engine's reason.
	ConnClosed(reason string)
	// PacketIn: an Engine.IO message of size bytes was read.
	PacketIn(size int)
	// PacketsOut: n Engine.IO messages totalling size bytes were queued on
	// one connection (a broadcast counts once per receiver).
	PacketsOut(n, size int)
	// SocketConnected: s connected (CONNECT sent, own room joined), before
	// the namespace's connection handlers run.
	SocketConnected(s *Socket)
	// SocketDisconnected: s left its rooms and its namespace, before its
	// disconnect handlers run; reason as in Reason*.
	SocketDisconnected(s *Socket, reason string)
	// RoomJoined / RoomLeft: local socket id joined or left room of ns
	// (only actual changes, the socket's own id room included).
	RoomJoined(ns *Namespace, room, id string)
	RoomLeft(ns *Namespace, room, id string)
	// EventReceived: s received an event; elems are the payload's array
	// elements, the event name first (binary values as placeholders).
	EventReceived(s *Socket, elems []json.RawMessage)
	// EventSent: an EVENT packet was queued for local socket id of ns
	// (direct emits and, once per receiver, broadcasts); payload is its
	// JSON array [name, args...] with binary placeholders.
	EventSent(ns *Namespace, id string, payload json.RawMessage)
}

// observerRef boxes an Observer for atomic.Pointer.
type observerRef struct{ o Observer }

// Observe installs o (nil removes the observer). Connections and sockets
// that exist already are observed from now on; Namespaces, LocalSockets
// and FetchSockets give the state so far.
func (s *Server) Observe(o Observer) {
	if o == nil {
		s.obs.Store(nil)
		return
	}
	s.obs.Store(&observerRef{o})
}

// observer returns the installed Observer or nil.
func (s *Server) observer() Observer {
	if s == nil {
		return nil
	}
	if r := s.obs.Load(); r != nil {
		return r.o
	}
	return nil
}

// Namespaces returns the namespaces that exist, static and dynamic ones.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// PollingClients returns the number of open Engine.IO connections whose
// transport is HTTP long-polling (not upgraded).
func (s *Server) PollingClients() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for c := range s.clients {
		if transportOf(c.conn) == "polling" {
			n++
		}
	}
	return n
}

// ConnID returns the Engine.IO session id of the socket's connection
// (shared by the sockets multiplexed on it; never sent to other clients by
// the core).
func (s *Socket) ConnID() string { return s.client.conn.ID() }

// Transport returns the current transport of the socket's connection:
// "polling" or "websocket".
func (s *Socket) Transport() string { return transportOf(s.client.conn) }

func transportOf(c engineConn) string {
	if t, ok := c.(interface{ Transport() string }); ok {
		return t.Transport()
	}
	return ""
}

// The hooks below are the one-line call sites in the rest of the package.

func (s *Server) observeConnOpened() {
	if o := s.observer(); o != nil {
		o.ConnOpened()
	}
}

func (s *Server) observeConnClosed(reason string) {
	if o := s.observer(); o != nil {
		o.ConnClosed(reason)
	}
}

func (s *Server) observePacketIn(size int) {
	if o := s.observer(); o != nil {
		o.PacketIn(size)
	}
}

func (s *Server) observePacketsOut(msgs []*engine.Message) {
	if o := s.observer(); o != nil {
		size := 0
		for _, m := range msgs {
			size += m.Len()
		}
		o.PacketsOut(len(msgs), size)
	}
}

func (s *Socket) observeConnected() {
	if o := s.ns.srv.observer(); o != nil {
		o.SocketConnected(s)
	}
}

func (s *Socket) observeDisconnected(reason string) {
	if o := s.ns.srv.observer(); o != nil {
		o.SocketDisconnected(s, reason)
	}
}

func (s *Socket) observeEventIn(elems []json.RawMessage) {
	if o := s.ns.srv.observer(); o != nil {
		o.EventReceived(s, elems)
	}
}

// observeEventOut takes the packet's fields, not the packet: passing p to
// an interface method would move every packet sent (acks included) to the
// heap.
func (n *Namespace) observeEventOut(id string, typ parser.Type, data json.RawMessage, elems []json.RawMessage) {
	if typ != parser.Event {
		return
	}
	if o := n.observer(); o != nil {
		if data == nil {
			data, _ = json.Marshal(elems)
		}
		o.EventSent(n, id, data)
	}
}

// observer is the Server's Observer; nil for a namespace without a server
// (an adapter built in a test).
func (n *Namespace) observer() Observer {
	if n == nil {
		return nil
	}
	return n.srv.observer()
}

func (n *Namespace) observeJoined(id string, rooms []string) {
	if o := n.observer(); o != nil {
		for _, r := range rooms {
			o.RoomJoined(n, r, id)
		}
	}
}

func (n *Namespace) observeLeftOne(id, room string) {
	if o := n.observer(); o != nil {
		o.RoomLeft(n, room, id)
	}
}

func (n *Namespace) observeLeft(id string, rooms []string) {
	if o := n.observer(); o != nil {
		for _, r := range rooms {
			o.RoomLeft(n, r, id)
		}
	}
}
