package socketio

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// Namespace is a communication channel multiplexed over one connection.
type Namespace struct {
	name    string
	srv     *Server
	adapter Adapter
	ackID   atomic.Uint64 // shared by every socket so broadcast acks use one id

	mu           sync.RWMutex
	sockets      map[string]*Socket
	middleware   []Middleware
	onConn       []func(*Socket)
	onEvent      map[string]EventHandler // Namespace.On: every socket's handlers
	onServerSide map[string][]ServerSideHandler
	onExpired    ExpiredHandler

	closeOnce sync.Once
	closeErr  error

	// Recovery (Config.Recovery with a SessionAdapter; nil: off).
	rec      *RecoveryConfig
	sessions SessionAdapter
	offMu    sync.Mutex
	lastOff  string // newest offset delivered (see noteOffset)
	tapMu    sync.Mutex
	taps     []*tap // copy on write
	ntaps    atomic.Int32
	pids     map[string]*Socket // connected sockets by pid, under mu
}

// newNamespace builds namespace name and its adapter; the factory's error
// is returned with the namespace named.
func (s *Server) newNamespace(name string) (*Namespace, error) {
	n := &Namespace{name: name, srv: s, sockets: make(map[string]*Socket)}
	a, err := s.cfg.Adapter(n)
	if err != nil {
		return nil, fmt.Errorf("socketio: adapter of namespace %s: %w", name, err)
	}
	if a == nil {
		return nil, fmt.Errorf("socketio: adapter of namespace %s: factory returned nil", name)
	}
	n.adapter = a
	if sa, ok := a.(SessionAdapter); ok && s.cfg.Recovery != nil {
		n.rec, n.sessions = s.cfg.Recovery, sa
	}
	return n, nil
}

// Name returns the namespace's name, e.g. "/" or "/chat".
func (n *Namespace) Name() string { return n.name }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Middleware vets a socket before it connects. A non-nil error refuses the
// connection with CONNECT_ERROR {message: err.Error()} plus {data: ...} when
// err (or a wrapped error) implements ErrorData.
type Middleware func(s *Socket) error

// ErrorData is implemented by middleware errors that carry connect_error data.
type ErrorData interface{ ErrorData() any }

// Use appends a connection middleware. Middleware runs on the socket's own
// worker goroutine, so it may do I/O without stalling other connections.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middleware = append(n.middleware, m)
	n.mu.Unlock()
}

// ExpiredHandler answers an event that expired in its socket's inbox
// (Config.EventDeadline): event is its name, ack nil when the client asked
// for none. It runs on a timer goroutine, possibly while the socket's
// worker runs another handler: it must only answer (ack, emit), never act
// on the event.
type ExpiredHandler func(s *Socket, event string, ack AckFunc)

// OnExpired sets the namespace's ExpiredHandler; without one, expired
// events wait for their turn like any other. Call it before sockets
// connect.
func (n *Namespace) OnExpired(h ExpiredHandler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onExpired = h
}

func (n *Namespace) expiredHandler() ExpiredHandler {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onExpired
}

// On registers the handler of event for every socket of the namespace
// (replacing a previous one): one table for all of them, where a
// Socket.On in a connection handler costs each socket its own entry and
// closure. A socket's own handler for the same event takes precedence.
func (n *Namespace) On(event string, h EventHandler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.onEvent == nil {
		n.onEvent = make(map[string]EventHandler)
	}
	n.onEvent[event] = h
}

// eventHandler returns the namespace's handler of event (nil if none).
func (n *Namespace) eventHandler(event string) EventHandler {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onEvent[event]
}

// OnConnection registers the handler run for each connected socket, in the
// socket's own event order (before any of its events is dispatched).
func (n *Namespace) OnConnection(h func(s *Socket)) {
	n.mu.Lock()
	n.onConn = append(n.onConn, h)
	n.mu.Unlock()
}

// Len returns the number of sockets connected to this namespace on this
// server (Node's namespace.sockets.size): len(LocalSockets()) without the
// copy. FetchSockets counts cluster-wide.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// Socket returns the local socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// LocalSockets returns the sockets connected to this namespace on this instance.
func (n *Namespace) LocalSockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	if s.rec != nil {
		if n.pids == nil {
			n.pids = make(map[string]*Socket)
		}
		n.pids[s.rec.pid] = s
	}
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
}

// forgetPID is remove's part for recovery, once the session is persisted:
// a client coming back meanwhile finds the socket and waits for it (see
// takeOver).
func (n *Namespace) forgetPID(s *Socket) {
	n.mu.Lock()
	if n.pids[s.rec.pid] == s {
		delete(n.pids, s.rec.pid)
	}
	n.mu.Unlock()
}

// socketByPID returns the connected socket whose session is pid, or nil.
func (n *Namespace) socketByPID(pid string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.pids[pid]
}

func (n *Namespace) hooks() ([]Middleware, []func(*Socket)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.middleware, n.onConn
}

func (n *Namespace) closeAdapter(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.adapter.Close(ctx) })
	return n.closeErr
}

// NextAckID returns a fresh acknowledgement id of the namespace (ids are
// shared by its sockets so that a broadcast's acks use one id): for a
// cluster adapter delivering another server's broadcast with acks.
func (n *Namespace) NextAckID() uint64 { return n.ackID.Add(1) - 1 }

func (n *Namespace) operator() *BroadcastOperator { return &BroadcastOperator{ns: n} }

// To/In/Except/Local/Volatile/Timeout start a broadcast on the namespace.
func (n *Namespace) To(rooms ...string) *BroadcastOperator     { return n.operator().To(rooms...) }
func (n *Namespace) In(rooms ...string) *BroadcastOperator     { return n.operator().In(rooms...) }
func (n *Namespace) Except(rooms ...string) *BroadcastOperator { return n.operator().Except(rooms...) }
func (n *Namespace) Local() *BroadcastOperator                 { return n.operator().Local() }
func (n *Namespace) Volatile() *BroadcastOperator              { return n.operator().Volatile() }

// Timeout starts a broadcast whose EmitWithAck waits at most d.
func (n *Namespace) Timeout(d time.Duration) *BroadcastOperator { return n.operator().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.operator().Emit(event, args...) }

// EmitWithAck sends an event to every socket of the namespace and collects
// their acks (BroadcastOperator.EmitWithAck).
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.operator().EmitWithAck(ctx, event, args...)
}

// eventPacket builds the EVENT packet of event(args...).
func (n *Namespace) eventPacket(event string, args []any) (*parser.Packet, error) {
	if parser.IsReserved(event) {
		return nil, ErrReservedEvent
	}
	vals := make([]any, 0, len(args)+1)
	vals = append(vals, event)
	vals = append(vals, args...)
	data, bins, err := parser.MarshalArray(vals)
	if err != nil {
		return nil, err
	}
	return &parser.Packet{Type: parser.Event, Namespace: n.name, Data: data, Attachments: bins}, nil
}

// FetchSockets returns a snapshot of every socket of the namespace
// (cluster-wide with a cluster adapter).
func (n *Namespace) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return n.operator().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(ctx context.Context, rooms ...string) error {
	return n.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(ctx context.Context, rooms ...string) error {
	return n.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return n.operator().DisconnectSockets(ctx, close)
}

// ServerSideEmitter is the optional Adapter capability behind Node's
// serverSideEmit: sending an event (p, an EVENT packet) to the namespace on
// the other servers of a cluster. ServerSideEmitWithAck waits for one reply
// per other server until ctx ends or the adapter's request timeout, and
// returns the replies received so far with an error wrapping ErrAckTimeout
// when some are missing.
type ServerSideEmitter interface {
	ServerSideEmit(ctx context.Context, p *parser.Packet) error
	ServerSideEmitWithAck(ctx context.Context, p *parser.Packet) ([]Args, error)
}

// ServerSideHandler handles an event another server sent with
// ServerSideEmit. ack is nil when the sender wants no reply; otherwise its
// first call (by any of the event's handlers) sends v, JSON-encoded, as
// this server's reply, and later calls do nothing.
type ServerSideHandler func(args Args, ack func(v any))

// ServerSideEmit sends an event to the namespace on the other servers of the
// cluster (Node's serverSideEmit). It returns ErrNotSupported when the
// adapter has no cluster.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	sse, p, err := n.serverSidePacket(event, args)
	if err != nil {
		return err
	}
	return sse.ServerSideEmit(ctx, p)
}

// ServerSideEmitWithAck sends an event to the other servers and returns
// their replies (one per server that answered, each with one argument).
// When some servers do not answer in time the replies received so far come
// with an error wrapping ErrAckTimeout.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	sse, p, err := n.serverSidePacket(event, args)
	if err != nil {
		return nil, err
	}
	return sse.ServerSideEmitWithAck(ctx, p)
}

func (n *Namespace) serverSidePacket(event string, args []any) (ServerSideEmitter, *parser.Packet, error) {
	sse, ok := n.adapter.(ServerSideEmitter)
	if !ok {
		return nil, nil, ErrNotSupported
	}
	p, err := n.eventPacket(event, args)
	return sse, p, err
}

// OnServerSideEmit registers a handler of event sent by other servers with
// ServerSideEmit (Node's io.on(event) for server-side events). Handlers run
// on the adapter's goroutine: they must not block (ack may be called
// later, from any goroutine).
func (n *Namespace) OnServerSideEmit(event string, h ServerSideHandler) {
	n.mu.Lock()
	if n.onServerSide == nil {
		n.onServerSide = make(map[string][]ServerSideHandler)
	}
	n.onServerSide[event] = append(n.onServerSide[event], h)
	n.mu.Unlock()
}

// DispatchServerSideEmit is called by a cluster adapter with an event
// another server emitted; reply is nil when the sender wants no reply, else
// it is called at most once, with the first value a handler acknowledges.
// It reports whether the event has a handler (a server without one does
// not answer, as in Node).
func (n *Namespace) DispatchServerSideEmit(event string, args Args, reply func(v any)) bool {
	n.mu.RLock()
	hs := n.onServerSide[event]
	n.mu.RUnlock()
	var ack func(v any)
	if reply != nil {
		var once sync.Once
		ack = func(v any) { once.Do(func() { reply(v) }) }
	}
	for _, h := range hs {
		n.safeServerSide(event, func() { h(args, ack) })
	}
	return len(hs) > 0
}

// safeServerSide runs a server-side handler, turning a panic into a log
// line so that the adapter's goroutine survives.
func (n *Namespace) safeServerSide(event string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			n.srv.log.Error("socketio: server-side handler panic", "ns", n.name, "event", event, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}
