package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/socketio"
)

// replyStyle is how a namespace answers events.
type replyStyle int

const (
	// styleTutorial is NestJS's behaviour the tutorial client relies on: the
	// ack carries the handler's reply (true) on success; a failure sends no
	// ack, only an "exception" event (SPEC §2).
	styleTutorial replyStyle = iota
	// styleObject answers every event with an object ack: the reply, or
	// {success:false, error:{code, message}} plus the "exception" event
	// (SPEC §3).
	styleObject
)

// binding is one registered event of a namespace.
type binding struct {
	event string
	fn    func(c *Conn, args socketio.Args, ack socketio.AckFunc)
}

// on registers event on namespace n: every socket of n that sends it goes
// through the same pipeline, the only place where events become replies:
//
//  1. rate limit (rule; "" or an unconfigured rule means none), counted
//     against the user, else the client IP — before decoding, like NestJS's
//     guards, so garbage costs a client its budget too;
//  2. decode the first argument into Req and validate it (wire.Decode);
//  3. call h with a context derived from the server's (so it ends on
//     shutdown) with Config.EventTimeout and the identity attached;
//  4. render: the reply as ack, or the error through replyOf (errors.go).
//
// Handlers therefore return facts and never write error replies themselves.
func on[Req, Reply any](n *namespace, event, rule string, h func(ctx context.Context, c *Conn, req Req) (Reply, error)) {
	n.bindings = append(n.bindings, binding{event: event, fn: func(c *Conn, args socketio.Args, ack socketio.AckFunc) {
		srv := n.srv
		srv.metrics.eventsIn.WithLabelValues(n.name, event).Inc()
		reply, err := invoke(n, c, event, rule, args, h)
		if err != nil {
			n.fail(c, event, ack, err)
			return
		}
		srv.metrics.acks.WithLabelValues(n.name, event, "ok").Inc()
		if ack != nil {
			if err := ack(reply); err != nil {
				c.log.Debug("ack failed", "event", event, "err", err)
			}
		}
	}})
}

func invoke[Req, Reply any](n *namespace, c *Conn, event, rule string, args socketio.Args,
	h func(ctx context.Context, c *Conn, req Req) (Reply, error)) (reply Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gateway: panic in %s %s: %v\n%s", n.name, event, r, debug.Stack())
		}
	}()
	srv := n.srv
	if err := srv.allow(c.Context(), rule, c.rateKey()); err != nil {
		return reply, err
	}
	var req Req
	if err := wire.Decode(args.Raw(0), &req); err != nil {
		return reply, err
	}
	ctx, cancel := context.WithTimeout(srv.ctx, srv.cfg.EventTimeout)
	defer cancel()
	if id, ok := c.Identity(); ok {
		ctx = auth.NewContext(ctx, id)
	}
	return h(ctx, c, req)
}

// fail renders err for the client in the namespace's style.
func (n *namespace) fail(c *Conn, event string, ack socketio.AckFunc, err error) {
	e, known := replyOf(err)
	if known {
		c.log.Debug("event refused", "event", event, "code", e.Code, "err", err)
	} else {
		c.log.Error("event failed", "event", event, "err", err)
	}
	m := n.srv.metrics
	m.errors.WithLabelValues(e.Code).Inc()
	m.acks.WithLabelValues(n.name, event, "error").Inc()
	if n.style == styleObject && ack != nil {
		var body any = failedAck{Success: false, Error: e}
		if errors.Is(err, errNotJoinedLobby) {
			body = legacyFailedAck{Error: e.Message}
		}
		if err := ack(body); err != nil {
			c.log.Debug("ack failed", "event", event, "err", err)
		}
	}
	c.emit("exception", exception{Status: "error", Message: e.Message})
}

// allow checks rule for key. A store failure refuses (fail closed: a limit
// that cannot be checked is not granted).
func (s *Server) allow(ctx context.Context, rule, key string) error {
	if s.lim == nil || rule == "" {
		return nil
	}
	_, err := s.lim.Allow(ctx, rule, key)
	return s.limitErr(rule, err)
}

// limitErr counts refusals and turns store failures into `unavailable`.
func (s *Server) limitErr(rule string, err error) error {
	if err == nil {
		return nil
	}
	if isLimited(err) {
		s.metrics.limited.WithLabelValues(rule).Inc()
		return err
	}
	s.log.Error("rate limiter failed", "rule", rule, "err", err)
	return &Error{CodeUnavailable, "Rate limiting is unavailable; try again later."}
}
