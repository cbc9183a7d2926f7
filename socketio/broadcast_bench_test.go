package socketio

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
)

// countConn is an engineConn that only counts what it is sent.
type countConn struct {
	fakeConn
	n atomic.Int64
}

func (c *countConn) Send(msgs ...*engine.Message) error { c.n.Add(int64(len(msgs))); return nil }

// BenchmarkBroadcast measures one room broadcast to 1000 local sockets
// (encoding once, queuing on each connection) without the network.
func BenchmarkBroadcast(b *testing.B) {
	srv := New(Config{})
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	const receivers = 1000
	for i := 0; i < receivers; i++ {
		cl := srv.newClient(&countConn{fakeConn: fakeConn{id: fmt.Sprint(i)}})
		cl.OnMessage([]byte("0"), false)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ns.Len() < receivers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := ns.SocketsJoin(context.Background(), "room"); err != nil {
		b.Fatal(err)
	}
	payload := map[string]any{"user": "alice", "message": "hello world", "timeSent": 1700000000000}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ns.To("room").Emit("chat", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*receivers), "ns/receiver")
}
