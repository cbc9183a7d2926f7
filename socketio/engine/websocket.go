package engine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

const (
	closeNormal      = ws.StatusNormalClosure
	closeTooBig      = ws.StatusMessageTooBig
	closeProtocolErr = ws.StatusProtocolError
)

// wsConn is one hijacked WebSocket connection. Writes (the connection's
// writer, control replies of the reader) are serialized by wmu.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader // reads through wsConn.Read: pre, then nc
	pre []byte        // bytes the hijacked reader had buffered; read first
	wmu sync.Mutex
	wdl time.Time // write deadline set by writeBatch (zero: set by writeRaw); under wmu
}

// wsReadBuffer is the size of a WebSocket connection's read buffer. The
// reader goroutine keeps it for the connection's life, idle or not, so it is
// small: net/http's 4 KB reader kept after the hijack was a third of an idle
// connection's heap. Payloads longer than the buffer are read straight into
// the message (bufio skips its buffer for large reads).
const wsReadBuffer = 512

// newWSConn wraps a hijacked connection. hijacked is the request's reader:
// the bytes it buffered (a client may send its first frames right behind
// the upgrade request) are copied and read first; the reader itself (4 KB,
// reading through net/http's connection wrapper) is dropped.
func newWSConn(nc net.Conn, hijacked *bufio.Reader) *wsConn {
	wc := &wsConn{nc: nc}
	if n := hijacked.Buffered(); n > 0 {
		b, _ := hijacked.Peek(n)
		wc.pre = bytes.Clone(b)
	}
	wc.br = bufio.NewReaderSize(wc, wsReadBuffer)
	return wc
}

// Read implements io.Reader for br: the bytes left by the hijacked reader,
// then the connection.
func (wc *wsConn) Read(p []byte) (int, error) {
	if len(wc.pre) > 0 {
		n := copy(p, wc.pre)
		wc.pre = wc.pre[n:]
		if len(wc.pre) == 0 {
			wc.pre = nil
		}
		return n, nil
	}
	return wc.nc.Read(p)
}

func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (s *Server) writeTimeout() time.Duration {
	return s.cfg.PingInterval + s.cfg.PingTimeout
}

// writeRaw writes one precompiled frame (control replies, probe answer).
func (wc *wsConn) writeRaw(b []byte, timeout time.Duration) error {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	wc.nc.SetWriteDeadline(time.Now().Add(timeout))
	wc.wdl = time.Time{}
	_, err := wc.nc.Write(b)
	return err
}

func (wc *wsConn) writeClose(code ws.StatusCode, timeout time.Duration) {
	wc.writeRaw(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))), timeout)
}

// lingerClose ends a connection after our close frame: it half-closes,
// then drains what the peer still sends (bounded in time and size) so that
// closing with unread data does not reset the connection and destroy the
// close frame before the peer reads it.
func (wc *wsConn) lingerClose() {
	if tc, ok := wc.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	wc.nc.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(wc.br, 1<<20))
	wc.nc.Close()
}

// halfClose sends FIN after our close frame and bounds how long the reader
// waits for the peer's close.
func (wc *wsConn) halfClose() {
	if tc, ok := wc.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	wc.nc.SetReadDeadline(time.Now().Add(time.Second))
}

// bufsPool recycles the frame lists of the WebSocket writer.
var bufsPool = sync.Pool{New: func() any { b := make(net.Buffers, 0, 64); return &b }}

// writeBatch writes every frame of q in as few system calls as the
// connection allows: one writev on TCP connections (the cached frames are
// written in place, never copied), a bufio.Writer with one Flush otherwise.
func (wc *wsConn) writeBatch(q []*Message, timeout time.Duration) error {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	// The deadline is moved only when it would move by more than
	// timeout/16 (so a batch gets 15/16 of timeout at least): re-arming the
	// poller's timer for every batch cost ~1% of the ack workload and ~3%
	// of fan-out.
	if dl := time.Now().Add(timeout); wc.wdl.IsZero() || dl.Sub(wc.wdl) > timeout/16 {
		wc.nc.SetWriteDeadline(dl)
		wc.wdl = dl
	}
	if _, ok := wc.nc.(*net.TCPConn); ok {
		bp := bufsPool.Get().(*net.Buffers)
		bufs := (*bp)[:0]
		for _, m := range q {
			bufs = append(bufs, m.frameBytes())
		}
		keep := bufs
		_, err := bufs.WriteTo(wc.nc)
		clear(keep)
		*bp = keep[:0]
		bufsPool.Put(bp)
		return err
	}
	bw := bufioPool.Get().(*bufio.Writer)
	bw.Reset(wc.nc)
	defer func() { bw.Reset(nil); bufioPool.Put(bw) }()
	for _, m := range q {
		if _, err := bw.Write(m.frameBytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

var bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// runWriter drains the queue onto the WebSocket, batch after batch, and
// exits when the queue is empty: an idle connection has no writer goroutine.
func (c *Conn) runWriter(wc *wsConn) {
	for {
		c.mu.Lock()
		if c.ws != wc || c.state == stateClosed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		q := c.takeQueueLocked()
		if len(q) == 0 {
			c.writing = false
			closeNow := c.closeAfterFlush
			c.mu.Unlock()
			c.recycle(q)
			if closeNow {
				// Closing handshake: our close frame, then a
				// half-close; the reader sees the peer's answer (or
				// its deadline) and closes the connection.
				wc.writeClose(closeNormal, c.s.writeTimeout())
				c.mu.Lock()
				c.linger = wc
				c.mu.Unlock()
				c.finish()
				wc.halfClose()
			}
			return
		}
		c.mu.Unlock()
		err := wc.writeBatch(q, c.s.writeTimeout())
		c.recycle(q)
		if err != nil {
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.closeWith(ReasonTransportError, false)
			c.finish()
			return
		}
	}
}

// acceptWebSocket completes a WebSocket-only handshake: the open packet is
// the first frame, then the connection runs like any other.
func (s *Server) acceptWebSocket(w http.ResponseWriter, r *http.Request, c *Conn) bool {
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		s.log.Debug("engine: websocket upgrade failed", "err", err)
		return false
	}
	nc.SetDeadline(time.Time{}) // drop the http.Server's timeouts
	wc := newWSConn(nc, rw.Reader)
	c.ws = wc
	c.queue = append(c.queue, &Message{typ: typeOpen, text: string(s.openPacket(c.id, false)[1:])})
	if !s.register(c) {
		wc.writeClose(ws.StatusGoingAway, time.Second)
		nc.Close()
		return false
	}
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
	c.startHeartbeat()
	s.goTracked(func() { c.readLoop(wc, false) })
	return true
}

// upgrade accepts a WebSocket for an existing polling session: the probe
// (2probe/3probe, then 5) runs on it while polling keeps working. Like Node,
// a second WebSocket for a session already upgrading or upgraded is
// accepted and closed at once.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, c *Conn) {
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		s.log.Debug("engine: websocket upgrade failed", "err", err)
		return
	}
	nc.SetDeadline(time.Time{})
	wc := newWSConn(nc, rw.Reader)
	c.mu.Lock()
	ok := c.state == stateOpen && c.transport == "polling" && c.probe == nil && s.upgradesAllowed()
	if ok {
		c.probe = wc
		c.upTimer = time.AfterFunc(s.cfg.UpgradeTimeout, func() { c.abortUpgrade(wc) })
	}
	c.mu.Unlock()
	if !ok {
		wc.writeClose(closeNormal, time.Second)
		nc.Close()
		return
	}
	s.goTracked(func() { c.readLoop(wc, true) })
}

// abortUpgrade drops a failed or timed-out upgrade; polling goes on.
func (c *Conn) abortUpgrade(wc *wsConn) {
	c.mu.Lock()
	if c.probe == wc {
		c.probe, c.probed = nil, false
		if c.upTimer != nil {
			c.upTimer.Stop()
		}
	}
	c.mu.Unlock()
	wc.nc.Close()
}

var (
	errTooBig   = errors.New("engine: message too big")
	errProtocol = errors.New("engine: websocket protocol error")
)

// readLoop reads the WebSocket's messages until it fails or the connection
// closes. With upgrading, it first runs the upgrade probe.
func (c *Conn) readLoop(wc *wsConn, upgrading bool) {
	defer wc.nc.Close() // the reader owns the connection's end
	max := c.s.cfg.MaxPayload
	var (
		msg   []byte
		op    ws.OpCode
		inMsg bool // a fragmented message is being assembled
	)
	fail := func(reason string, code ws.StatusCode) {
		if upgrading {
			c.abortUpgrade(wc)
			return
		}
		if code == 0 {
			c.closeWith(reason, false)
			c.finish()
			return
		}
		// Our close frame first, then the session ends (OnClose is not
		// delayed), then the connection lingers to deliver the frame.
		wc.writeClose(code, time.Second)
		c.mu.Lock()
		c.linger = wc
		c.mu.Unlock()
		c.closeWith(reason, false)
		c.finish()
		wc.lingerClose()
	}
	for {
		h, err := ws.ReadHeader(wc.br)
		if err != nil {
			fail(ReasonTransportClose, 0)
			return
		}
		if h.Rsv != 0 || !h.Masked || h.OpCode.IsReserved() {
			fail(ReasonTransportError, closeProtocolErr)
			return
		}
		if h.OpCode.IsControl() {
			if h.Length > 125 || !h.Fin {
				fail(ReasonTransportError, closeProtocolErr)
				return
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(wc.br, p); err != nil {
				fail(ReasonTransportClose, 0)
				return
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				wc.writeRaw(ws.MustCompileFrame(ws.NewPongFrame(p)), c.s.writeTimeout())
			case ws.OpClose:
				code, _ := ws.ParseCloseFrameData(p)
				if code.Empty() {
					code = closeNormal
				}
				fail(ReasonTransportClose, code)
				return
			}
			continue
		}
		if h.OpCode == ws.OpContinuation {
			if !inMsg {
				fail(ReasonTransportError, closeProtocolErr)
				return
			}
		} else {
			if inMsg {
				fail(ReasonTransportError, closeProtocolErr)
				return
			}
			op, inMsg = h.OpCode, true
		}
		if int64(len(msg))+h.Length > max {
			fail(ReasonTransportError, closeTooBig)
			return
		}
		start := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
		if _, err := io.ReadFull(wc.br, msg[start:]); err != nil {
			fail(ReasonTransportClose, 0)
			return
		}
		ws.Cipher(msg[start:], h.Mask, 0)
		if !h.Fin {
			continue
		}
		data := msg
		msg, inMsg = nil, false
		if op == ws.OpBinary {
			if upgrading {
				fail("", 0)
				return
			}
			c.deliver(data, true)
			continue
		}
		if !utf8.Valid(data) {
			fail(ReasonTransportError, ws.StatusInvalidFramePayloadData)
			return
		}
		p, err := decodePacket(data, true) // Node accepts "b<base64>" on WebSocket too
		if err != nil {
			fail(ReasonParseError, 0)
			return
		}
		if upgrading {
			switch {
			case p.typ == typePing && string(p.data) == "probe":
				// Probed before "3probe" leaves: a client that has it
				// pauses polling and sends "5", so a close racing with
				// the answer must already keep the probe (closeWith).
				c.mu.Lock()
				if c.probe == wc {
					c.probed = true
				}
				c.mu.Unlock()
				if wc.writeRaw(pongProbeMsg.frameBytes(), c.s.writeTimeout()) != nil {
					fail("", 0)
					return
				}
				c.mu.Lock()
				if c.probe == wc {
					c.releasePollLocked()
				}
				c.mu.Unlock()
			case p.typ == typeUpgrade && c.completeUpgrade(wc):
				upgrading = false
			default:
				fail("", 0)
				return
			}
			continue
		}
		if !c.handlePacket(p) {
			c.finish()
			return
		}
	}
}

// completeUpgrade switches the session to the probed WebSocket. Whatever is
// queued (and was not taken by the last GET) goes out on it, in order.
// A session closed with flush after its probe (closeWith keeps the probe)
// upgrades too, then flushes and closes the WebSocket, as Node does; its
// close timer still runs and bounds the flush.
func (c *Conn) completeUpgrade(wc *wsConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probe != wc || !c.probed || c.state == stateClosed {
		return false
	}
	c.upTimer.Stop()
	c.releasePollLocked()
	c.probe, c.probed = nil, false
	c.transport = "websocket"
	c.ws = wc
	if c.state == stateClosing {
		c.closeAfterFlush = true
		c.kickLocked() // the writer sends the queue, then the close frame
	} else if len(c.queue) > 0 {
		c.kickLocked()
	}
	return true
}
