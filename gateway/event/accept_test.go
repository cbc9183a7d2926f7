package event

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// pipeListener hands out the server ends of net.Pipe connections.
type pipeListener struct{ conns chan net.Conn }

func newPipeListener(t *testing.T, n int) *pipeListener {
	l := &pipeListener{conns: make(chan net.Conn, n)}
	for range n {
		server, client := net.Pipe()
		t.Cleanup(func() { server.Close(); client.Close() })
		l.conns <- server
	}
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) { return <-l.conns, nil }
func (l *pipeListener) Close() error              { return nil }
func (l *pipeListener) Addr() net.Addr            { return &net.TCPAddr{} }

// held reports whether c holds one of g's slots.
func held(g *AcceptGate, c net.Conn) bool {
	_, ok := g.held.Load(c)
	return ok
}

// TestAcceptGate: with no events a connection is accepted at once and holds
// nothing; while events flow, it holds the slot until its first request
// ends (idle, hijacked or closed, not merely active), and the next one
// waits for that slot at most acceptWait, then goes in without it.
func TestAcceptGate(t *testing.T) {
	var flowing atomic.Bool
	g := &AcceptGate{flowing: flowing.Load, slots: make(Slots, 1)}
	ln := g.Listener(newPipeListener(t, 6))

	idle, _ := ln.Accept()
	if held(g, idle) || len(g.slots) != 0 {
		t.Fatal("a connection accepted with no events took a slot")
	}

	flowing.Store(true)
	first, _ := ln.Accept()
	if !held(g, first) {
		t.Fatal("a connection accepted while events flow holds no slot")
	}
	g.ConnState(first, http.StateActive)
	start := time.Now()
	second, _ := ln.Accept()
	if waited := time.Since(start); waited < acceptWait {
		t.Fatalf("the second connection was accepted after %v, beside the first's request (want a wait of %v)", waited, acceptWait)
	}
	if held(g, second) {
		t.Fatal("the second connection holds a slot the first never gave up")
	}

	for _, end := range []http.ConnState{http.StateHijacked, http.StateIdle, http.StateClosed} {
		g.ConnState(first, end) // the first's request ended: its slot is free
		if len(g.slots) != 0 {
			t.Fatalf("after %v the first connection's slot is still taken", end)
		}
		next, _ := ln.Accept()
		if !held(g, next) {
			t.Fatalf("after %v the next connection got no slot", end)
		}
		first = next
	}
	g.ConnState(first, http.StateClosed)
	g.ConnState(first, http.StateClosed) // a second end frees nothing more (it would block)
	if len(g.slots) != 0 {
		t.Fatal("slots still taken after every connection's first request ended")
	}
}
