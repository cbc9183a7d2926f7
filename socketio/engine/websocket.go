package engine

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
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
// writer, control replies of the reader) are serialized by wmu; the read
// side (wsread.go) belongs to the connection's reader goroutine.
type wsConn struct {
	nc  net.Conn
	wmu sync.Mutex
	wdl time.Time // write deadline set by writeBatch (zero: set by writeRaw); under wmu

	// Reading (wsread.go): rb[rpos:rend] are the unread bytes; rb is nil
	// while there are none (an idle connection holds no buffer).
	rc      syscall.RawConn // nc's raw socket, for reads and direct writes; nil when nc has none (TLS, pipes); set once
	rawRead func(fd uintptr) bool
	rerr    error // the error rawRead met
	rb      *[]byte
	rpos    int
	rend    int
	one     [1]byte // await's read when rc is nil

	// Parking (idlepoll_linux.go), under Server.parking.mu.
	parkTok uint64 // the parked reader's key; 0 when not parked
	noPark  bool   // closing: the reader must not park any more
}

// newWSConn wraps a hijacked connection. hijacked is the request's reader:
// the bytes it buffered (a client may send its first frames right behind
// the upgrade request) are copied into the connection's read buffer; the
// reader itself (4 KB, reading through net/http's connection wrapper) is
// dropped.
func newWSConn(nc net.Conn, hijacked *bufio.Reader) *wsConn {
	wc := &wsConn{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			wc.rc = rc
			wc.rawRead = wc.rawReadFunc
		}
	}
	if hijacked == nil {
		return wc
	}
	if n := hijacked.Buffered(); n > 0 {
		b, _ := hijacked.Peek(n)
		if n <= wsReadBuffer {
			wc.rb = readBufs.Get().(*[]byte)
		} else {
			buf := make([]byte, n)
			wc.rb = &buf
		}
		wc.rend = copy(*wc.rb, b)
	}
	return wc
}

func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (s *Server) writeTimeout() time.Duration { return s.cfg.WriteTimeout }

// writeFailure is the close reason of a failed write: "write timeout" when
// the peer stopped reading (logged: a consumer that cannot keep up), else
// "transport error".
func (c *Conn) writeFailure(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.logger().Info("engine: write timed out (the client reads nothing), closing",
			"transport", c.currentTransport(), "timeout", c.s.cfg.WriteTimeout)
		return ReasonWriteTimeout
	}
	return ReasonTransportError
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
	wc.discard(1 << 20)
	wc.nc.Close()
}

// halfClose sends FIN after our close frame and bounds how long the reader
// waits for the peer's close (a parked reader resumes to wait for it).
func (c *Conn) halfClose(wc *wsConn) {
	c.s.parking.wake(wc)
	if tc, ok := wc.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	wc.nc.SetReadDeadline(time.Now().Add(time.Second))
}

// closeWS closes a WebSocket from outside its reader; a parked reader
// resumes and sees the close as a waiting one would.
func (c *Conn) closeWS(wc *wsConn) {
	c.s.parking.wake(wc)
	wc.nc.Close()
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
// returns when the queue is empty (its goroutine parks in the writer pool):
// an idle connection has no writer goroutine.
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
				c.halfClose(wc)
			}
			return
		}
		c.mu.Unlock()
		err := wc.writeBatch(q, c.s.writeTimeout())
		c.recycle(q)
		if err != nil {
			c.writeFailed(err)
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
	c.closeWS(wc)
}

// readLoop reads the WebSocket's messages until it fails or the connection
// closes. With upgrading, it first runs the upgrade probe.
func (c *Conn) readLoop(wc *wsConn, upgrading bool) {
	r := &wsReader{c: c, wc: wc, upgrading: upgrading, max: c.s.cfg.MaxPayload, waited: readerRespawnIdle}
	r.loop()
}

// readerRespawnIdle is how long a reader must have waited before a burst
// for it to hand the connection to a fresh goroutine once the burst is
// read (see loop).
const readerRespawnIdle = time.Second

// loop reads messages; between messages, with nothing buffered, it waits
// in wc.await (no buffer held, a shallow stack). Handling a message (the
// Socket.IO layer's decoding, a CONNECT's namespace lookup) grows the
// goroutine's stack to 4 KB or more, and the GC never gives that back to
// a parked goroutine (it halves a stack only when less than a quarter is
// in use, counting 800 B of guard). So after a burst that delivered
// messages and followed a long wait (an idle connection's occasional
// traffic, a pong, and the connection's first burst, its CONNECT), the
// reader parks (Server.parking: no goroutine until the socket is readable)
// or, where it cannot, continues on a new goroutine with a minimal stack;
// this one exits. A busy connection (bursts back to back) keeps its reader.
func (r *wsReader) loop() {
	wc := r.wc
	handedOver := false
	defer func() {
		if !handedOver {
			wc.nc.Close() // the reader owns the connection's end
		}
	}()
	for {
		if wc.buffered() == 0 {
			wc.release()
			if r.delivered && r.waited >= readerRespawnIdle && !r.upgrading {
				r.delivered = false
				r.idleFrom = time.Now()
				handedOver = true
				if !r.c.s.parking.park(r) {
					r.c.s.goTracked(r.loop)
				}
				return // r is no longer ours
			}
			if r.idleFrom.IsZero() {
				r.idleFrom = time.Now()
			}
			if wc.await() != nil {
				r.fail(ReasonTransportClose, 0)
				return
			}
			if r.started {
				r.waited = time.Since(r.idleFrom)
			}
			r.started = true
			r.idleFrom = time.Time{}
		}
		data, binary, ok := r.readMessage()
		if !ok || !r.handleMessage(data, binary) {
			return
		}
	}
}

// wsReader is the state of one WebSocket's reader (loop): the frame layer
// (control frames, fragmentation) below, and the Engine.IO packets and the
// upgrade probe above. Its methods return false when reading must stop;
// the connection's end has then been handled (fail).
type wsReader struct {
	c         *Conn
	wc        *wsConn
	upgrading bool // the probe runs: this WebSocket is not the session's transport yet
	max       int64
	msg       []byte        // the data message being assembled
	op        ws.OpCode     // its opcode (that of its first frame)
	inMsg     bool          // a fragmented message is being assembled
	waited    time.Duration // how long the wait before this burst took (the first burst: as if long)
	idleFrom  time.Time     // when the current wait began (parked included); zero while reading
	started   bool          // the first burst has begun
	delivered bool          // this burst delivered a data message
}

// fail ends reading. While upgrading, only the probe is dropped (polling
// goes on). Otherwise the session closes with reason, after a close frame
// with code when code is not 0 (then the connection lingers to deliver it).
// It returns false, for "return r.fail(...)".
func (r *wsReader) fail(reason string, code ws.StatusCode) bool {
	c, wc := r.c, r.wc
	if r.upgrading {
		c.abortUpgrade(wc)
		return false
	}
	if code == 0 {
		c.closeWith(reason, false)
		c.finish()
		return false
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
	return false
}

// readMessage reads frames until a data message is complete, answering
// control frames and joining fragments on the way. The message is the
// caller's (the next one is read into a new slice).
func (r *wsReader) readMessage() (data []byte, binary, ok bool) {
	for {
		h, err := r.wc.readHeader()
		if err != nil {
			return nil, false, r.fail(ReasonTransportClose, 0)
		}
		if h.Rsv != 0 || !h.Masked || h.OpCode.IsReserved() {
			return nil, false, r.fail(ReasonTransportError, closeProtocolErr)
		}
		if h.OpCode.IsControl() {
			if !r.control(h) {
				return nil, false, false
			}
			continue
		}
		if !r.fragment(h) {
			return nil, false, false
		}
		if h.Fin {
			data, binary = r.msg, r.op == ws.OpBinary
			r.msg, r.inMsg = nil, false
			return data, binary, true
		}
	}
}

// control reads and handles a control frame (between the fragments of a
// message, too): a ping is answered with a pong, a close ends reading
// after our close frame echoing the peer's status.
func (r *wsReader) control(h ws.Header) bool {
	if h.Length > 125 || !h.Fin {
		return r.fail(ReasonTransportError, closeProtocolErr)
	}
	p := make([]byte, h.Length)
	if err := r.wc.readFull(p); err != nil {
		return r.fail(ReasonTransportClose, 0)
	}
	ws.Cipher(p, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		r.wc.writeRaw(ws.MustCompileFrame(ws.NewPongFrame(p)), r.c.s.writeTimeout())
	case ws.OpClose:
		code, _ := ws.ParseCloseFrameData(p)
		if code.Empty() {
			code = closeNormal
		}
		return r.fail(ReasonTransportClose, code)
	}
	return true
}

// fragment appends a data frame's payload to the message being assembled:
// a first frame starts one, a continuation frame continues it. The whole
// message is bounded by MaxPayload (status 1009 beyond).
func (r *wsReader) fragment(h ws.Header) bool {
	if h.OpCode == ws.OpContinuation {
		if !r.inMsg {
			return r.fail(ReasonTransportError, closeProtocolErr)
		}
	} else {
		if r.inMsg {
			return r.fail(ReasonTransportError, closeProtocolErr)
		}
		r.op, r.inMsg = h.OpCode, true
	}
	if int64(len(r.msg))+h.Length > r.max {
		return r.fail(ReasonTransportError, closeTooBig)
	}
	start := len(r.msg)
	r.msg = slices.Grow(r.msg, int(h.Length))[:start+int(h.Length)]
	if err := r.wc.readFull(r.msg[start:]); err != nil {
		return r.fail(ReasonTransportClose, 0)
	}
	ws.Cipher(r.msg[start:], h.Mask, 0)
	return true
}

// handleMessage handles one complete data message: a binary message is
// delivered as is, a text message is an Engine.IO packet (for the probe
// while upgrading).
func (r *wsReader) handleMessage(data []byte, binary bool) bool {
	r.delivered = true
	if binary {
		if r.upgrading {
			return r.fail("", 0)
		}
		r.c.deliver(data, true)
		return true
	}
	if !utf8.Valid(data) {
		return r.fail(ReasonTransportError, ws.StatusInvalidFramePayloadData)
	}
	p, err := decodePacket(data, true) // Node accepts "b<base64>" on WebSocket too
	if err != nil {
		return r.fail(ReasonParseError, 0)
	}
	if r.upgrading {
		return r.probe(p)
	}
	if !r.c.handlePacket(p) {
		r.c.finish()
		return false
	}
	return true
}

// probe runs one step of the upgrade: "2probe" is answered "3probe", then
// "5" switches the session to this WebSocket. Anything else drops the
// probe.
func (r *wsReader) probe(p packet) bool {
	switch {
	case p.typ == typePing && string(p.data) == "probe":
		return r.answerProbe()
	case p.typ == typeUpgrade && r.c.completeUpgrade(r.wc):
		r.upgrading = false
		return true
	default:
		return r.fail("", 0)
	}
}

// answerProbe answers "2probe" with "3probe" and releases the waiting GET
// (answered "6"), so that the client pauses polling and sends "5".
func (r *wsReader) answerProbe() bool {
	c, wc := r.c, r.wc
	// Probed before "3probe" leaves: a client that has it pauses polling
	// and sends "5", so a close racing with the answer must already keep
	// the probe (closeWith).
	c.mu.Lock()
	if c.probe == wc {
		c.probed = true
	}
	c.mu.Unlock()
	if wc.writeRaw(pongProbeMsg.frameBytes(), c.s.writeTimeout()) != nil {
		return r.fail("", 0)
	}
	c.mu.Lock()
	if c.probe == wc {
		c.releasePollLocked()
	}
	c.mu.Unlock()
	return true
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
