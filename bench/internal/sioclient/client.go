// Package sioclient is the load generator's minimal Socket.IO v5 client: the
// WebSocket transport of Engine.IO 4 only, the main namespace only, text
// packets only. It does just enough protocol to keep a connection alive
// (answers pings) and hands every Socket.IO packet's raw bytes to the caller,
// so that the load generator parses only what it needs and is not the
// bottleneck of a benchmark.
//
// Concurrency: one goroutine calls Conn.ReadAll (the connection's reader); any
// goroutine may call Conn.Write (writes are serialised by a mutex and go out
// in one write syscall per frame).
package sioclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"syscall"
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

// Conn is one Socket.IO connection to one namespace (the main one unless
// DialNamespace chose another).
type Conn struct {
	nsp  string // "" for "/"; else e.g. "/chat", prefixed to CONNECT
	auth []byte // the CONNECT payload, or nil
	sid  string // the socket id of the CONNECT reply
	nc   net.Conn
	hbr  *bufio.Reader // bytes gobwas read past the HTTP response, or nil
	src  io.Reader     // blocking reads during the handshake
	rbuf []byte        // inbound bytes; rbuf[roff:] is not parsed yet
	roff int
	frag []byte // a fragmented message being reassembled
	wmu  sync.Mutex
	wbuf []byte
}

// Dial opens ws://addr/socket.io/?EIO=4&transport=websocket plus query,
// waits for the Engine.IO open packet, connects to namespace "/" and waits
// for the CONNECT reply. ctx bounds the whole handshake.
func Dial(ctx context.Context, addr string, query url.Values) (*Conn, error) {
	return DialNamespace(ctx, addr, query, "/", nil)
}

// DialNamespace is Dial for namespace nsp with auth (a JSON object, or nil)
// as the CONNECT payload. Packets handed to ReadAll then carry the
// namespace: `2/chat,["message",...]`, `3/chat,5[...]`.
func DialNamespace(ctx context.Context, addr string, query url.Values, nsp string, auth []byte) (*Conn, error) {
	return DialFrom(ctx, addr, query, nsp, auth, nil)
}

// DialFrom is DialNamespace from local address src (nil: the kernel's
// choice): clients spread over several loopback sources (127.0.0.x) get
// past the ~28,000 ephemeral ports one source has to one server address.
func DialFrom(ctx context.Context, addr string, query url.Values, nsp string, auth []byte, src net.IP) (*Conn, error) {
	if nsp == "/" {
		nsp = ""
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u := "ws://" + addr + "/socket.io/?" + q.Encode()
	d := ws.Dialer{ReadBufferSize: 512, WriteBufferSize: 1024}
	if src != nil {
		nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
		d.NetDial = nd.DialContext
	}
	nc, hbr, _, err := d.Dial(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sioclient: dial: %w", err)
	}
	c := &Conn{nsp: nsp, auth: auth, nc: nc, hbr: hbr, src: nc, rbuf: make([]byte, 0, 2048)}
	if hbr != nil {
		// The server's first frames arrived with the handshake response.
		c.src = io.MultiReader(hbr, nc)
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

// readBlocking returns the next data message, reading with blocking reads.
func (c *Conn) readBlocking() ([]byte, error) {
	for {
		p, ok, err := c.nextMessage()
		if err != nil || ok {
			return p, err
		}
		c.makeRoom()
		n, err := c.src.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		if err != nil {
			return nil, err
		}
	}
}

func (c *Conn) handshake() error {
	p, err := c.readBlocking()
	if err != nil {
		return fmt.Errorf("sioclient: read open: %w", err)
	}
	if len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("%w: expected open packet, got %.40q", ErrProtocol, p)
	}
	connect := "40"
	if c.nsp != "" {
		connect += c.nsp + ","
	}
	if err := c.Write(connect + string(c.auth)); err != nil {
		return fmt.Errorf("sioclient: send connect: %w", err)
	}
	// Bounded: the caller's deadline on nc ends this loop.
	for {
		p, err := c.readBlocking()
		if err != nil {
			return fmt.Errorf("sioclient: read connect: %w", err)
		}
		switch {
		case len(p) == 1 && p[0] == '2':
			if err := c.Write("3"); err != nil {
				return err
			}
		case len(p) >= 2 && p[0] == '4' && p[1] == '0':
			c.sid = stringField(p, "sid")
			return nil
		case len(p) >= 2 && p[0] == '4' && p[1] == '4':
			return fmt.Errorf("%w: connect_error %.80q", ErrClosed, p)
		default:
			return fmt.Errorf("%w: unexpected %.40q before connect", ErrProtocol, p)
		}
	}
}

// makeRoom compacts rbuf and makes sure it has free capacity.
func (c *Conn) makeRoom() {
	if c.roff > 0 {
		n := copy(c.rbuf, c.rbuf[c.roff:])
		c.rbuf, c.roff = c.rbuf[:n], 0
	}
	if cap(c.rbuf)-len(c.rbuf) < 512 {
		nb := make([]byte, len(c.rbuf), 2*cap(c.rbuf))
		copy(nb, c.rbuf)
		c.rbuf = nb
	}
}

// nextMessage parses the next complete data message out of rbuf (answering
// WebSocket pings, reassembling fragments). ok is false when more bytes are
// needed. The payload aliases rbuf or frag: valid until the next call.
func (c *Conn) nextMessage() (p []byte, ok bool, err error) {
	for {
		b := c.rbuf[c.roff:]
		if len(b) < 2 {
			return nil, false, nil
		}
		fin, op := b[0]&0x80 != 0, ws.OpCode(b[0]&0x0f)
		masked, n, hl := b[1]&0x80 != 0, int64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return nil, false, nil
			}
			n, hl = int64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return nil, false, nil
			}
			n, hl = int64(binary.BigEndian.Uint64(b[2:])), 10
		}
		if n > maxFrame || int64(len(c.frag))+n > maxFrame {
			return nil, false, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, n)
		}
		var mask [4]byte
		if masked {
			if len(b) < hl+4 {
				return nil, false, nil
			}
			copy(mask[:], b[hl:])
			hl += 4
		}
		if int64(len(b)) < int64(hl)+n {
			if need := hl + int(n); need > cap(c.rbuf) {
				nb := make([]byte, len(b), need+512)
				copy(nb, b)
				c.rbuf, c.roff = nb, 0
			}
			return nil, false, nil
		}
		payload := b[hl : hl+int(n)]
		c.roff += hl + int(n)
		if masked {
			ws.Cipher(payload, mask, 0)
		}
		switch {
		case op == ws.OpClose:
			return nil, false, ErrClosed
		case op == ws.OpPing:
			if err := c.writeFrame(ws.OpPong, payload); err != nil {
				return nil, false, err
			}
		case op == ws.OpPong:
		case op == ws.OpContinuation:
			c.frag = append(c.frag, payload...)
			if fin {
				p, c.frag = c.frag, c.frag[:0]
				return p, true, nil
			}
		case !fin:
			c.frag = append(c.frag[:0], payload...)
		default:
			return payload, true, nil
		}
	}
}

// ReadAll reads Socket.IO packets until the connection fails, passing each
// to fn without the Engine.IO "4" prefix (e.g. `2["msg",{...}]`, `312[...]`;
// the slice is valid only during the call). It answers Engine.IO pings and
// returns the error that ended the loop.
//
// It reads the socket with raw read(2) calls inside one RawConn.Read
// callback: after a read that did not fill the buffer it waits for
// readiness instead of issuing the read that would fail with EAGAIN (what
// net.Conn.Read does), which halves the load generator's syscalls.
func (c *Conn) ReadAll(fn func(p []byte)) error {
	// Take over what gobwas buffered past the handshake.
	if c.hbr != nil && c.hbr.Buffered() > 0 {
		c.makeRoom()
		extra, _ := c.hbr.Peek(c.hbr.Buffered())
		c.rbuf = append(c.rbuf, extra...)
	}
	c.hbr, c.src = nil, nil
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("sioclient: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var loopErr error
	drained := false
	err = rc.Read(func(fd uintptr) bool {
		for {
			for {
				p, ok, err := c.nextMessage()
				if err != nil {
					loopErr = err
					return true
				}
				if !ok {
					break
				}
				if err := c.handlePacket(p, fn); err != nil {
					loopErr = err
					return true
				}
			}
			if drained {
				drained = false
				return false // wait for readiness
			}
			c.makeRoom()
			space := c.rbuf[len(c.rbuf):cap(c.rbuf)]
			n, err := syscall.Read(int(fd), space)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				loopErr = err
				return true
			case n == 0:
				loopErr = io.EOF
				return true
			}
			c.rbuf = c.rbuf[:len(c.rbuf)+n]
			drained = n < len(space)
		}
	})
	if loopErr != nil {
		return loopErr
	}
	return err
}

// handlePacket handles one Engine.IO packet.
func (c *Conn) handlePacket(p []byte, fn func(p []byte)) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty message", ErrProtocol)
	}
	switch p[0] {
	case '4':
		if len(p) >= 2 && p[1] == '1' {
			return ErrClosed
		}
		fn(p[1:])
	case '2':
		return c.Write("3")
	case '1':
		return ErrClosed
	case '6': // noop
	default:
		return fmt.Errorf("%w: engine packet %q", ErrProtocol, p[0])
	}
	return nil
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

// SID is the socket id the server gave in its CONNECT reply.
func (c *Conn) SID() string { return c.sid }

// stringField returns the value of the first `"key":"value"` in p (no
// escapes in value), or "".
func stringField(p []byte, key string) string {
	pat := `"` + key + `":"`
	i := bytes.Index(p, []byte(pat))
	if i < 0 {
		return ""
	}
	v := p[i+len(pat):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}

// Close closes the TCP connection.
func (c *Conn) Close() error { return c.nc.Close() }

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
