// Package sioclient is a minimal Socket.IO v5 client over an Engine.IO 4
// WebSocket, for the tests of package socketio. It answers pings, decodes
// packets with package parser and routes ACK packets to EmitWithAck callers;
// every other packet is delivered in order by Next.
package sioclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/sockgate/sockgate/socketio/parser"
)

// ErrClosed is returned once the connection is closed.
var ErrClosed = errors.New("sioclient: connection closed")

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Client is one Engine.IO connection.
type Client struct {
	conn net.Conn
	SID  string // Engine.IO session id

	wmu sync.Mutex

	mu     sync.Mutex
	acks   map[uint64]chan *parser.Packet
	nextID atomic.Uint64

	packets chan *parser.Packet
	closed  chan struct{}
	once    sync.Once
}

// Dial opens a WebSocket Engine.IO session. base is the server URL, e.g.
// "http://127.0.0.1:1234/socket.io/"; query is added to the URL.
func Dial(ctx context.Context, base string, query url.Values) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	raw, br, _, err := ws.Dial(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("sioclient: dial: %w", err)
	}
	var conn net.Conn = raw
	if br != nil {
		// Frames sent with the upgrade response are already buffered.
		conn = bufferedConn{Conn: raw, r: br}
	}
	data, _, err := wsutil.ReadServerData(conn)
	if err != nil || len(data) == 0 || data[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("sioclient: handshake: %q %v", data, err)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(data[1:], &open); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sioclient: handshake: %w", err)
	}
	c := &Client{
		conn:    conn,
		SID:     open.SID,
		acks:    make(map[uint64]chan *parser.Packet),
		packets: make(chan *parser.Packet, 100000),
		closed:  make(chan struct{}),
	}
	go c.read()
	return c, nil
}

func (c *Client) read() {
	defer c.Close()
	var dec parser.Decoder
	for {
		data, op, err := wsutil.ReadServerData(c.conn)
		if err != nil {
			return
		}
		var p *parser.Packet
		if op == ws.OpBinary {
			p, err = dec.Add(data, true)
		} else {
			if len(data) == 0 {
				continue
			}
			switch data[0] {
			case '2':
				_ = c.writeText("3")
				continue
			case '1':
				return
			case '4':
				p, err = dec.Add(data[1:], false)
			default:
				continue
			}
		}
		if err != nil {
			return
		}
		if p == nil {
			continue
		}
		if p.Type == parser.Ack && p.HasID {
			c.mu.Lock()
			ch := c.acks[p.ID]
			delete(c.acks, p.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- p
			}
			continue
		}
		c.packets <- p
	}
}

func (c *Client) writeText(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientText(c.conn, []byte(s))
}

// SendRaw sends one Engine.IO message (the "4" prefix is added).
func (c *Client) SendRaw(text string) error { return c.writeText("4" + text) }

// SendBinary sends one binary Engine.IO message.
func (c *Client) SendBinary(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return wsutil.WriteClientBinary(c.conn, b)
}

// SendPacket encodes and sends p with its attachments.
func (c *Client) SendPacket(p *parser.Packet) error {
	text, bins := parser.Encode(p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := wsutil.WriteClientText(c.conn, []byte("4"+text)); err != nil {
		return err
	}
	for _, b := range bins {
		if err := wsutil.WriteClientBinary(c.conn, b); err != nil {
			return err
		}
	}
	return nil
}

// Connect joins namespace ns with the auth payload (nil for none) and waits
// for CONNECT (returning the socket id) or CONNECT_ERROR (returned as
// *ConnectError).
func (c *Client) Connect(ctx context.Context, ns string, auth any) (string, error) {
	sid, _, err := c.ConnectSession(ctx, ns, auth)
	return sid, err
}

// ConnectSession is Connect returning the private session id too (the
// CONNECT reply's pid, "" when the server has no connection-state
// recovery). To recover, pass {"pid": pid, "offset": last} in auth.
func (c *Client) ConnectSession(ctx context.Context, ns string, auth any) (sid, pid string, err error) {
	p := &parser.Packet{Type: parser.Connect, Namespace: ns}
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			return "", "", err
		}
		p.Data = b
	}
	if err := c.SendPacket(p); err != nil {
		return "", "", err
	}
	for {
		r, err := c.Next(ctx)
		if err != nil {
			return "", "", err
		}
		if r.Namespace != nsName(ns) {
			continue
		}
		switch r.Type {
		case parser.Connect:
			var v struct {
				SID string `json:"sid"`
				PID string `json:"pid"`
			}
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return "", "", err
			}
			return v.SID, v.PID, nil
		case parser.ConnectError:
			ce := &ConnectError{}
			_ = json.Unmarshal(r.Data, ce)
			return "", "", ce
		}
	}
}

// ConnectError is a refused CONNECT.
type ConnectError struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (e *ConnectError) Error() string { return "connect_error: " + e.Message }

func nsName(ns string) string {
	if ns == "" {
		return "/"
	}
	return ns
}

// Emit sends an event on ns.
func (c *Client) Emit(ns, event string, args ...any) error {
	data, bins, err := parser.MarshalArray(append([]any{event}, args...))
	if err != nil {
		return err
	}
	return c.SendPacket(&parser.Packet{Type: parser.Event, Namespace: nsName(ns), Data: data, Attachments: bins})
}

// EmitWithAck sends an event on ns and waits for its ACK packet.
func (c *Client) EmitWithAck(ctx context.Context, ns, event string, args ...any) (*parser.Packet, error) {
	data, bins, err := parser.MarshalArray(append([]any{event}, args...))
	if err != nil {
		return nil, err
	}
	id := c.nextID.Add(1)
	ch := make(chan *parser.Packet, 1)
	c.mu.Lock()
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.SendPacket(&parser.Packet{Type: parser.Event, Namespace: nsName(ns), HasID: true, ID: id, Data: data, Attachments: bins}); err != nil {
		return nil, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	case <-c.closed:
		return nil, ErrClosed
	}
}

// Ack answers a server event that carries an ack id.
func (c *Client) Ack(ns string, id uint64, args ...any) error {
	data, bins, err := parser.MarshalArray(args)
	if err != nil {
		return err
	}
	return c.SendPacket(&parser.Packet{Type: parser.Ack, Namespace: nsName(ns), HasID: true, ID: id, Data: data, Attachments: bins})
}

// Disconnect leaves namespace ns.
func (c *Client) Disconnect(ns string) error {
	return c.SendPacket(&parser.Packet{Type: parser.Disconnect, Namespace: nsName(ns)})
}

// Next returns the next non-ACK packet.
func (c *Client) Next(ctx context.Context) (*parser.Packet, error) {
	select {
	case p := <-c.packets:
		return p, nil
	default:
	}
	select {
	case p := <-c.packets:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		select {
		case p := <-c.packets:
			return p, nil
		default:
		}
		return nil, ErrClosed
	}
}

// NextEvent returns the next EVENT packet of ns with its name and the
// remaining arguments as raw JSON.
func (c *Client) NextEvent(ctx context.Context, ns string) (*parser.Packet, string, []json.RawMessage, error) {
	for {
		p, err := c.Next(ctx)
		if err != nil {
			return nil, "", nil, err
		}
		if p.Type != parser.Event || p.Namespace != nsName(ns) {
			continue
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(p.Data, &elems); err != nil || len(elems) == 0 {
			return nil, "", nil, fmt.Errorf("sioclient: bad event %s", p.Data)
		}
		var name string
		_ = json.Unmarshal(elems[0], &name)
		return p, name, elems[1:], nil
	}
}

// Closed is closed when the connection ends.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Close closes the connection.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.conn.Close()
	})
	return nil
}
