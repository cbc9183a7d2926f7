package chats

import (
	"runtime"
	"time"
)

// Connection hooks (the user upsert, the chat list, a reconnect's replay)
// are background work next to the sockets' events: a reconnect storm must
// not slow the messages being sent (issue 9, acceptance 3). Go has no
// goroutine priorities, so the hooks make room themselves, in two ways.
//
// yield, between steps (the upsert, each store read, each replayed
// message), puts the hook behind every goroutine runnable at that moment
// (runtime.Gosched; it returns at once when none is): without it,
// ConnectConcurrency hooks replaying a storm's backlog kept the server's
// Ps for whole time slices (10 ms) while a sender's goroutine, holding the
// store's single writer that every other sender queues for, waited behind
// them.
//
// A pacer, while events are running or ran within recentEvents
// (event.Pipeline.Active), also pauses a hook as long as it worked since
// its last pause, once that reaches payEvery: each hook then takes at most
// half of a core while events flow, and all of what is free when there are
// none. "Running at this instant" was not enough: on one CPU the hook and
// an event never run at once, so the hook never paused, and senders at a
// steady rate are idle between their events. A hook's
// "work" is its wall time between pauses, so a hook that waited for a CPU
// counts that too and defers more: it errs on the side of the events.

// payEvery is the work a hook does before a pacer pauses it (when events
// are running); maxPause bounds one pause.
const (
	payEvery = time.Millisecond
	maxPause = 20 * time.Millisecond
	// recentEvents: events count as running for this long after one
	// finished (event.Pipeline.Active).
	recentEvents = 20 * time.Millisecond
)

func yield() { runtime.Gosched() }

// pacer paces one hook's steps.
type pacer struct {
	busy  func() bool
	sleep func(time.Duration) // time.Sleep
	mark  time.Time           // start of the work not paid for by a pause
}

// pacer returns a pacer for one connection hook of ch.
func (ch *Chats) pacer() *pacer {
	p := ch.n.Pipeline()
	return &pacer{busy: func() bool { return p.Active(recentEvents) }, sleep: time.Sleep, mark: time.Now()}
}

// yield is called between a hook's steps: yield, then a pause when the
// hook has worked payEvery and events are running.
func (p *pacer) yield() {
	yield()
	worked := time.Since(p.mark)
	if worked < payEvery {
		return
	}
	if p.busy() {
		p.sleep(min(worked, maxPause))
	}
	p.mark = time.Now()
}
