package engine

import (
	"bytes"
	"errors"
	"io"
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
	if c.state == stateClosed {
		c.mu.Unlock()
		writeError(w, codeUnknownSID, http.StatusBadRequest)
		return
	}
	if c.state == stateOpen && c.heartbeatExpiredLocked(time.Now()) {
		c.mu.Unlock()
		c.closeWith(ReasonPingTimeout, false)
		writeError(w, codeUnknownSID, http.StatusBadRequest)
		return
	}
	if c.pollActive {
		c.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonTransportError, false)
		return
	}
	if len(c.queue) == 0 && c.state == stateOpen {
		wake := make(chan struct{})
		c.pollActive, c.pollWake = true, wake
		if c.probed {
			// An upgrade is being probed: answer "6" soon (the client
			// then sends "5"), unless the upgrade completes first, as
			// Node's 100ms upgrade check does.
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
		case <-r.Context().Done():
			c.mu.Lock()
			c.pollActive, c.pollWake = false, nil
			c.mu.Unlock()
			c.closeWith(ReasonTransportError, false)
			return
		}
		c.mu.Lock()
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
	var q []*Message
	if c.transport == "polling" {
		q = c.takeQueueLocked()
	}
	var tail *Message
	closing := c.state != stateOpen && len(q) == 0
	if closing {
		// The session ends with this response: "1" tells the client,
		// except when the client itself closed ("6" just ends the GET).
		tail = closePacket
		if c.reason == ReasonTransportClose {
			tail = noopPacket
		}
	} else if len(q) == 0 {
		tail = noopPacket // released for an upgrade
	}
	c.mu.Unlock()

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
	c.recycle(q)
	if closing {
		c.finish()
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
	c.mu.Lock()
	if c.postActive {
		c.mu.Unlock()
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonTransportError, false)
		return
	}
	c.postActive = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.postActive = false
		c.mu.Unlock()
	}()

	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		c.closeWith(ReasonTransportError, false)
		return
	}
	pkts, err := decodePayload(buf.Bytes())
	if err != nil {
		writeError(w, codeBadRequest, http.StatusBadRequest)
		c.closeWith(ReasonParseError, false)
		return
	}
	for _, p := range pkts {
		if !c.handlePacket(p) {
			break
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Content-Length", "2")
	io.WriteString(w, "ok")
}
