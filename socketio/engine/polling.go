package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// probePollDelay is how long a GET arriving during an upgrade probe waits
// before it is answered with a noop.
const probePollDelay = 100 * time.Millisecond

// releasePollLocked releases the waiting GET, if any.
func (c *Conn) releasePollLocked() {
	if c.pollActive && c.pollWake != nil {
		close(c.pollWake)
		c.pollWake = nil
	}
}

// servePoll answers a polling GET: with what is queued, or, when nothing is,
// by waiting until something is (or the session closes or upgrades).
// One GET may wait per session: an overlapping GET is refused with 400 and
// closes the session, as Node does.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if !c.admitPollLocked(w) {
		return
	}
	if len(c.queue) == 0 && c.state == stateOpen && !c.waitPollLocked(r) {
		return
	}
	c.pollActive, c.pollWake = false, nil
	if c.transport != "polling" {
		// Upgraded (maybe while this GET waited): polling is over. A
		// closing session is flushing on its WebSocket: this GET must
		// not end it under the writer (Node answers 400 too).
		c.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusBadRequest)
		return
	}
	q := c.takeQueueLocked()
	tail, closing := c.pollTailLocked(len(q) == 0)
	if len(q) > 0 {
		c.carried = time.Now().UnixNano()
	}
	c.mu.Unlock()
	err := c.s.writeBounded(w, func() { writePollResponse(w, q, tail) })
	c.recycle(q)
	if err != nil {
		c.closeWith(c.writeFailure(err), false)
		c.finish()
		return
	}
	if closing {
		c.finish()
	}
}

// writeBounded runs write (a response's whole body) and flushes it within
// Config.WriteTimeout, so a client that never reads does not pin the
// request's goroutine, its connection and the response bytes. The
// connection's write deadline is cleared afterwards: net/http without a
// WriteTimeout does not reset it for the next request on the connection
// (a waiting long-poll). Servers whose ResponseWriter has no deadlines
// (ErrNotSupported) write without one.
func (s *Server) writeBounded(w http.ResponseWriter, write func()) error {
	rc := http.NewResponseController(w)
	bounded := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)) == nil
	write()
	err := rc.Flush()
	if bounded {
		rc.SetWriteDeadline(time.Time{})
	}
	if errors.Is(err, http.ErrNotSupported) {
		err = nil
	}
	return err
}

// admitPollLocked vets a GET, called with c.mu held. It returns true with
// c.mu still held, or false with c.mu released once it has refused the GET:
// the session is gone, its pong is overdue (the session closes), or another
// GET is waiting (the session closes).
func (c *Conn) admitPollLocked(w http.ResponseWriter) bool {
	switch {
	case c.state == stateClosed:
		c.mu.Unlock()
		writeError(w, codeUnknownSID, http.StatusBadRequest)
	case c.state == stateOpen && c.heartbeatExpiredLocked(time.Now()):
		c.mu.Unlock()
		c.closeWith(ReasonPingTimeout, false)
		writeError(w, codeUnknownSID, http.StatusBadRequest)
	case c.pollActive:
		c.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonTransportError, false)
	default:
		return true
	}
	return false
}

// waitPollLocked makes the GET the session's waiting poll and waits, with
// c.mu released, until it is released (something queued, the session
// closing or upgrading). It returns true with c.mu held again, or false,
// with c.mu released, when the request ended first: the session then
// closes ("transport error").
func (c *Conn) waitPollLocked(r *http.Request) bool {
	wake := make(chan struct{})
	c.pollActive, c.pollWake = true, wake
	if c.probed {
		// An upgrade is being probed: answer "6" soon (the client then
		// sends "5"), unless the upgrade completes first, as Node's 100ms
		// upgrade check does.
		t := time.AfterFunc(probePollDelay, func() {
			c.mu.Lock()
			if c.pollWake == wake {
				c.releasePollLocked()
			}
			c.mu.Unlock()
		})
		defer t.Stop()
	}
	c.mu.Unlock()
	select {
	case <-wake:
		c.mu.Lock()
		return true
	case <-r.Context().Done():
		c.mu.Lock()
		c.pollActive, c.pollWake = false, nil
		c.mu.Unlock()
		c.closeWith(ReasonTransportError, false)
		return false
	}
}

// pollTailLocked returns the packet that ends a poll response, if any, and
// whether the session ends with it. A response with messages has none; an
// empty one says "1" when the session is closing (except that a client
// that closed itself gets "6", which just ends its GET) and "6" when the
// GET was released for an upgrade.
func (c *Conn) pollTailLocked(empty bool) (tail *Message, closing bool) {
	switch {
	case !empty:
		return nil, false
	case c.state == stateOpen:
		return noopPacket, false
	case c.reason == ReasonTransportClose:
		return noopPacket, true
	default:
		return closePacket, true
	}
}

// writePollResponse writes q, then tail (when not nil), joined by the
// record separator, with their exact Content-Length.
func writePollResponse(w http.ResponseWriter, q []*Message, tail *Message) {
	n := 0
	for _, m := range q {
		n += len(m.pollingBytes()) + 1
	}
	if tail != nil {
		n += len(tail.pollingBytes()) + 1
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(n-1))
	w.WriteHeader(http.StatusOK)
	sep := []byte{recordSep}
	for i, m := range q {
		if i > 0 {
			w.Write(sep)
		}
		w.Write(m.pollingBytes())
	}
	if tail != nil {
		if len(q) > 0 {
			w.Write(sep)
		}
		w.Write(tail.pollingBytes())
	}
}

// serveData handles a polling POST: the body, capped at MaxPayload before
// it is read, is decoded as a payload and its packets handled in order.
// POSTs of one session are serialized: an overlapping POST is refused with
// 400 and closes the session, as Node does.
func (c *Conn) serveData(w http.ResponseWriter, r *http.Request) {
	max := c.s.cfg.MaxPayload
	if r.ContentLength > max {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if !c.handlePost(w, r) {
		return
	}
	// The session takes the next POST from here: a client sends it as soon
	// as it reads this "ok", possibly before this handler has returned.
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Content-Length", "2")
	c.s.writeBounded(w, func() { io.WriteString(w, "ok") })
}

// handlePost reads and handles a POST's packets, the session's only POST
// while it runs; it reports whether they were all handled (otherwise it
// has answered and closed the session).
func (c *Conn) handlePost(w http.ResponseWriter, r *http.Request) bool {
	c.mu.Lock()
	if c.postActive {
		c.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonTransportError, false)
		return false
	}
	c.postActive = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.postActive = false
		c.mu.Unlock()
	}()

	body, err := c.s.readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooBig):
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return false
		case errors.As(err, &ne) && ne.Timeout():
			c.logger().Info("engine: polling body not received in time, closing", "timeout", c.s.cfg.BodyTimeout,
				"declared", r.ContentLength)
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestTimeout)
		}
		c.closeWith(ReasonTransportError, false)
		return false
	}
	if err := eachPacket(body, c.handlePacket); err != nil {
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonParseError, false)
		return false
	}
	return true
}

// readBody reads a polling POST body: capped at MaxPayload while it is read
// (a declared Content-Length reserves nothing: the buffer grows with the
// bytes that actually arrive) and within BodyTimeout of now (a read
// deadline on this request's connection only: long-polls and WebSockets
// keep theirs). The deadline is cleared once the body is in.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	bounded := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)) == nil
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, initialBodyBuffer)))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxPayload))
	if bounded && err == nil {
		rc.SetReadDeadline(time.Time{})
	}
	return buf.Bytes(), err
}

// initialBodyBuffer is the most a POST's declared length reserves before
// its bytes arrive.
const initialBodyBuffer = 4 << 10
