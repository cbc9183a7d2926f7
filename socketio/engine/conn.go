package engine

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Close reasons, with Node's engine.io names where Node has one.
const (
	ReasonTransportClose = "transport close"      // the peer closed (close packet, socket closed)
	ReasonTransportError = "transport error"      // I/O or protocol error, oversized message, overlapping polls
	ReasonPingTimeout    = "ping timeout"         // no pong within PingTimeout
	ReasonParseError     = "parse error"          // malformed Engine.IO packet
	ReasonForcedClose    = "forced close"         // Conn.Close without a more specific reason
	ReasonShutdown       = "server shutting down" // Server.Shutdown
	ReasonQueueOverflow  = "send queue overflow"  // Send beyond Config.SendQueue or SendQueueBytes
	ReasonWriteTimeout   = "write timeout"        // the peer read nothing for Config.WriteTimeout
)

// maxPollCloseWait bounds how long a closing polling session waits for
// the GETs that carry its last messages and its close packet. A live client
// polls again within a round trip; one that vanished (a closed tab) must not
// hold the session, its OnClose or Shutdown for long.
const maxPollCloseWait = 2 * time.Second

// betweenGets is how long after a GET carried messages its client counts
// as about to send the next one (a round trip, with room for a loaded
// client).
const betweenGets = time.Second

// pollCloseWait is min(PingTimeout, maxPollCloseWait).
func (s *Server) pollCloseWait() time.Duration {
	return min(s.cfg.PingTimeout, maxPollCloseWait)
}

type connState uint8

const (
	stateOpen connState = iota
	stateClosing
	stateClosed
)

// Conn is one Engine.IO session (a client), whatever its transport.
type Conn struct {
	s      *Server
	id     string
	h      ConnHandler
	header string // the handshake request's headers, Host included (packHeader)
	uri    string // its request target (path and query) as sent
	remote string // its RemoteAddr
	secure bool   // it came over TLS

	mu        sync.Mutex
	transport string
	state     connState
	reason    string
	queue     []*Message // outbound packets in order (messages and control packets)
	spare     []*Message // the other half of the double buffer used by writers
	nmsg      int        // messages (not control packets) in queue, bounded by SendQueue
	nbytes    int64      // their payload bytes; with inflight, bounded by SendQueueBytes
	inflight  int64      // payload bytes taken by a writer (or poll) and not yet written
	ip        string     // the client address holding a MaxConnsPerIP slot; under Server.mu

	hb        *time.Timer // heartbeat: fires to send a ping, then to detect the timeout
	awaitPong bool
	nextPing  time.Time // when the current/next ping is due

	// Polling.
	pollActive bool          // a GET is waiting
	pollWake   chan struct{} // closed to release the waiting GET
	// carried is when a GET last carried messages (Unix ns): the client
	// is then between two GETs, its next one a round trip away.
	carried    int64
	postActive bool
	closeTimer *time.Timer // flushing close waiting for the last GET

	// WebSocket.
	ws              *wsConn // current WebSocket when transport is "websocket"
	writing         bool    // a writer (goroutine, flusher or SendDirect) has the queue
	nextDirty       *Conn   // next on Server.dirty; owned by the stack's holder
	closeAfterFlush bool
	linger          *wsConn // closed by its reader after a lingering close

	// Upgrade.
	probe   *wsConn // WebSocket being upgraded to
	probed  bool    // its "2probe" was answered
	upTimer *time.Timer

	// Delivery to the handler (see deliver).
	deliverMu    sync.Mutex
	inHandler    bool
	closePending bool
	closeCalled  bool
}

// newConn keeps what the Socket.IO handshake exposes of r (headers, request
// target, address, TLS), not r itself: a kept request, even a shallow copy,
// held its URL, its contexts and their parents (~0.7 KB per connection).
// The headers are packed into one string (packHeader), Host among them as
// in Node's handshake headers (net/http moves it out of r.Header).
func newConn(s *Server, id string, r *http.Request, transport string) *Conn {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.RequestURI()
	}
	return &Conn{
		s:         s,
		id:        id,
		h:         nopHandler{},
		header:    packHeader(r.Header, r.Host),
		uri:       uri,
		remote:    r.RemoteAddr,
		secure:    r.TLS != nil,
		transport: transport,
	}
}

// packHeader packs h (and host, unless h has Host) into one string, a
// "Key: value\n" line per value. An http.Header kept per connection (a map,
// a slice per name, a string per value) cost about three times its text.
// Names are tokens and values hold no newline (net/http refuses both), so
// the lines split back unambiguously.
func packHeader(h http.Header, host string) string {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 3
		}
	}
	if host != "" && len(h["Host"]) == 0 {
		n += len("Host: \n") + len(host)
	} else {
		host = ""
	}
	var b strings.Builder
	b.Grow(n)
	if host != "" {
		b.WriteString("Host: ")
		b.WriteString(host)
		b.WriteByte('\n')
	}
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// unpackHeader is packHeader's inverse (the values share packed's bytes).
func unpackHeader(packed string) http.Header {
	h := make(http.Header, strings.Count(packed, "\n"))
	for line := range strings.Lines(packed) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		h[k] = append(h[k], v)
	}
	return h
}

type nopHandler struct{}

func (nopHandler) OnMessage([]byte, bool) {}
func (nopHandler) OnClose(string)         {}

// disconnected reports a closed connection to Config.OnDisconnect.
func (s *Server) disconnected(reason string) {
	if s.cfg.OnDisconnect != nil {
		s.cfg.OnDisconnect(reason)
	}
}

// logger returns the server's logger with the session id. Built when
// needed (rarely) rather than kept: slog's With costs ~100 B per connection.
func (c *Conn) logger() *slog.Logger { return c.s.log.With("sid", c.id) }

// ID returns the Engine.IO session id (20 characters).
func (c *Conn) ID() string { return c.id }

// SetHandler sets the connection's handler. It must be called inside the
// Server's onConnect callback, before it returns.
func (c *Conn) SetHandler(h ConnHandler) {
	if h == nil {
		h = nopHandler{}
	}
	c.h = h
}

// Header returns the handshake request's headers, Host included: a new
// map on each call, built from the connection's packed copy.
func (c *Conn) Header() http.Header { return unpackHeader(c.header) }

// RequestURI returns the handshake request's target as the client sent it:
// path and query (Node's handshake url).
func (c *Conn) RequestURI() string { return c.uri }

// Secure reports whether the handshake request came over TLS.
func (c *Conn) Secure() bool { return c.secure }

// RemoteAddr returns the handshake request's RemoteAddr.
func (c *Conn) RemoteAddr() string { return c.remote }

// Transport returns the current transport: "polling" or "websocket".
func (c *Conn) Transport() string { return c.currentTransport() }

func (c *Conn) currentTransport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Send queues msgs in order. It never blocks. It returns ErrClosed when the
// connection is closing or closed, and ErrQueueFull when the queue would
// exceed Config.SendQueue messages or Config.SendQueueBytes bytes, in which
// case the connection is closed with reason "send queue overflow" (logged).
func (c *Conn) Send(msgs ...*Message) error {
	var size int64
	for _, m := range msgs {
		size += m.size()
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	pending := c.nbytes + c.inflight
	if c.nmsg+len(msgs) > c.s.cfg.SendQueue || pending > 0 && pending+size > c.s.cfg.SendQueueBytes {
		queued, bytes := c.nmsg, pending
		c.mu.Unlock()
		c.logger().Info("engine: send queue overflow (the client does not keep up), closing",
			"queued", queued, "queued_bytes", bytes, "max", c.s.cfg.SendQueue, "max_bytes", c.s.cfg.SendQueueBytes)
		c.closeWith(ReasonQueueOverflow, false)
		return ErrQueueFull
	}
	c.queue = append(c.queue, msgs...)
	c.nmsg += len(msgs)
	c.nbytes += size
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// SendVolatile queues msgs only if the transport can write them right now:
// a WebSocket with nothing queued, or a polling session with a waiting GET
// and nothing queued, no upgrade in progress. It reports whether they were
// queued.
func (c *Conn) SendVolatile(msgs ...*Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen || len(c.queue) > 0 || c.probe != nil {
		return false
	}
	switch {
	case c.transport == "websocket" && c.ws != nil:
	case c.transport == "polling" && c.pollActive:
	default:
		return false
	}
	c.queue = append(c.queue, msgs...)
	c.nmsg += len(msgs)
	for _, m := range msgs {
		c.nbytes += m.size()
	}
	c.kickLocked()
	return true
}

// Close flushes what is queued (when the transport can take it), then
// closes the connection; the handler's OnClose receives reason. Close never
// calls the handler itself and never blocks on I/O.
func (c *Conn) Close(reason string) {
	if reason == "" {
		reason = ReasonForcedClose
	}
	c.closeWith(reason, true)
}

// enqueueLocked queues a control packet (not counted against SendQueue).
func (c *Conn) enqueueLocked(m *Message) {
	c.queue = append(c.queue, m)
	c.kickLocked()
}

// kickLocked makes the current transport write the queue: it releases a
// waiting GET, or starts the WebSocket writer if it is not running.
func (c *Conn) kickLocked() {
	switch {
	case c.transport == "websocket" && c.ws != nil:
		if !c.writing {
			c.writing = true
			c.s.startWriter(c, c.ws)
		}
	case c.transport == "polling":
		c.releasePollLocked()
	}
}

// takeQueueLocked returns the queued packets and resets the queue, reusing
// the spare buffer. Their bytes stay counted (inflight) until the caller
// has written them and hands the slice back with recycle.
func (c *Conn) takeQueueLocked() []*Message {
	q := c.queue
	c.queue = c.spare[:0]
	c.spare = nil
	c.inflight = c.nbytes
	c.nmsg, c.nbytes = 0, 0
	return q
}

// maxSpare bounds the spare queue a connection keeps between bursts: a
// burst's larger queue is dropped, so an idle connection does not hold
// the largest queue it ever had (8 KB at 1,024 messages).
const maxSpare = 64

func (c *Conn) recycle(q []*Message) {
	clear(q)
	c.mu.Lock()
	c.inflight = 0
	if c.spare == nil && cap(q) <= maxSpare {
		c.spare = q[:0]
	}
	c.mu.Unlock()
}

// startHeartbeat arms the ping timer.
func (c *Conn) startHeartbeat() {
	c.mu.Lock()
	if c.state == stateOpen && c.hb == nil {
		c.nextPing = time.Now().Add(c.s.cfg.PingInterval)
		c.hb = time.AfterFunc(c.s.cfg.PingInterval, c.onHeartbeat)
	}
	c.mu.Unlock()
}

// onHeartbeat runs on the heartbeat timer: it either sends a ping and waits
// PingTimeout for the pong, or, if the previous ping went unanswered,
// closes the connection. Deadlines count from when the ping was due, not
// from when a late timer fired, so a loaded scheduler never extends them.
func (c *Conn) onHeartbeat() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	if c.awaitPong {
		if c.inHandler {
			// The pong may be waiting behind a running OnMessage (the
			// reader is busy): the peer is not late, we are. Give it
			// another PingTimeout once the handler lets us read.
			c.nextPing = time.Now()
			c.hb.Reset(c.s.cfg.PingTimeout)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.closeWith(ReasonPingTimeout, false)
		return
	}
	c.awaitPong = true
	c.enqueueLocked(pingPacket)
	c.hb.Reset(time.Until(c.nextPing.Add(c.s.cfg.PingTimeout)))
	c.mu.Unlock()
}

// heartbeatExpiredLocked reports whether the pong deadline has passed even if the
// timer has not fired yet (checked when a poll arrives).
func (c *Conn) heartbeatExpiredLocked(now time.Time) bool {
	return c.hb != nil && !c.inHandler && now.After(c.nextPing.Add(c.s.cfg.PingTimeout))
}

func (c *Conn) onPong() {
	c.mu.Lock()
	if c.awaitPong && c.state == stateOpen {
		c.awaitPong = false
		c.nextPing = time.Now().Add(c.s.cfg.PingInterval)
		c.hb.Reset(c.s.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// handlePacket handles one inbound packet received on the active transport.
// It returns false when the connection is closing and reading should stop.
func (c *Conn) handlePacket(p packet) bool {
	switch p.typ {
	case typeMessage:
		c.deliver(p.data, p.binary)
	case typePong:
		c.onPong()
	case typeClose:
		c.mu.Lock()
		closing := c.state == stateClosing
		c.mu.Unlock()
		c.closeWith(ReasonTransportClose, false)
		if closing {
			// The client acknowledges our close: nothing is left to
			// deliver to it.
			c.finish()
		}
		return false
	case typeNoop:
	case typePing:
		// Engine.IO v4 servers ping; a client ping is a protocol error
		// (Node: "invalid heartbeat direction").
		c.closeWith(ReasonTransportError, false)
		return false
	default:
		// open/upgrade on an established transport: ignored like Node.
	}
	return true
}

// deliver calls OnMessage, never concurrently for one Conn and never after
// OnClose. When the connection finishes while OnMessage runs, OnClose is
// called by this goroutine once OnMessage has returned.
func (c *Conn) deliver(data []byte, binary bool) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.mu.Lock()
	if c.state != stateOpen || c.closeCalled {
		c.mu.Unlock()
		return
	}
	c.inHandler = true
	c.mu.Unlock()

	c.h.OnMessage(data, binary)

	c.mu.Lock()
	c.inHandler = false
	pending := c.closePending && !c.closeCalled
	if pending {
		c.closeCalled = true
	}
	reason := c.reason
	c.mu.Unlock()
	if pending {
		// finish left the session in the table for us: Shutdown (which
		// does not own a polling POST's goroutine) waits for it, so it
		// returns only after this OnClose.
		c.s.unregister(c)
		c.s.disconnected(reason)
		c.h.OnClose(reason)
	}
}

// closeWith starts closing the connection. With flush, what is queued is
// written first when the transport can take it (WebSocket: always; polling:
// by the waiting or the next GET, bounded by a close timer).
func (c *Conn) closeWith(reason string, flush bool) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.reason = reason
	if c.hb != nil {
		c.hb.Stop()
	}
	probe := c.dropProbeLocked(flush)
	if !flush {
		clear(c.queue)
		c.queue = c.queue[:0]
		c.nmsg, c.nbytes = 0, 0
	}
	var finishNow bool
	if c.transport == "websocket" {
		finishNow = c.closeWebSocketLocked(flush)
	} else {
		finishNow = c.closePollingLocked(flush)
	}
	c.mu.Unlock()
	if probe != nil {
		c.closeWS(probe)
	}
	if finishNow {
		c.finish()
	}
}

// dropProbeLocked ends the upgrade in progress of a closing session and
// returns its WebSocket for the caller to close (nil if none), except for
// a probed upgrade of a polling session closed with flush: the client has
// paused polling (or is about to) and sends "5" next, so like Node the
// upgrade completes and the queue and the close go out on the WebSocket
// (completeUpgrade). Otherwise the last messages would wait for a GET that
// never comes. The close timer still bounds the wait.
func (c *Conn) dropProbeLocked(flush bool) *wsConn {
	if flush && c.probed && c.transport == "polling" {
		return nil
	}
	probe := c.probe
	c.probe, c.probed = nil, false
	if c.upTimer != nil {
		c.upTimer.Stop()
	}
	return probe
}

// closeWebSocketLocked starts the close of a WebSocket session; it reports
// whether the session must finish now.
func (c *Conn) closeWebSocketLocked(flush bool) (finishNow bool) {
	if !flush || c.ws == nil {
		return true
	}
	// The writer sends what is queued, then the close frame: never I/O
	// on the caller's goroutine.
	c.closeAfterFlush = true
	c.kickLocked()
	return false
}

// closePollingLocked starts the close of a polling session: the session
// either waits, bounded by the close timer, for the GETs (or the upgrade)
// that carry its last messages and its close, or finishes now (reported).
// Like Node, what is queued and the close packet travel in separate poll
// responses (socket.io-client handles a close packet before the DISCONNECT
// decoded in the same payload).
func (c *Conn) closePollingLocked(flush bool) (finishNow bool) {
	switch {
	case c.pollActive:
		c.releasePollLocked() // the GET writes the queue or "1"
	case flush && (len(c.queue) > 0 || time.Now().UnixNano()-c.carried < int64(betweenGets)):
		// The next GET takes the rest, if any, then the close packet.
		// With nothing queued, the wait is for a client that is between
		// two GETs (one just carried messages): without it, its next GET
		// met an unknown session, which the client reports as "transport
		// error" rather than the server's close. An idle client's GET
		// is waiting (the case above); waiting for one that has none
		// would hold Shutdown for nothing.
	case c.probe != nil:
		// Kept probe, nothing queued (a GET took it): the close goes out
		// on the WebSocket once the client's "5" arrives.
	case c.reason == ReasonTransportClose:
		// The client closed (POST "1") while its GET may still be on the
		// way on another TCP connection: answer that GET with a noop
		// rather than an unknown-session error.
	default:
		return true
	}
	c.closeTimer = time.AfterFunc(c.s.pollCloseWait(), c.finish)
	return false
}

// finish completes the close: the session leaves the table, the transports
// are closed and OnClose is scheduled (or left to a running OnMessage).
func (c *Conn) finish() {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if c.reason == "" {
		c.reason = ReasonForcedClose
	}
	c.state = stateClosed
	if c.hb != nil {
		c.hb.Stop()
	}
	if c.upTimer != nil {
		c.upTimer.Stop()
	}
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	clear(c.queue)
	c.queue, c.spare, c.nmsg, c.nbytes, c.inflight = nil, nil, 0, 0, 0
	c.releasePollLocked()
	ws, probe := c.ws, c.probe
	c.probe = nil
	reason := c.reason
	linger := c.linger
	callNow := false
	if c.inHandler {
		c.closePending = true
	} else if !c.closeCalled {
		c.closeCalled = true
		callNow = true
	}
	c.mu.Unlock()
	if ws != nil && ws != linger {
		c.closeWS(ws)
	}
	if probe != nil {
		c.closeWS(probe)
	}
	if callNow {
		// Never from the caller's goroutine: Close may be called with
		// the Socket.IO layer's locks held. The session leaves the
		// table first (Count is exact when OnClose runs) but only on
		// the tracked goroutine, so Shutdown never sees both at zero
		// before OnClose has run.
		h := c.h
		c.s.goTracked(func() {
			c.s.unregister(c)
			c.s.disconnected(reason)
			h.OnClose(reason)
		})
	}
	// Otherwise OnMessage is running: the deliver call running it calls
	// OnClose and unregisters the session when it returns.
	c.logger().Debug("engine: connection closed", "reason", reason)
}
