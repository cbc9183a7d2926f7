package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/parser"
)

// Handshake is what the client sent when it connected. Its JSON form is
// Node's socket.handshake (see MarshalJSON), which FetchSockets exchanges
// with the other servers of a cluster.
type Handshake struct {
	Headers http.Header // the handshake request's, Host included
	Query   url.Values
	Auth    json.RawMessage // the CONNECT packet's payload; nil if none
	Address string          // remote address (ip:port) of the handshake request
	Time    time.Time       // when the socket was created (Node's time and issued)
	Secure  bool
	URL     string // the handshake request's URL (path and query), Node's url
	XDomain bool   // the request had an Origin header, Node's xdomain
}

// AckFunc answers an event that requested an acknowledgement. It may be
// called once; later calls return an error.
type AckFunc func(args ...any) error

// EventHandler handles one inbound event. ack is nil when the client asked
// for no acknowledgement. Handlers of one socket run one at a time, in the
// order the client sent the events.
type EventHandler func(s *Socket, args Args, ack AckFunc)

const (
	stateConnecting int32 = iota
	stateConnected
	stateClosing
	stateClosed
)

// Socket is one client's connection to one namespace.
//
// Its inbound work (connection middleware and handlers, events, disconnect
// handlers) runs on a worker goroutine assigned only while there is work
// queued (see inbox): no goroutine per packet, none per idle socket.
type Socket struct {
	id     string
	ns     *Namespace
	client *client
	auth   json.RawMessage // the CONNECT payload (Handshake.Auth)
	born   time.Time       // Handshake.Time
	// The socket is its own Context (socketContext, socket_ctx.go): ended
	// records its end, done and afters are made when first asked for.
	// All under mu.
	ended    bool
	done     chan struct{}
	afters   []afterFunc
	afterSeq uint64
	state    atomic.Int32
	// finished guards finish (the release of a socket that never connected).
	finished atomic.Bool

	mu              sync.Mutex
	data            any
	handlers        []eventBinding // Socket.On's, nil until the first (see Namespace.On)
	onDisconnecting []func(*Socket, string)
	onDisconnect    []func(*Socket, string)
	acks            map[uint64]func(Args) // server→client acks awaited

	in  inbox
	rec *socketRecovery // nil unless recovery is on in the namespace
}

func newSocket(ns *Namespace, c *client, auth json.RawMessage) *Socket {
	s := &Socket{id: newID(), ns: ns, client: c}
	if ns.sessions != nil {
		// pid and offset are the client's, not the application's.
		pid, offset, rest := splitRecoveryAuth(auth)
		s.rec = &socketRecovery{pid: pid, offset: offset}
		auth = rest
	}
	s.auth, s.born = auth, time.Now()
	s.in.init(s, ns.srv.cfg.InboundQueue, ns.srv.cfg.InboundBytes)
	return s
}

// ID returns the socket's id: 20 characters, distinct from the Engine.IO sid.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns what the client sent when it connected. It is built on
// each call (headers and query included) from the compact record the
// connection keeps of its handshake request: an idle socket holds no
// Handshake, no header map and no parsed query.
func (s *Socket) Handshake() *Handshake {
	conn := s.client.conn
	h := conn.Header()
	_, rawQuery, _ := strings.Cut(conn.RequestURI(), "?")
	q, _ := url.ParseQuery(rawQuery)
	return &Handshake{
		Headers: h,
		Query:   q,
		Auth:    s.auth,
		Address: conn.RemoteAddr(),
		Time:    s.born,
		Secure:  conn.Secure(),
		URL:     conn.RequestURI(),
		XDomain: h.Get("Origin") != "",
	}
}

// SetData attaches application data to the socket.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// Data returns what SetData stored.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// Connected reports whether the socket is connected to its namespace.
func (s *Socket) Connected() bool { return s.state.Load() == stateConnected }

// Rooms returns the socket's rooms, including its own id.
func (s *Socket) Rooms() []string { return s.ns.adapter.SocketRooms(s.id) }

// Join adds the socket to rooms. It does nothing once the socket has left
// its rooms on disconnect.
func (s *Socket) Join(rooms ...string) {
	if st := s.state.Load(); st == stateClosed || len(rooms) == 0 {
		return
	}
	s.ns.adapter.AddAll(s.id, rooms)
	// Join may run on any goroutine (SocketsJoin, another socket's handler)
	// while the socket disconnects: runClose marks it closed before it
	// leaves its rooms, so either that DelAll follows our AddAll, or we see
	// the closed state here and undo the join ourselves. Without this a
	// dead socket could stay in a room forever.
	if s.state.Load() == stateClosed {
		s.ns.adapter.DelAll(s.id)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.ns.adapter.Del(s.id, room) }

// eventBinding is one handler of Socket.On. A socket keeps them in a
// slice: a handful per socket, found by a scan, cost less than a map each.
type eventBinding struct {
	event string
	h     EventHandler
}

// On registers the handler of event for this socket (replacing a previous
// one); it takes precedence over the namespace's (Namespace.On).
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.handlers {
		if s.handlers[i].event == event {
			s.handlers[i].h = h
			return
		}
	}
	s.handlers = append(s.handlers, eventBinding{event, h})
}

// handler returns the handler of event: the socket's own, else the
// namespace's (nil if none).
func (s *Socket) handler(event string) EventHandler {
	s.mu.Lock()
	for _, b := range s.handlers {
		if b.event == event {
			s.mu.Unlock()
			return b.h
		}
	}
	s.mu.Unlock()
	return s.ns.eventHandler(event)
}

// OnDisconnecting runs before the socket leaves its rooms (Rooms still readable);
// OnDisconnect after. reason is Node's disconnect reason string (Reason*).
// Both run on the socket's worker, after the event handler in progress.
func (s *Socket) OnDisconnecting(h func(s *Socket, reason string)) {
	s.mu.Lock()
	s.onDisconnecting = append(s.onDisconnecting, h)
	s.mu.Unlock()
}

// OnDisconnect registers a handler run once the socket has left its rooms.
func (s *Socket) OnDisconnect(h func(s *Socket, reason string)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, h)
	s.mu.Unlock()
}

// Emit sends an event to this socket. []byte arguments travel as binary.
// With recovery on it is a broadcast to the socket's id room (as in Node),
// so that it is logged and gets an offset, even when the socket is not
// connected (ErrNotConnected then): a recovered successor receives it.
func (s *Socket) Emit(event string, args ...any) error {
	p, err := s.ns.eventPacket(event, args)
	if err != nil {
		return err
	}
	if s.rec != nil {
		err := s.ns.adapter.Broadcast(context.Background(), p, BroadcastOptions{Rooms: []string{s.id}})
		if err == nil && !s.Connected() {
			err = ErrNotConnected
		}
		return err
	}
	return s.send(p)
}

func (s *Socket) send(p *parser.Packet) error {
	if !s.Connected() {
		return ErrNotConnected
	}
	s.ns.observeEventOut(s.id, p.Type, p.Data, p.Elems)
	if !s.write(encodeMessages(p), false, "") {
		return ErrNotConnected
	}
	return nil
}

// sendReply is send for an ack: the engine may write it on the calling
// goroutine (the socket's worker, usually) instead of handing it to a
// writer goroutine (engine.Conn.SendDirect).
func (s *Socket) sendReply(p *parser.Packet) error {
	if !s.Connected() {
		return ErrNotConnected
	}
	s.ns.observeEventOut(s.id, p.Type, p.Data, p.Elems)
	msgs := encodeMessages(p)
	if r := s.rec; r != nil && r.gating.Load() && r.hold(msgs, false, "") {
		return nil
	}
	if !s.client.writeReply(msgs) {
		return ErrNotConnected
	}
	return nil
}

// write queues the messages of one packet for the socket; off is the
// packet's offset ("" if none). While a recovered socket's missed packets
// are being replayed, writes wait behind them (see socketRecovery).
func (s *Socket) write(msgs []*engine.Message, volatile bool, off string) bool {
	if r := s.rec; r != nil && r.gating.Load() && r.hold(msgs, volatile, off) {
		return true
	}
	return s.client.write(msgs, volatile)
}

// EmitWithAck sends an event and waits for the client's ack until ctx ends
// (or Config.AckTimeout when ctx has no deadline). It returns ErrAckTimeout
// when the deadline passes, ErrNotConnected when the socket disconnects
// first, and ctx.Err() when ctx is cancelled.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	p, err := s.ns.eventPacket(event, args)
	if err != nil {
		return Args{}, err
	}
	p.HasID, p.ID = true, s.ns.ackID.Add(1)-1
	ch := make(chan Args, 1)
	if !s.registerAck(p.ID, func(a Args) {
		select {
		case ch <- a:
		default:
		}
	}) {
		return Args{}, ErrNotConnected
	}
	defer s.cancelAck(p.ID)
	if err := s.send(p); err != nil {
		return Args{}, err
	}
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := time.NewTimer(s.ns.srv.cfg.AckTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case a := <-ch:
		return a, nil
	case <-timeout:
		return Args{}, ErrAckTimeout
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Args{}, ErrAckTimeout
		}
		return Args{}, ctx.Err()
	case <-s.Context().Done():
	case <-s.ns.srv.draining:
		// Shutdown: the client may never answer, the drain must not wait.
	}
	select {
	case a := <-ch:
		return a, nil
	default:
	}
	return Args{}, ErrNotConnected
}

// registerAck records the callback of ack id; false if the socket is gone.
func (s *Socket) registerAck(id uint64, fn func(Args)) bool {
	if st := s.state.Load(); st != stateConnected {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks == nil {
		s.acks = make(map[uint64]func(Args))
	}
	s.acks[id] = fn
	return true
}

func (s *Socket) cancelAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

func (s *Socket) operator() *BroadcastOperator {
	return &BroadcastOperator{ns: s.ns, except: []string{s.id}}
}

// To/Except/Broadcast start a broadcast that excludes this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator     { return s.operator().To(rooms...) }
func (s *Socket) Except(rooms ...string) *BroadcastOperator { return s.operator().Except(rooms...) }
func (s *Socket) Broadcast() *BroadcastOperator             { return s.operator() }

// Volatile returns an operator targeting only this socket (on this server)
// whose emits may be dropped when the transport cannot take them now.
func (s *Socket) Volatile() *BroadcastOperator {
	return &BroadcastOperator{ns: s.ns, rooms: []string{s.id}, flags: BroadcastFlags{Volatile: true, Local: true}}
}

// Disconnect leaves the namespace (reason "server namespace disconnect");
// with close=true the whole underlying connection is closed.
func (s *Socket) Disconnect(close bool) {
	if !s.Connected() {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	s.onClose(ReasonServerNamespaceDisconnect) // before the client can answer the packet
	s.write(encodeMessages(&parser.Packet{Type: parser.Disconnect, Namespace: s.ns.name}), false, "")
}

func (s *Socket) info() SocketInfo {
	return SocketInfo{ID: s.id, Rooms: s.Rooms(), Handshake: *s.Handshake(), Data: socketData(s.Data())}
}

// onPacket handles a packet of a connected (or connecting) socket; called
// by the client's OnMessage.
func (s *Socket) onPacket(p *parser.Packet) {
	switch p.Type {
	case parser.Event:
		s.enqueue(task{kind: taskEvent, p: p, size: packetSize(p), at: time.Now()})
	case parser.Ack:
		s.onAck(p)
	case parser.Disconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

// onAck resolves an acknowledgement inline, so a handler blocked in
// EmitWithAck is released even while the socket's worker is busy.
func (s *Socket) onAck(p *parser.Packet) {
	if !p.HasID {
		return
	}
	s.mu.Lock()
	fn := s.acks[p.ID]
	delete(s.acks, p.ID)
	s.mu.Unlock()
	if fn == nil {
		return
	}
	if p.Elems != nil {
		fn(Args{raw: p.Elems, bins: p.Attachments})
		return
	}
	a, err := NewArgs(p.Data, p.Attachments)
	if err != nil {
		return
	}
	fn(a)
}

// onClose starts the disconnection of s: its context is cancelled at once,
// pending events are dropped, and the disconnect handlers run on the worker.
func (s *Socket) onClose(reason string) {
	if s.state.CompareAndSwap(stateConnecting, stateClosed) {
		// Refused or interrupted before connecting: the connect task sees
		// the state and finishes the cleanup.
		s.end()
		s.client.remove(s)
		return
	}
	if !s.state.CompareAndSwap(stateConnected, stateClosing) {
		return
	}
	s.end()
	s.client.remove(s)
	s.in.closeWith(task{kind: taskClose, reason: reason})
}

// drain is Shutdown's disconnection: a connected socket takes no new
// event, runs those queued, then disconnects with reason (taskDrain),
// still able to send their acks meanwhile. A socket still connecting is
// closed at once.
func (s *Socket) drain(reason string) {
	switch s.state.Load() {
	case stateConnecting:
		s.onClose(reason)
	case stateConnected:
		s.in.closeAfter(task{kind: taskDrain, reason: reason})
	}
}

// runConnect runs the middleware, then connects the socket and runs the
// connection handlers. With recovery on it first restores the client's
// session (see restore and replay).
func (s *Socket) runConnect() {
	mws, onConn := s.ns.hooks()
	var rs *restoring
	if s.rec != nil {
		if rs = s.restore(); rs != nil {
			defer s.ns.stopTap(rs.tap) // also when the middleware refuses or panics
			if s.ns.rec.SkipMiddlewares {
				mws = nil
			}
		}
	}
	for _, m := range mws {
		if s.state.Load() != stateConnecting {
			break
		}
		if err := m(s); err != nil {
			s.refuse(err)
			return
		}
	}
	if !s.state.CompareAndSwap(stateConnecting, stateConnected) {
		s.finish()
		return
	}
	// CONNECT goes out before the socket can receive anything else.
	pid := ""
	if s.rec != nil {
		pid = s.rec.pid
	}
	s.client.writePacket(&parser.Packet{Type: parser.Connect, Namespace: s.ns.name, Data: connectReply(s.id, pid)}, false)
	rooms := []string{s.id}
	if rs != nil {
		s.rec.gating.Store(true) // before anyone can find the socket
		rooms = append(rooms, rs.sess.Rooms...)
	}
	s.ns.add(s)
	s.ns.adapter.AddAll(s.id, rooms)
	if rs != nil {
		s.replay(rs)
	}
	s.client.connected()
	s.observeConnected()
	for _, h := range onConn {
		if !s.Connected() {
			return
		}
		h(s)
	}
}

func (s *Socket) refuse(err error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	var ed ErrorData
	if errors.As(err, &ed) {
		body.Data = ed.ErrorData()
	}
	b, mErr := json.Marshal(body)
	if mErr != nil {
		b, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{err.Error()})
	}
	if s.state.CompareAndSwap(stateConnecting, stateClosed) {
		s.end()
		s.client.remove(s)
		s.client.writePacket(&parser.Packet{Type: parser.ConnectError, Namespace: s.ns.name, Data: b}, false)
	}
	s.finish()
}

// finish releases what a socket that never connected holds. It may be
// reached twice when a panic interrupts a refusal; only the first counts.
func (s *Socket) finish() {
	if !s.finished.CompareAndSwap(false, true) {
		return
	}
	s.ns.adapter.DelAll(s.id)
	s.ns.srv.live.Add(-1)
}

// runEvent dispatches one EVENT packet.
func (s *Socket) runEvent(p *parser.Packet, at time.Time) {
	if !s.Connected() {
		return
	}
	elems, name, ok := eventOf(p)
	if !ok {
		return
	}
	s.observeEventIn(elems)
	h := s.handler(name)
	if h == nil {
		return
	}
	var ack AckFunc
	if p.HasID {
		ack = s.ackFunc(p.ID)
	}
	h(s, Args{raw: elems[1:], bins: p.Attachments, at: at}, ack)
}

// expireEvent hands an event that expired in the inbox to the namespace's
// ExpiredHandler (Config.EventDeadline).
func (s *Socket) expireEvent(p *parser.Packet) {
	h := s.ns.expiredHandler()
	if h == nil || !s.Connected() {
		return
	}
	_, name, ok := eventOf(p)
	if !ok {
		return
	}
	var ack AckFunc
	if p.HasID {
		ack = s.ackFunc(p.ID)
	}
	h(s, name, ack)
}

// eventOf returns an EVENT packet's elements and its name; false when the
// payload is not an array starting with a string (the packet is dropped).
func eventOf(p *parser.Packet) (elems []json.RawMessage, name string, ok bool) {
	elems = p.Elems
	if elems == nil && json.Unmarshal(p.Data, &elems) != nil {
		return nil, "", false
	}
	if len(elems) == 0 {
		return nil, "", false
	}
	name, err := parser.EventName(elems[0])
	if err != nil {
		return nil, "", false
	}
	return elems, name, true
}

func (s *Socket) ackFunc(id uint64) AckFunc {
	var sent atomic.Bool
	return func(args ...any) error {
		if !sent.CompareAndSwap(false, true) {
			return ErrAckSent
		}
		data, bins, err := parser.MarshalArray(args)
		if err != nil {
			return err
		}
		return s.sendReply(&parser.Packet{Type: parser.Ack, Namespace: s.ns.name, HasID: true, ID: id, Data: data, Attachments: bins})
	}
}

// runClose is the end of a connected socket: disconnecting handlers (rooms
// readable), rooms left, disconnect handlers.
func (s *Socket) runClose(reason string) {
	s.mu.Lock()
	dising := s.onDisconnecting
	dis := s.onDisconnect
	s.mu.Unlock()
	for _, h := range dising {
		s.safe(func() { h(s, reason) })
	}
	var rooms []string
	persist := s.rec != nil && recoverable(reason)
	if persist {
		rooms = s.Rooms()
	}
	// Closed before the rooms are left: a concurrent Join either precedes
	// this DelAll or sees the state and undoes itself (see Join).
	s.state.Store(stateClosed)
	s.ns.adapter.DelAll(s.id)
	s.ns.remove(s)
	s.mu.Lock()
	s.acks = nil
	s.mu.Unlock()
	s.observeDisconnected(reason)
	for _, h := range dis {
		s.safe(func() { h(s, reason) })
	}
	if s.rec != nil {
		// Last: a recovered successor with the same id may connect as
		// soon as the session is stored, and finds this socket by its pid
		// (then waits for end) until then.
		if persist {
			s.persist(rooms)
		}
		s.ns.forgetPID(s)
		s.rec.end()
	}
	s.ns.srv.live.Add(-1)
}

// safe runs fn, turning a panic into a log line so the worker survives. It
// reports whether fn returned normally.
func (s *Socket) safe(fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			s.client.logger().Error("socketio: handler panic", "ns", s.ns.name, "socket", s.id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
	return true
}

func (s *Socket) enqueue(t task) { s.in.push(t) }

// SocketInfo is a snapshot of a (possibly remote) socket. Its JSON form is
// Node's RemoteSocket: {id, handshake, rooms, data}, data {} when nil.
type SocketInfo struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Handshake Handshake       `json:"handshake"`
	Data      json.RawMessage `json:"data"` // JSON form of the socket's Data (for remote sockets)
}

// MarshalJSON implements json.Marshaler.
func (si SocketInfo) MarshalJSON() ([]byte, error) {
	type plain SocketInfo
	p := plain(si)
	if len(p.Data) == 0 {
		p.Data = json.RawMessage(`{}`)
	}
	if p.Rooms == nil {
		p.Rooms = []string{}
	}
	return json.Marshal(p)
}
