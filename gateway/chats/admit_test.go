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

// TestAdmitted: a hook that waited its whole wait for a slot gets a
// context whose deadline counts from then, so its store calls can still
// run; its done releases nothing it did not hold, and a held slot's done
// frees it.
func TestAdmitted(t *testing.T) {
	ch := &Chats{slots: make(chan struct{}, 1)}
	ctx, done := ch.admitted(context.Background(), time.Minute, time.Minute)
	if len(ch.slots) != 1 {
		t.Fatalf("slots in use %d after admission, want 1", len(ch.slots))
	}
	start := time.Now()
	late, lateDone := ch.admitted(context.Background(), 20*time.Millisecond, time.Minute)
	if err := late.Err(); err != nil {
		t.Fatalf("context of a hook admitted after its wait: %v, want a live one", err)
	}
	if d, ok := late.Deadline(); !ok || !d.After(start.Add(time.Minute)) {
		t.Errorf("deadline %v (set %v), want more than a minute after the wait began (%v)", d, ok, start)
	}
	lateDone()
	if err := late.Err(); err == nil {
		t.Error("context still live after done")
	}
	if len(ch.slots) != 1 {
		t.Fatalf("slots in use %d after the unadmitted hook's done, want 1", len(ch.slots))
	}
	done()
	if ctx.Err() == nil || len(ch.slots) != 0 {
		t.Fatalf("after the admitted hook's done: ctx err %v, slots in use %d; want canceled, 0", ctx.Err(), len(ch.slots))
	}
}
