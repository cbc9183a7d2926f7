package socketio

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/parser"
)

// engineConn is what the Socket.IO layer uses of *engine.Conn.
type engineConn interface {
	ID() string
	Header() http.Header
	RequestURI() string
	Secure() bool
	RemoteAddr() string
	Send(msgs ...*engine.Message) error
	SendDirect(msgs ...*engine.Message) error
	SendVolatile(msgs ...*engine.Message) bool
	Close(reason string)
}

var _ engineConn = (*engine.Conn)(nil)

// client is one Engine.IO connection; it multiplexes the sockets of the
// namespaces the peer joined. It implements engine.ConnHandler: the engine
// calls OnMessage serially, then OnClose once.
type client struct {
	srv  *Server
	conn engineConn
	dec  parser.Decoder // touched only by OnMessage

	mu      sync.Mutex
	sockets []*Socket // connecting or connected, one per namespace (a slice: most clients join one)
	closed  bool
	timer   *time.Timer // connect timeout; nil once a namespace is joined
}

func newClient(srv *Server, conn engineConn) *client {
	c := &client{
		srv:  srv,
		conn: conn,
		dec:  parser.Decoder{MaxAttachments: srv.cfg.MaxAttachments},
	}
	c.mu.Lock()
	c.timer = time.AfterFunc(srv.cfg.ConnectTimeout, c.onConnectTimeout)
	c.mu.Unlock()
	return c
}

// logger returns the server's logger with the session id (built when
// needed: slog's With costs ~100 B per connection).
func (c *client) logger() *slog.Logger { return c.srv.log.With("sid", c.conn.ID()) }

// OnMessage decodes one Engine.IO message. It returns quickly: ACKs are
// resolved inline, CONNECT and EVENT packets are queued on the socket's
// worker. It blocks only while the socket's inbound queue is full.
func (c *client) OnMessage(data []byte, binary bool) {
	c.srv.observePacketIn(len(data))
	p, err := c.dec.Add(data, binary)
	if err != nil {
		// Node closes the connection on a Socket.IO decoding error; the
		// sockets see Engine.IO's "forced close".
		c.logger().Debug("socketio: invalid packet", "err", err)
		c.conn.Close(ReasonForcedClose)
		return
	}
	if p == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	s := c.socketLocked(p.Namespace)
	c.mu.Unlock()
	switch {
	case s == nil && p.Type == parser.Connect:
		c.connect(p)
	case s != nil && p.Type != parser.Connect && p.Type != parser.ConnectError:
		s.onPacket(p)
	case s == nil && c.srv.closing.Load():
		// A socket drained by Shutdown: the client is told by the close.
	default:
		c.logger().Debug("socketio: unexpected packet", "type", p.Type, "ns", p.Namespace)
		c.close(ReasonForcedServerClose)
	}
}

// OnClose tears down every socket of the connection.
func (c *client) OnClose(reason string) {
	c.srv.observeConnClosed(reason)
	c.closeSockets(reason)
	c.dec.Reset() // OnMessage is over: the engine calls OnClose after it
	c.srv.removeClient(c)
}

func (c *client) closeSockets(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	ss := c.sockets
	c.sockets = nil
	c.mu.Unlock()
	for _, s := range ss {
		s.onClose(reason)
	}
}

// drainSockets starts Shutdown's drain of every socket (see Socket.drain).
func (c *client) drainSockets(reason string) {
	c.mu.Lock()
	ss := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range ss {
		s.drain(reason)
	}
}

func (c *client) connect(p *parser.Packet) {
	if c.srv.closing.Load() {
		return
	}
	var auth json.RawMessage
	if len(p.Data) > 0 {
		auth = p.Data
	}
	ns, err := c.srv.namespaceFor(p.Namespace, auth)
	if err != nil {
		c.logger().Error("socketio: create namespace", "ns", p.Namespace, "err", err)
		c.writePacket(&parser.Packet{Type: parser.ConnectError, Namespace: p.Namespace, Data: json.RawMessage(`{"message":"server error"}`)}, false)
		return
	}
	if ns == nil {
		c.writePacket(&parser.Packet{Type: parser.ConnectError, Namespace: p.Namespace, Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, false)
		return
	}
	s := newSocket(ns, c, auth)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sockets = append(c.sockets, s)
	c.mu.Unlock()
	c.srv.live.Add(1)
	s.enqueue(task{kind: taskConnect})
}

// connected stops the connect timeout.
func (c *client) connected() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := !c.closed && c.timer != nil && len(c.sockets) == 0
	c.mu.Unlock()
	if idle {
		c.logger().Debug("socketio: no namespace joined in time")
		c.close(ReasonForcedServerClose)
	}
}

// remove forgets s so that its namespace may be joined again.
func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
}

// socketLocked returns the socket of namespace ns (nil if none).
func (c *client) socketLocked(ns string) *Socket {
	for _, s := range c.sockets {
		if s.ns.name == ns {
			return s
		}
	}
	return nil
}

// disconnectAll is Socket.Disconnect(true): every socket leaves its namespace
// (DISCONNECT sent), then the connection is closed.
func (c *client) disconnectAll() {
	c.mu.Lock()
	ss := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range ss {
		s.Disconnect(false)
	}
	c.close(ReasonForcedServerClose)
}

func (c *client) close(reason string) {
	c.conn.Close(reason)
}

// writePacket encodes p and queues it on the connection.
func (c *client) writePacket(p *parser.Packet, volatile bool) bool {
	return c.write(encodeMessages(p), volatile)
}

// write queues the messages of one packet, in one call so that a binary
// packet's attachments stay contiguous.
func (c *client) write(msgs []*engine.Message, volatile bool) bool {
	c.srv.observePacketsOut(msgs)
	if volatile {
		return c.conn.SendVolatile(msgs...)
	}
	if err := c.conn.Send(msgs...); err != nil {
		c.logger().Debug("socketio: send failed", "err", err)
		return false
	}
	return true
}

// writeReply is write for an ack, which the engine may write on the
// calling goroutine (engine.Conn.SendDirect).
func (c *client) writeReply(msgs []*engine.Message) bool {
	c.srv.observePacketsOut(msgs)
	if err := c.conn.SendDirect(msgs...); err != nil {
		c.logger().Debug("socketio: send failed", "err", err)
		return false
	}
	return true
}
