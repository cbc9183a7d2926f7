package socketio

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkInbox measures an inbound event's trip through its socket's
// inbox without the network: OnMessage queues it, a worker from the
// server's pool drains it and the handler answers the ack. "sequential"
// waits for each ack before the next event (every event finds the inbox
// empty: a worker is assigned, drains, parks); "sockets=100" sends one
// event to each of 100 sockets per op (up to 100 workers at once).
func BenchmarkInbox(b *testing.B) {
	for _, n := range []int{1, 100} {
		name := "sequential"
		if n > 1 {
			name = fmt.Sprintf("sockets=%d", n)
		}
		b.Run(name, func(b *testing.B) { benchInbox(b, n) })
	}
}

func benchInbox(b *testing.B, sockets int) {
	srv := New(Config{})
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	connected := make(chan struct{}, sockets)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("e", func(s *Socket, _ Args, ack AckFunc) { _ = ack(1) })
		connected <- struct{}{}
	})
	clients := make([]*client, sockets)
	conns := make([]*countConn, sockets)
	for i := range sockets {
		conns[i] = &countConn{fakeConn: fakeConn{id: fmt.Sprint(i)}}
		clients[i] = srv.newClient(conns[i])
		clients[i].OnMessage([]byte("0"), false)
		<-connected
	}
	acked := func(want int64) {
		for _, c := range conns {
			for c.n.Load() < want {
				runtime.Gosched()
			}
		}
	}
	acked(1) // the CONNECT replies
	msg := []byte(`21["e",{"user":"alice","message":"hello world"}]`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for _, cl := range clients {
			cl.OnMessage(msg, false)
		}
		acked(int64(i) + 2)
	}
}
