// Package sioclient is the load generator's minimal Socket.IO v5 client: the
// WebSocket transport of Engine.IO 4 only, the main namespace only, text
// packets only. It does just enough protocol to keep a connection alive
// (answers pings) and hands every Socket.IO packet's raw bytes to the caller,
// so that the load generator parses only what it needs and is not the
// bottleneck of a benchmark.
//
// Concurrency: one goroutine calls Conn.Read (the connection's reader); any
// goroutine may call Conn.Write (writes are serialised by a mutex and go out
// in one write syscall per frame).
package sioclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// Errors returned by Dial and Read.
var (
	// ErrProtocol reports a packet that does not fit Engine.IO 4 / Socket.IO 5.
	ErrProtocol = errors.New("sioclient: protocol error")
	// ErrClosed reports a WebSocket close frame or Socket.IO disconnect.
	ErrClosed = errors.New("sioclient: closed by server")
)

// maxFrame caps one inbound message; the benchmarks never send more than a few KB.
const maxFrame = 1 << 20

// Conn is one Socket.IO connection to the main namespace.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	hdr  []byte // header scratch for ws.ReadHeaderBuffer
	buf  []byte // reused payload buffer; Read's result aliases it
	wmu  sync.Mutex
	wbuf []byte
}

// Dial opens ws://addr/socket.io/?EIO=4&transport=websocket plus query,
// waits for the Engine.IO open packet, connects to namespace "/" and waits
// for the CONNECT reply. ctx bounds the whole handshake.
func Dial(ctx context.Context, addr string, query url.Values) (*Conn, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u := "ws://" + addr + "/socket.io/?" + q.Encode()
	d := ws.Dialer{ReadBufferSize: 512, WriteBufferSize: 1024}
	nc, hbr, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sioclient: dial: %w", err)
	}
	var r io.Reader = nc
	if hbr != nil {
		// The server's first frames arrived with the handshake response.
		r = io.MultiReader(hbr, nc)
	}
	c := &Conn{
		nc:  nc,
		br:  bufio.NewReaderSize(r, 2048),
		hdr: make([]byte, ws.MaxHeaderSize),
		buf: make([]byte, 0, 256),
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Conn) handshake() error {
	p, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("sioclient: read open: %w", err)
	}
	if len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("%w: expected open packet, got %.40q", ErrProtocol, p)
	}
	if err := c.Write("40"); err != nil {
		return fmt.Errorf("sioclient: send connect: %w", err)
	}
	// Bounded: the caller's deadline on nc ends this loop.
	for {
		p, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("sioclient: read connect: %w", err)
		}
		switch {
		case len(p) == 1 && p[0] == '2':
			if err := c.Write("3"); err != nil {
				return err
			}
		case len(p) >= 2 && p[0] == '4' && p[1] == '0':
			return nil
		case len(p) >= 2 && p[0] == '4' && p[1] == '4':
			return fmt.Errorf("%w: connect_error %.80q", ErrClosed, p)
		default:
			return fmt.Errorf("%w: unexpected %.40q before connect", ErrProtocol, p)
		}
	}
}

// Read returns the next Socket.IO packet (the Engine.IO "4" prefix removed,
// e.g. `2["msg",{...}]` or `312[...]`). It answers Engine.IO pings itself.
// The returned slice is valid until the next Read.
func (c *Conn) Read() ([]byte, error) {
	for {
		p, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: empty message", ErrProtocol)
		}
		switch p[0] {
		case '4':
			if len(p) >= 2 && p[1] == '1' {
				return nil, ErrClosed
			}
			return p[1:], nil
		case '2':
			if err := c.Write("3"); err != nil {
				return nil, err
			}
		case '1':
			return nil, ErrClosed
		case '6': // noop
		default:
			return nil, fmt.Errorf("%w: engine packet %q", ErrProtocol, p[0])
		}
	}
}

// readFrame reads one complete WebSocket data message, handling control frames.
func (c *Conn) readFrame() ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
		if err != nil {
			return nil, err
		}
		if h.Length > maxFrame || int64(len(c.buf))+h.Length > maxFrame {
			return nil, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, h.Length)
		}
		if h.OpCode.IsControl() {
			ctl := make([]byte, h.Length)
			if _, err := io.ReadFull(c.br, ctl); err != nil {
				return nil, err
			}
			if h.Masked {
				ws.Cipher(ctl, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpClose:
				return nil, ErrClosed
			case ws.OpPing:
				if err := c.writeFrame(ws.OpPong, ctl); err != nil {
					return nil, err
				}
			}
			continue
		}
		n := len(c.buf)
		c.buf = append(c.buf, make([]byte, h.Length)...)[:n+int(h.Length)]
		if _, err := io.ReadFull(c.br, c.buf[n:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(c.buf[n:], h.Mask, 0)
		}
		if h.Fin {
			return c.buf, nil
		}
	}
}

// Write sends one Engine.IO packet as a masked text frame, e.g.
// `42["echo",{}]` or "3".
func (c *Conn) Write(packet string) error {
	return c.writeFrame(ws.OpText, []byte(packet))
}

// WriteBytes is Write for a packet already in a byte slice (not retained).
func (c *Conn) WriteBytes(packet []byte) error {
	return c.writeFrame(ws.OpText, packet)
}

func (c *Conn) writeFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	b = append(b, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	ws.Cipher(b[start:], mask, 0)
	c.wbuf = b
	_, err := c.nc.Write(b)
	return err
}

// Close closes the TCP connection.
func (c *Conn) Close() error { return c.nc.Close() }

// SetReadDeadline bounds the next Read calls.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// ReadAll reads packets until the connection fails, passing each to fn;
// it returns the error that ended the loop.
func (c *Conn) ReadAll(fn func(p []byte)) error {
	for {
		p, err := c.Read()
		if err != nil {
			return err
		}
		fn(p)
	}
}

// parseInt parses the leading decimal digits of b.
func parseInt(b []byte) (v int64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, n
}

// IntField returns the integer value of the first `"key":` in p (a JSON
// text), without decoding the rest. ok is false when the key is absent.
func IntField(p []byte, key string) (v int64, ok bool) {
	// Search for "key":
	for i := 0; i+len(key)+3 <= len(p); i++ {
		if p[i] != '"' || string(p[i+1:i+1+len(key)]) != key || p[i+1+len(key)] != '"' || p[i+2+len(key)] != ':' {
			continue
		}
		v, n := parseInt(p[i+3+len(key):])
		return v, n > 0
	}
	return 0, false
}

// AckID returns the id of an ACK packet `3<id>[...]`; ok is false otherwise.
func AckID(p []byte) (id int64, ok bool) {
	if len(p) < 2 || p[0] != '3' {
		return 0, false
	}
	id, n := parseInt(p[1:])
	return id, n > 0
}
