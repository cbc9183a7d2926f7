package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio/engine"
)

// handshakeRefusal turns a refusal of the "connect" rule into what the
// engine answers: the status of its code, Node's body with the reason as
// its message (engine.io-client hands the XHR to connect_error as
// err.context, so a page can show it) and, for a rate limit, Retry-After
// and X-RateLimit-* (as every REST 429 has them). nil stays nil.
func handshakeRefusal(err error) error {
	if err == nil {
		return nil
	}
	e, _ := event.ReplyOf(err)
	he := &engine.HandshakeError{Status: event.StatusOf(e.Code), Message: e.Message, Header: http.Header{}, Err: err}
	var le *ratelimit.LimitedError
	if errors.As(err, &le) {
		ratelimit.SetLimitedHeaders(he.Header, le)
	}
	return he
}

// disconnectCounter is sockgate_disconnects_total{reason}: Engine.IO
// connections closed, by the engine's reason ("transport close", "ping
// timeout", "send queue overflow", "write timeout", …), so that an operator
// sees slow consumers being dropped.
type disconnectCounter struct{ vec *prometheus.CounterVec }

func newDisconnectCounter() disconnectCounter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sockgate_disconnects_total",
		Help: "Engine.IO connections closed, by reason (transport close, ping timeout, send queue overflow, write timeout, ...).",
	}, []string{"reason"})
	// The reasons a deployment watches exist from the start (rate() of an
	// absent series is nothing, not zero).
	for _, r := range []string{engine.ReasonTransportClose, engine.ReasonTransportError, engine.ReasonPingTimeout,
		engine.ReasonQueueOverflow, engine.ReasonWriteTimeout} {
		vec.WithLabelValues(r)
	}
	return disconnectCounter{vec}
}

func (d disconnectCounter) inc(reason string) { d.vec.WithLabelValues(boundedReason(reason)).Inc() }

// Describe implements prometheus.Collector.
func (d disconnectCounter) Describe(ch chan<- *prometheus.Desc) { d.vec.Describe(ch) }

// Collect implements prometheus.Collector.
func (d disconnectCounter) Collect(ch chan<- prometheus.Metric) { d.vec.Collect(ch) }

// boundedReason keeps the label set small: reasons are the engine's and
// the Socket.IO layer's constants, but Conn.Close takes any string.
func boundedReason(r string) string {
	if len(r) > 40 {
		return "other"
	}
	return r
}

// uploadMinRate is the slowest attachment upload accepted: an upload gets
// BodyTimeout plus one second per uploadMinRate bytes of MaxUpload.
const uploadMinRate = 64 << 10

// bodyDeadline bounds the reading of r's body (not Socket.IO's: the engine
// bounds its own): a read deadline on this request's connection, cleared
// once the body has been read, so that a handler still running afterwards
// keeps its connection (net/http's background read would fail on it). A
// body cut by the deadline reads as an invalid_payload error naming it.
func (s *Server) bodyDeadline(w http.ResponseWriter, r *http.Request, upload bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	d := s.cfg.BodyTimeout
	if upload {
		maxUpload := s.cfg.MaxUpload
		if maxUpload <= 0 {
			maxUpload = 10 << 20 // the chat API's default
		}
		d += time.Duration(maxUpload/uploadMinRate) * time.Second
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return // no deadlines on this ResponseWriter (HTTP/2 push, tests)
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, limit: d}
}

// deadlineBody is a request body read under a deadline (bodyDeadline).
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	limit time.Duration
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil || b.done {
		return n, err
	}
	b.done = true
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return n, &event.Error{Code: event.CodeInvalidPayload,
			Message: "The request body did not arrive within " + b.limit.String() + "."}
	}
	b.rc.SetReadDeadline(time.Time{}) // the body is in (or failed otherwise)
	return n, err
}
