package socketio

import (
	"context"
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
	onServerSide []func(event string, args Args)

	closeOnce sync.Once
	closeErr  error
}

func (s *Server) newNamespace(name string) *Namespace {
	n := &Namespace{name: name, srv: s, sockets: make(map[string]*Socket)}
	n.adapter = s.cfg.Adapter(n)
	return n
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
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
}

func (n *Namespace) hooks() ([]Middleware, []func(*Socket)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.middleware, n.onConn
}

func (n *Namespace) closeAdapter() error {
	n.closeOnce.Do(func() { n.closeErr = n.adapter.Close() })
	return n.closeErr
}

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
// serverSideEmit: sending an event to the other servers of a cluster.
type ServerSideEmitter interface {
	ServerSideEmit(ctx context.Context, p *parser.Packet) error
}

// ServerSideEmit sends an event to the namespace on the other servers of the
// cluster. It returns ErrNotSupported when the adapter has no cluster.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	sse, ok := n.adapter.(ServerSideEmitter)
	if !ok {
		return ErrNotSupported
	}
	p, err := n.eventPacket(event, args)
	if err != nil {
		return err
	}
	return sse.ServerSideEmit(ctx, p)
}

// OnServerSideEmit registers the handler of events other servers send with
// ServerSideEmit. It runs on the adapter's goroutine: it must not block.
func (n *Namespace) OnServerSideEmit(h func(event string, args Args)) {
	n.mu.Lock()
	n.onServerSide = append(n.onServerSide, h)
	n.mu.Unlock()
}

// DispatchServerSideEmit is called by a cluster adapter with an event
// another server emitted.
func (n *Namespace) DispatchServerSideEmit(event string, args Args) {
	n.mu.RLock()
	hs := n.onServerSide
	n.mu.RUnlock()
	for _, h := range hs {
		h(event, args)
	}
}
