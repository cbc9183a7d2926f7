package chats

import (
	"context"
	"testing"
)

// testPresence checks the rules of the presence interface (presence.go)
// on a fresh presence made by newPres; every implementation runs it.
func testPresence(t *testing.T, newPres func(t *testing.T) presence) {
	ctx := context.Background()
	p := newPres(t)
	if on, err := p.Online(ctx, []string{"u1"}); len(on) != 0 || err != nil {
		t.Fatalf("Online before any socket = %v, %v", on, err)
	}
	type step struct {
		op, user, sock string
		want           bool // first (connect) or last (disconnect)
	}
	for i, s := range []step{
		{"connect", "u1", "s1", true},
		{"connect", "u1", "s2", false},
		{"connect", "u1", "s1", false}, // same socket again: no change
		{"connect", "u2", "s3", true},
		{"disconnect", "u1", "s1", false},
		{"disconnect", "u1", "s1", false}, // reported twice: not "last"
		{"disconnect", "u1", "s9", false}, // unknown socket
		{"disconnect", "u3", "s9", false}, // unknown user
		{"disconnect", "u1", "s2", true},
		{"disconnect", "u1", "s2", false},
		{"connect", "u1", "s4", true}, // back online
	} {
		var got bool
		var err error
		if s.op == "connect" {
			got, err = p.Connect(ctx, s.user, s.sock)
		} else {
			got, err = p.Disconnect(ctx, s.user, s.sock)
		}
		if err != nil || got != s.want {
			t.Fatalf("step %d %+v: got %v, %v", i, s, got, err)
		}
	}
	on, err := p.Online(ctx, []string{"u1", "u2", "u3"})
	if err != nil || len(on) != 2 || !on["u1"] || !on["u2"] {
		t.Errorf("Online = %v, %v", on, err)
	}
	if on, err := p.Online(ctx, nil); len(on) != 0 || err != nil {
		t.Errorf("Online(nil) = %v, %v", on, err)
	}
}

func TestMemoryPresence(t *testing.T) {
	testPresence(t, func(*testing.T) presence { return newMemoryPresence() })
}
