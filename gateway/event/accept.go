package event

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// acceptWait bounds how long, while events flow, the accepting of a new
// connection waits for an earlier one's first request. An honest client's
// request follows its TCP handshake at once, so the earlier one is done in
// well under a millisecond; a client that connects and sends nothing holds
// its slot until the HTTP server's read timeout, and then costs each later
// connection this wait at most.
const acceptWait = 2 * time.Millisecond

// AcceptGate paces the accepting of new connections while events flow
// (Pipeline.Active): a connection is accepted when fewer than the
// handshake slots' number of accepted connections are still in their
// first request, or after acceptWait. With no events it costs nothing.
//
// Why, beside AdmitHandshake: that one starts in the handler, after the
// HTTP server has accepted the connection, started its goroutine, read and
// parsed its request. In a reconnect storm 500 connections land at once and
// 500 such goroutines were runnable together; an event's goroutine queued
// behind them, and the senders' p99 during the storm's first 100 ms was
// 15-24 ms against 3-5 ms idle (bench/cmd/storm, open loop).
//
// Wire it as the HTTP server's listener (Listener) and its ConnState hook
// (ConnState): a connection's first request ends when its state first
// becomes idle (a response written), hijacked (a WebSocket upgrade) or
// closed. ConnState must see the very connections Listener returned: a
// listener wrapped around it that returns other values (TLS) would keep
// every slot taken, and each connection would then wait acceptWait.
type AcceptGate struct {
	flowing func() bool
	slots   Slots
	held    sync.Map // net.Conn → struct{}: holds a slot until its first request ends
}

// AcceptGate returns the gate of p's events, with p's handshake slots'
// number of connections in their first request at once.
func (p *Pipeline) AcceptGate() *AcceptGate {
	return &AcceptGate{flowing: func() bool { return p.Active(recentEvents) }, slots: make(Slots, cap(p.handshakes))}
}

// Listener returns ln accepting through the gate.
func (g *AcceptGate) Listener(ln net.Listener) net.Listener {
	return &gatedListener{Listener: ln, g: g, timer: time.NewTimer(time.Hour)}
}

// ConnState is the HTTP server's ConnState hook: it frees the slot of a
// connection whose first request ended.
func (g *AcceptGate) ConnState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateIdle, http.StateHijacked, http.StateClosed:
		if _, ok := g.held.LoadAndDelete(c); ok {
			<-g.slots
		}
	}
}

// gatedListener is a listener whose Accept waits at the gate. The HTTP
// server calls Accept from one goroutine; mu makes it safe for others.
type gatedListener struct {
	net.Listener
	g     *AcceptGate
	mu    sync.Mutex
	timer *time.Timer
}

// Accept accepts the next connection, then waits, while events flow, for
// a slot (at most acceptWait); the connection holds the slot if it got one.
func (l *gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || !l.g.flowing() {
		return c, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wait() {
		l.g.held.Store(c, struct{}{})
	}
	return c, nil
}

// wait takes a slot, or gives up after acceptWait.
func (l *gatedListener) wait() bool {
	select {
	case l.g.slots <- struct{}{}:
		return true
	default:
	}
	l.timer.Reset(acceptWait)
	defer l.timer.Stop()
	select {
	case l.g.slots <- struct{}{}:
		return true
	case <-l.timer.C:
		return false
	}
}
