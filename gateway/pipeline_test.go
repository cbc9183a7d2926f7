package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
)

// TestHandle_Failures checks the adapter's rendering of failures the
// handlers do not foresee: unknown errors and panics become `internal`
// without their detail (logged once), and a handler outliving
// EventTimeout sees its context end and yields `unavailable`.
func TestHandle_Failures(t *testing.T) {
	logs := &lockedBuffer{}
	type empty struct{}
	ts := newTestServerWith(t, unlimited(), Config{
		EventTimeout: 100 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	}, func(s *Server) {
		event.On(s.rooms, "boom", "", func(ctx context.Context, c *event.Client, _ empty) (event.OK, error) {
			return event.OK{}, errors.New("pq: password authentication failed for user secret")
		})
		event.On(s.rooms, "panic", "", func(ctx context.Context, c *event.Client, _ empty) (event.OK, error) {
			var m map[string]int
			m["x"] = 1 // nil map write
			return event.OK{}, nil
		})
		event.On(s.rooms, "slow", "", func(ctx context.Context, c *event.Client, _ empty) (event.OK, error) {
			if _, ok := ctx.Deadline(); !ok {
				return event.OK{}, errors.New("no deadline")
			}
			<-ctx.Done()
			return event.OK{}, ctx.Err()
		})
	})
	rs := run(t, ts.URL,
		connect("a", "/rooms"),
		emitAck("a", "boom", struct{}{}), expect("a", "exception"),
		emitAck("a", "panic", struct{}{}), expect("a", "exception"),
		emitAck("a", "slow", struct{}{}), expect("a", "exception"),
	)
	internal := `[{"success":false,"error":{"code":"internal","message":"Internal server error"}}]`
	wantAck(t, find(t, rs, "a", "ack", 0), internal)
	wantAck(t, find(t, rs, "a", "ack", 1), internal)
	wantAck(t, find(t, rs, "a", "ack", 2), `[{"success":false,"error":{"code":"unavailable","message":"The request timed out."}}]`)
	want(t, "exception", find(t, rs, "a", "event", 0).arg(0), `{"status":"error","message":"Internal server error"}`)
	if n := strings.Count(logs.String(), "password authentication failed"); n != 1 {
		t.Errorf("detail logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "assignment to entry in nil map") {
		t.Errorf("panic not logged:\n%s", logs)
	}
}

// TestNamespace_Middleware checks the connection middleware chain: a
// refusal is a connect_error naming its code, and an identity attached by
// middleware keys the rate limits per user instead of per IP.
func TestNamespace_Middleware(t *testing.T) {
	// A stand-in for authentication: the identity is the handshake's auth.user.
	identify := func(ctx context.Context, c *event.Client) error {
		var hs struct {
			User string `json:"user"`
		}
		if err := jsonUnmarshal(c.Socket().Handshake().Auth, &hs); err != nil || hs.User == "" {
			return auth.ErrNoToken
		}
		c.SetIdentity(auth.Identity{ID: hs.User})
		return nil
	}
	rules := map[string]ratelimit.Rule{"/rooms:getRoomMembers": {Limit: 1, Period: time.Hour}}
	ts := newTestServerWith(t, rules, Config{}, func(s *Server) { s.rooms.Use(identify) })
	withAuth := func(c, user string) step {
		s := connect(c, "/rooms")
		s.Auth = raw(struct {
			User string `json:"user"`
		}{user})
		return s
	}
	members := struct {
		Room string `json:"room"`
	}{"r"}
	rs := run(t, ts.URL,
		connect("anon", "/rooms"),
		withAuth("u1", "user-1"), withAuth("u2", "user-2"),
		emitAck("u1", "getRoomMembers", members),
		emitAck("u2", "getRoomMembers", members), // another user: own budget
		emitAck("u1", "getRoomMembers", members), // over user-1's limit
	)
	r := find(t, rs, "anon", "connect_error", 0)
	want(t, "refusal", r.Message+" "+compact(r.Data), `Authentication required {"code":"unauthorized","message":"Authentication required"}`)
	wantAck(t, find(t, rs, "u1", "ack", 0), `[{"room":"r","memberCount":0,"socketIds":[]}]`)
	wantAck(t, find(t, rs, "u2", "ack", 0), `[{"room":"r","memberCount":0,"socketIds":[]}]`)
	if r := find(t, rs, "u1", "ack", 1); !strings.Contains(r.arg(0), `"code":"rate_limited"`) {
		t.Errorf("user-1's second call: %s", r)
	}
}

// TestPipeline_Running: Running counts the handler running now, and a
// handler that panics stops counting; Active stays true for its window
// after the last handler finished (the hooks' pacing reads it).
func TestPipeline_Running(t *testing.T) {
	type empty struct{}
	var p *event.Pipeline
	ts := newTestServerWith(t, unlimited(), Config{}, func(s *Server) {
		p = s.rooms.Pipeline()
		event.On(s.rooms, "running", "", func(ctx context.Context, c *event.Client, _ empty) (event.OK, error) {
			return event.OK{Success: p.Running() == 1}, nil
		})
		event.On(s.rooms, "panic", "", func(ctx context.Context, c *event.Client, _ empty) (event.OK, error) {
			panic("boom")
		})
	})
	rs := run(t, ts.URL,
		connect("a", "/rooms"),
		emitAck("a", "running", struct{}{}),
		emitAck("a", "panic", struct{}{}), expect("a", "exception"),
		emitAck("a", "running", struct{}{}),
	)
	wantAck(t, find(t, rs, "a", "ack", 0), `[{"success":true}]`)
	wantAck(t, find(t, rs, "a", "ack", 2), `[{"success":true}]`)
	if !p.Active(time.Hour) || p.Active(0) {
		t.Errorf("after the handlers: Active(1h) = %v, Active(0) = %v; want true, false", p.Active(time.Hour), p.Active(0))
	}
}
