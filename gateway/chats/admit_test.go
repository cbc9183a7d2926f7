package chats

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
)

// TestAdmitted: a hook waits for a slot for as long as its socket lives
// (no timeout of its own, which let every hook still queued at the end of
// a long storm run at once), gets a context whose deadline counts from its
// admission, and its done releases only a slot it holds.
func TestAdmitted(t *testing.T) {
	ch := &Chats{slots: make(event.Slots, 1)}
	ctx, done := ch.admitted(context.Background(), time.Minute)
	if len(ch.slots) != 1 {
		t.Fatalf("slots in use %d after admission, want 1", len(ch.slots))
	}
	type admission struct {
		ctx  context.Context
		done func()
		at   time.Time
	}
	waiter := make(chan admission, 1)
	go func() {
		c, d := ch.admitted(context.Background(), time.Minute)
		waiter <- admission{c, d, time.Now()}
	}()
	select {
	case <-waiter:
		t.Fatal("a second hook was admitted while the only slot was held")
	case <-time.After(100 * time.Millisecond):
	}
	released := time.Now()
	done()
	if ctx.Err() == nil {
		t.Error("context still live after done")
	}
	var w admission
	select {
	case w = <-waiter:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was not admitted when the slot was released")
	}
	if d, ok := w.ctx.Deadline(); !ok || d.Before(released.Add(time.Minute)) {
		t.Errorf("deadline %v (set %v), want a minute from the admission (after %v)", d, ok, released)
	}
	if len(ch.slots) != 1 {
		t.Fatalf("slots in use %d with the waiter admitted, want 1", len(ch.slots))
	}

	// A socket that leaves while its hook waits: the hook returns with an
	// ended context and holds nothing.
	parent, cancel := context.WithCancel(context.Background())
	gone := make(chan context.Context, 1)
	go func() {
		c, d := ch.admitted(parent, time.Minute)
		d()
		gone <- c
	}()
	cancel()
	select {
	case c := <-gone:
		if c.Err() == nil {
			t.Error("the departed socket's hook got a live context")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hook of a socket that left kept waiting")
	}
	w.done()
	if len(ch.slots) != 0 {
		t.Fatalf("slots in use %d after every done, want 0", len(ch.slots))
	}
}
