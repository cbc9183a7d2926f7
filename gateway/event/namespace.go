package event

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// Style is how a namespace answers events.
type Style int

const (
	// StyleTutorial is NestJS's behaviour the tutorial client relies on: the
	// ack carries the handler's reply (true) on success; a failure sends no
	// ack, only an "exception" event (SPEC §2).
	StyleTutorial Style = iota
	// StyleObject answers every event with an object ack: the reply, or
	// {success:false, error:{code, message}} plus the "exception" event
	// (SPEC §3).
	StyleObject
)

// Namespace is the gateway's side of one Socket.IO namespace: its reply
// style, connection middleware, events and lifecycle hooks. Products
// register everything before the wiring calls Attach, before any client
// can connect; several products may share a namespace ("/chat").
type Namespace struct {
	p     *Pipeline
	io    *socketio.Namespace
	name  string
	style Style
	ctr   *nsCounters

	middleware   []func(ctx context.Context, c *Client) error
	bindings     []binding
	onConnect    []func(c *Client)
	onDisconnect []func(ctx context.Context, c *Client, reason string)
}

// binding is one registered event of a namespace.
type binding struct {
	event string
	fn    func(c *Client, args socketio.Args, ack socketio.AckFunc)
	info  EventInfo
	ctr   eventCounters
}

// Namespace returns the pipeline's side of Socket.IO namespace name. It
// fails when the namespace's adapter cannot be built (a cluster adapter
// that cannot reach Redis).
func (p *Pipeline) Namespace(name string, style Style) (*Namespace, error) {
	io, err := p.io.OfErr(name)
	if err != nil {
		return nil, err
	}
	n := &Namespace{p: p, io: io, name: name, style: style, ctr: p.metrics.namespace(name)}
	p.metrics.socketsGauge(name, n.io.Len)
	return n, nil
}

// Name returns the namespace's name ("/chat").
func (n *Namespace) Name() string { return n.name }

// IO returns the Socket.IO namespace, for broadcasts and room operations.
func (n *Namespace) IO() *socketio.Namespace { return n.io }

// Pipeline returns the pipeline the namespace belongs to.
func (n *Namespace) Pipeline() *Pipeline { return n.p }

// Use appends a connection middleware: it vets a connecting socket (e.g.
// authentication attaching an identity with Client.SetIdentity); an error
// refuses the connection with connect_error {message, data:{code, message}}.
func (n *Namespace) Use(m func(ctx context.Context, c *Client) error) {
	n.middleware = append(n.middleware, m)
}

// OnConnect appends a hook run on the socket's worker once it connected,
// before any of its events. first puts it before the hooks registered so
// far (authentication greets or drops a socket before anything else).
func (n *Namespace) OnConnect(h func(c *Client), first bool) {
	if first {
		n.onConnect = append([]func(*Client){h}, n.onConnect...)
		return
	}
	n.onConnect = append(n.onConnect, h)
}

// OnDisconnect appends a hook run after the socket disconnected, with a
// context of its own (a short deadline even during shutdown).
func (n *Namespace) OnDisconnect(h func(ctx context.Context, c *Client, reason string)) {
	n.onDisconnect = append(n.onDisconnect, h)
}

// Attach wires the namespace into the Socket.IO core.
func (n *Namespace) Attach() {
	n.io.Use(n.vet)
	n.io.OnConnection(n.connected)
	n.io.OnExpired(n.expired)
}

// expired answers an event that expired in its socket's inbox behind a
// handler that overran (socketio.Config.EventDeadline, which the wiring
// sets to the pipeline's Timeout): ErrExpired at its deadline rather than
// when the worker reaches it. It never runs the handler.
func (n *Namespace) expired(s *socketio.Socket, event string, ack socketio.AckFunc) {
	c := ClientOf(s)
	i := slices.IndexFunc(n.bindings, func(b binding) bool { return b.event == event })
	if c == nil || i < 0 {
		return
	}
	ctr := n.bindings[i].ctr
	ctr.in.Inc()
	n.fail(c, event, ctr, ack, Refuse(ErrExpired, fmt.Errorf("event: %s expired in the inbox behind a handler past its deadline", event)))
}

// vet runs the middleware chain for a connecting socket.
func (n *Namespace) vet(s *socketio.Socket) error {
	c := newClient(n, s)
	s.SetData(c)
	for _, m := range n.middleware {
		if err := m(s.Context(), c); err != nil {
			e, known := ReplyOf(err)
			if !known {
				c.Logger().Error("connection middleware failed", "err", err)
			}
			n.ctr.refused.Inc()
			n.p.metrics.errorsBy.get(e.Code).Inc()
			return connectError{e}
		}
	}
	return nil
}

// connected binds the events and hooks of a connected socket.
func (n *Namespace) connected(s *socketio.Socket) {
	c := ClientOf(s)
	n.ctr.connects.Inc()
	for _, b := range n.bindings {
		fn := b.fn
		s.On(b.event, func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			fn(c, args, ack)
		})
	}
	s.OnDisconnect(func(_ *socketio.Socket, reason string) { n.disconnected(c, reason) })
	for _, h := range n.onConnect {
		h(c)
	}
}

func (n *Namespace) disconnected(c *Client, reason string) {
	n.ctr.disconnects.Inc()
	if len(n.onDisconnect) == 0 {
		return
	}
	// The pipeline's context may be cancelled already (shutdown): cleanup
	// still gets its own short deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.p.ctx), 5*time.Second)
	defer cancel()
	for _, h := range n.onDisconnect {
		h(ctx, c, reason)
	}
}

// connectError refuses a connection: connect_error {message, data:{code, message}}.
type connectError struct{ e Error }

func (c connectError) Error() string  { return c.e.Message }
func (c connectError) ErrorData() any { return connectErrorData(c.e) }

// connectErrorData is connect_error's data: {code, message} (SPEC §5).
type connectErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Emit broadcasts event to the sockets op selects, counting it once.
func (n *Namespace) Emit(op *socketio.BroadcastOperator, event string, v any) {
	n.ctr.out.get(event).Inc()
	if err := op.Emit(event, v); err != nil {
		n.p.log.Error("broadcast failed", "ns", n.name, "event", event, "err", err)
	}
}
