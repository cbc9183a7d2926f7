package chats

import (
	"context"
	"testing"
)

func TestMemoryPresence(t *testing.T) {
	ctx := context.Background()
	p := newMemoryPresence()
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
	if err != nil || !on["u1"] || !on["u2"] || on["u3"] {
		t.Errorf("Online = %v, %v", on, err)
	}
}
