package gateway

import (
	"context"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// namespace is the gateway's side of one Socket.IO namespace: its reply
// style, connection middleware, events and lifecycle hooks. Everything is
// registered during New, before any client can connect.
type namespace struct {
	srv   *Server
	io    *socketio.Namespace
	name  string
	style replyStyle

	// middleware vets a connecting socket (e.g. authentication attaching
	// an identity with Conn.SetIdentity); an error refuses the connection
	// with connect_error {message, data:{code, message}}.
	middleware   []func(ctx context.Context, c *Conn) error
	bindings     []binding
	onConnect    []func(c *Conn)
	onDisconnect []func(ctx context.Context, c *Conn, reason string)
}

func (s *Server) namespace(name string, style replyStyle) *namespace {
	n := &namespace{srv: s, io: s.io.Of(name), name: name, style: style}
	s.metrics.socketsGauge(name, n.io.Sockets)
	return n
}

// use appends a connection middleware.
func (n *namespace) use(m func(ctx context.Context, c *Conn) error) {
	n.middleware = append(n.middleware, m)
}

// attach wires the namespace into the Socket.IO core.
func (n *namespace) attach() {
	n.io.Use(func(s *socketio.Socket) error {
		c := newConn(n, s)
		s.SetData(c)
		for _, m := range n.middleware {
			if err := m(s.Context(), c); err != nil {
				e, known := replyOf(err)
				if !known {
					c.log.Error("connection middleware failed", "err", err)
				}
				n.srv.metrics.refused.WithLabelValues(n.name).Inc()
				n.srv.metrics.errors.WithLabelValues(e.Code).Inc()
				return connectError{e}
			}
		}
		return nil
	})
	n.io.OnConnection(func(s *socketio.Socket) {
		c := connOf(s)
		n.srv.metrics.connects.WithLabelValues(n.name).Inc()
		for _, b := range n.bindings {
			fn := b.fn
			s.On(b.event, func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
				fn(c, args, ack)
			})
		}
		s.OnDisconnect(func(_ *socketio.Socket, reason string) {
			n.srv.metrics.disconnects.WithLabelValues(n.name).Inc()
			if len(n.onDisconnect) == 0 {
				return
			}
			// The server's context may be cancelled already (shutdown):
			// cleanup still gets its own short deadline.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(n.srv.ctx), 5*time.Second)
			defer cancel()
			for _, h := range n.onDisconnect {
				h(ctx, c, reason)
			}
		})
		for _, h := range n.onConnect {
			h(c)
		}
	})
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

// emit broadcasts event to the sockets op selects, counting it once.
func (n *namespace) emit(op *socketio.BroadcastOperator, event string, v any) {
	n.srv.metrics.eventsOut.WithLabelValues(n.name, event).Inc()
	if err := op.Emit(event, v); err != nil {
		n.srv.log.Error("broadcast failed", "ns", n.name, "event", event, "err", err)
	}
}

// now returns the clock's time.
func (s *Server) now() time.Time { return s.cfg.Now() }
