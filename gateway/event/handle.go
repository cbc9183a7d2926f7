package event

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/socketio"
)

// Handler handles one decoded, validated event. It returns the ack's reply
// or an error; it never writes an error reply itself.
type Handler[Req, Reply any] func(ctx context.Context, c *Client, req Req) (Reply, error)

// OK is the reply {success:true} of events that return nothing else.
type OK struct {
	Success bool `json:"success"`
}

// On registers event on namespace n: every socket of n that sends it goes
// through the same pipeline, the only place where events become replies:
//
//  1. the deadline: the packet's arrival (socketio.Args.ReceivedAt) plus
//     Config.Timeout; an event that waited in the socket's inbox past it
//     is answered ErrExpired without running;
//  2. rate limit (rule; "" or an unconfigured rule means none), counted
//     against the user, else the client IP, in the window of the packet's
//     arrival — before decoding, like NestJS's guards, so garbage costs a
//     client its budget too;
//  3. decode the first argument into Req and validate it (Decode);
//  4. call h with a context that ends at the deadline or when the socket
//     disconnects (Socket.Context), with the identity attached;
//  5. render: the reply as ack, or the error through ReplyOf, in the
//     namespace's Style; a DisconnectAfter error then disconnects.
//
// No answer leaves later than the deadline: if h is still running then, a
// timer answers ErrTimeout, and h's result, when it comes, is logged and
// dropped (what h did stays done: a message that committed is delivered;
// the client's retry must be idempotent).
func On[Req, Reply any](n *Namespace, event, rule string, h Handler[Req, Reply]) {
	info := EventInfo{Name: event, Rule: rule, Request: reflect.TypeFor[Req](), Reply: reflect.TypeFor[Reply]()}
	ctr := n.p.metrics.event(n.name, event)
	n.bindings = append(n.bindings, binding{event: event, info: info, ctr: ctr, fn: func(c *Client, args socketio.Args, ack socketio.AckFunc) {
		ctr.in.Inc()
		at := args.ReceivedAt()
		if at.IsZero() {
			at = time.Now()
		}
		deadline := at.Add(n.p.cfg.Timeout)
		wait := time.Until(deadline)
		if wait <= 0 {
			n.fail(c, event, ctr, ack, Refuse(ErrExpired, fmt.Errorf("event: %s waited %s in the inbox, past its deadline", event, time.Since(at).Round(time.Millisecond))))
			return
		}
		ctx, cancel := context.WithDeadline(c.Socket().Context(), deadline)
		defer cancel()
		var answered atomic.Bool
		timer := time.AfterFunc(wait, func() {
			if answered.CompareAndSwap(false, true) {
				n.fail(c, event, ctr, ack, ErrTimeout)
			}
		})
		n.p.running.Add(1)
		reply, err := invoke(ctx, n, c, event, rule, at, args, h)
		n.p.running.Add(-1)
		n.p.lastDone.Store(time.Now().UnixNano())
		if !timer.Stop() && !answered.CompareAndSwap(false, true) {
			c.Logger().Info("event finished after its deadline; the client was told unavailable",
				"event", event, "late", time.Since(deadline).Round(time.Millisecond), "err", err)
			return
		}
		answered.Store(true)
		n.answer(c, event, ctr, ack, reply, err)
	}})
}

// answer renders h's result.
func (n *Namespace) answer(c *Client, event string, ctr eventCounters, ack socketio.AckFunc, reply any, err error) {
	if err != nil {
		n.fail(c, event, ctr, ack, err)
		return
	}
	ctr.ok.Inc()
	if ack != nil {
		if err := ack(reply); err != nil {
			c.Logger().Debug("ack failed", "event", event, "err", err)
		}
	}
}

func invoke[Req, Reply any](ctx context.Context, n *Namespace, c *Client, event, rule string, at time.Time, args socketio.Args, h Handler[Req, Reply]) (reply Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("event: panic in %s %s: %v\n%s", n.name, event, r, debug.Stack())
		}
	}()
	// The deadline started before the limit is checked, so a slow
	// limiter shortens the handler's time rather than adding to it. The
	// event counts in the window of its arrival, not of this check.
	if _, err := n.p.AllowAt(ctx, rule, c.rateKey(), at); err != nil {
		return reply, err
	}
	var req Req
	if err := Decode(args.Raw(0), &req); err != nil {
		return reply, err
	}
	if id, ok := c.Identity(); ok {
		ctx = auth.NewContext(ctx, id)
	}
	return h(ctx, c, req)
}

// fail renders err for the client in the namespace's style.
func (n *Namespace) fail(c *Client, event string, ctr eventCounters, ack socketio.AckFunc, err error) {
	e := n.p.report(c, "event", err, "event", event)
	ctr.failed.Inc()
	if n.style == StyleObject && ack != nil {
		var body any = failedAck{Success: false, Error: e}
		var shaped AckShaper
		if errors.As(err, &shaped) {
			body = shaped.AckBody()
		}
		if err := ack(body); err != nil {
			c.Logger().Debug("ack failed", "event", event, "err", err)
		}
	}
	c.Emit("exception", exception{Status: "error", Message: e.Message})
	var ca *closeAfter
	if errors.As(err, &ca) {
		c.Socket().Disconnect(false)
	}
}

// Fail tells c's client about a failure outside an event (e.g. during a
// connection hook): logged and counted like an event's, sent as an
// `exception` event.
func (c *Client) Fail(err error) {
	e := c.ns.p.report(c, "hook", err)
	c.Emit("exception", exception{Status: "error", Message: e.Message})
}

// report logs and counts err once and returns what the client is told:
// refusals at Debug, unforeseen failures (detail never sent) at Error.
func (p *Pipeline) report(c *Client, what string, err error, attrs ...any) Error {
	e, known := ReplyOf(err)
	if known {
		c.Logger().Debug(what+" refused", append(attrs, "code", e.Code, "err", err)...)
	} else {
		c.Logger().Error(what+" failed", append(attrs, "err", err)...)
	}
	p.metrics.errorsBy.get(e.Code).Inc()
	return e
}
