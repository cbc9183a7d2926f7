package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzClientMessages feeds arbitrary Engine.IO message sequences (text and
// binary) to one connection's Socket.IO layer, with handlers that decode,
// re-emit and acknowledge whatever arrives: nothing reachable from the
// network may panic (handler panics are recovered, so the handlers here
// panic on purpose only through the code under test) or leave the server
// unable to shut down.
//
// Input: messages separated by 0x00; a message starting with 0x01 is binary.
func FuzzClientMessages(f *testing.F) {
	seeds := []string{
		"0",
		"0\x002[\"e\",1,{\"a\":[1,2]}]",
		"0/x,{}\x002/x,5[\"e\"]",
		"0\x0051-[\"e\",{\"_placeholder\":true,\"num\":0}]\x00\x01\x01\x02",
		"0\x0052-[\"e\",{\"_placeholder\":true,\"num\":1}]\x00\x01a\x00\x01b",
		"0\x003[\"x\"]\x0030[\"x\"]\x001",
		"0\x002[\"e\",{\"_placeholder\":true,\"num\":0}]",
		"0\x0061-0[{\"_placeholder\":true,\"num\":0}]\x00\x01z",
		"1\x000\x000",
		"0\x00\x01\x00",
		"4{\"message\":\"x\"}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := New(Config{InboundQueue: 4})
		var panicked atomic.Value
		onConn := handlersForFuzz(func(r any) { panicked.Store(fmt.Sprint(r)) })
		srv.OfFunc(func(name string, _ json.RawMessage) bool { return name == "/x" }, func(n *Namespace) {
			n.OnConnection(onConn)
		})
		srv.Of("/").OnConnection(onConn)
		fc := &fakeConn{id: "fuzz"}
		cl := srv.newClient(fc)
		for _, m := range bytes.Split(in, []byte{0}) {
			if len(m) > 0 && m[0] == 1 {
				cl.OnMessage(m[1:], true)
			} else {
				cl.OnMessage(m, false)
			}
		}
		// Let the workers run what was queued before the connection ends
		// (closing drops queued events).
		deadline := time.Now().Add(2 * time.Second)
		for !clientIdle(cl) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cl.OnClose(ReasonTransportClose)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if p := panicked.Load(); p != nil {
			t.Fatalf("panic in the Socket.IO layer: %v", p)
		}
	})
}

// handlersForFuzz returns a connection handler whose event handlers report
// any panic of the code they call (the socket's worker would recover it
// silently).
func handlersForFuzz(report func(any)) func(*Socket) {
	return func(s *Socket) { registerFuzzHandlers(s, report) }
}

func registerFuzzHandlers(s *Socket, report func(any)) {
	h := func(s *Socket, args Args, ack AckFunc) {
		defer func() {
			if r := recover(); r != nil {
				report(r)
			}
		}()
		vals := args.Values()
		for i := 0; i < args.Len(); i++ {
			var v any
			_ = args.Decode(i, &v)
			var b []byte
			_ = args.Decode(i, &b)
			var st struct {
				A []int  `json:"a"`
				B []byte `json:"b"`
			}
			_ = args.Decode(i, &st)
			_ = args.Binary(i)
			_ = args.Raw(i)
		}
		_ = s.Emit("back", vals...)
		if ack != nil {
			_ = ack(vals...)
		}
	}
	s.On("e", h)
	s.On("5", h)
}

// clientIdle reports whether no socket of cl has work queued or running.
func clientIdle(cl *client) bool {
	cl.mu.Lock()
	ss := make([]*Socket, 0, len(cl.sockets))
	for _, s := range cl.sockets {
		ss = append(ss, s)
	}
	cl.mu.Unlock()
	for _, s := range ss {
		s.in.mu.Lock()
		busy := s.in.running
		s.in.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}
