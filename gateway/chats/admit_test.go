package chats

import (
	"context"
	"testing"
	"time"
)

// TestAdmit: at most ConnectConcurrency hooks hold a slot; a waiter gets
// one when a holder releases it, and runs unadmitted (a no-op release) when
// its deadline passes first, so the bound never fails a connection.
func TestAdmit(t *testing.T) {
	ch := &Chats{slots: make(chan struct{}, 1)}
	release := ch.admit(context.Background())
	got := make(chan func(), 1)
	go func() { got <- ch.admit(context.Background()) }()
	select {
	case <-got:
		t.Fatal("a second hook got the only slot while it was held")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case r := <-got:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not get the released slot")
	}
	held := ch.admit(context.Background())
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ch.admit(ctx)() // returns at the deadline; its release must not free the held slot
	if len(ch.slots) != 1 {
		t.Fatalf("slots in use %d after an unadmitted release, want 1", len(ch.slots))
	}
}
