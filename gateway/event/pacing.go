package event

import (
	"context"
	"net/http"
	"runtime"
	"time"
)

// Background work next to the sockets' events (the "/chat" connection
// hooks: the user upsert, the chat list, a reconnect's replay; and the
// handshakes of new sessions, AdmitHandshake) must not slow the messages
// being sent: a reconnect storm is 500 of each at once (issue 9, acceptance
// 3). Go has no goroutine priorities, so that work makes room itself, in
// two ways, with a Pacer.
//
// Yield, between steps (the upsert, each store read, each replayed
// message), puts the hook behind every goroutine runnable at that moment
// (runtime.Gosched; it returns at once when none is): without it,
// ConnectConcurrency hooks replaying a storm's backlog kept the server's
// Ps for whole time slices (10 ms) while a sender's goroutine, holding the
// store's single writer that every other sender queues for, waited behind
// them.
//
// A Pacer, while events flow (one is running, or one finished within
// recentEvents: Pipeline.Active), also pauses a hook once it has
// worked payEvery since its last pause: as long as it worked, so that the
// hook takes at most half of a core, and three times as long when an event
// is running at that very instant, a sign that events are queueing for the
// CPU (a quarter of a core). With no events, hooks take all that is free.
// "Running at this instant" alone was not enough: on one CPU the hook and
// an event never run at once, so the hook never paused, and senders at a
// steady rate leave the pipeline idle between their events. A hook's
// "work" is its wall time between pauses, so a hook that waited for a CPU
// counts that too and defers more: it errs on the side of the events.
//
// The factors trade the storm's length for the senders' latency. 500
// recoveries with 20 senders in closed loop on 2 CPUs (bench/cmd/storm):
// pausing 1× took 2.0 s and raised the senders' p99 1.76–2.02×; 2× took
// 2.3–3.1 s, 1.54–1.76×; 3× took 3.3 s, 1.28–1.38×.

// payEvery is the work a hook does before a Pacer pauses it (when events
// flow); maxPause bounds one pause.
const (
	payEvery = time.Millisecond
	maxPause = 20 * time.Millisecond
	// recentEvents: events count as flowing for this long after one
	// finished (event.Pipeline.Active).
	recentEvents = 20 * time.Millisecond
)

// pauseFactor is how many times its work a hook pauses: 0 with no events,
// 1 while they flow, 3 while one is running.
func pauseFactor(running, flowing bool) time.Duration {
	switch {
	case running:
		return 3
	case flowing:
		return 1
	}
	return 0
}

// Pacer paces the steps of one piece of background work.
type Pacer struct {
	factor func() time.Duration // pauseFactor now
	sleep  func(time.Duration)  // time.Sleep
	mark   time.Time            // start of the work not paid for by a pause
}

// Pacer returns a Pacer for one piece of background work, its work
// counted from now.
func (p *Pipeline) Pacer() *Pacer {
	factor := func() time.Duration { return pauseFactor(p.Running() > 0, p.Active(recentEvents)) }
	return &Pacer{factor: factor, sleep: time.Sleep, mark: time.Now()}
}

// Yield is called between the work's steps: yield the P, then a pause when
// it has worked payEvery and events flow.
func (p *Pacer) Yield() {
	runtime.Gosched()
	if time.Since(p.mark) >= payEvery {
		p.Pay()
	}
}

// Pay pauses for the work since the last pause, however short, while
// events flow. A hook calls it last, before it gives its slot up: the next
// hook's work then starts after this one's pause, and a storm of short
// hooks (user upserts of a fraction of a millisecond each, which never
// reach payEvery) is paced as a whole.
func (p *Pacer) Pay() {
	if f := p.factor(); f > 0 {
		p.sleep(min(f*time.Since(p.mark), maxPause))
	}
	p.mark = time.Now()
}

// Slots bounds the pieces of background work of one kind that run at once
// (the "/chat" hooks, the user upserts, the handshakes while events flow).
type Slots chan struct{}

// Admit waits for one of s and returns its release. When ctx ends first
// the work runs anyway, unadmitted, with a release that frees nothing: the
// bound smooths a storm, it never fails a connection.
func (s Slots) Admit(ctx context.Context) (release func()) {
	select {
	case s <- struct{}{}:
		return func() { <-s }
	case <-ctx.Done():
		return func() {}
	}
}

// AdmitHandshake is the engine's Admit hook: while events flow, the
// handshakes of new sessions (the WebSocket upgrade or the open packet)
// run at most half the Ps at a time, and each pays for its work (Pay)
// before it frees its slot; with no events it costs nothing. Without it the
// 500 upgrades and CONNECTs of a reconnect storm ran in its first 200 ms,
// which then held the senders' p99. A client that leaves while it waits is
// let through at once (its handshake then fails on its own).
func (p *Pipeline) AdmitHandshake(r *http.Request) (release func()) {
	if !p.Active(recentEvents) {
		return func() {}
	}
	free := p.handshakes.Admit(r.Context())
	if r.Context().Err() != nil {
		return free // its client left: nothing to pay for
	}
	pace := p.Pacer()
	return func() {
		pace.Pay()
		free()
	}
}
