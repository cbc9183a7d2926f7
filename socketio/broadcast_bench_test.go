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

func (c *countConn) Send(msgs ...*engine.Message) error       { c.n.Add(int64(len(msgs))); return nil }
func (c *countConn) SendDirect(msgs ...*engine.Message) error { return c.Send(msgs...) }

// BenchmarkBroadcast measures one room broadcast to 1000 local sockets
// (encoding once, queuing on each connection) without the network.
func BenchmarkBroadcast(b *testing.B) {
	srv := New(Config{})
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
	const receivers = 1000
	conns := make([]*countConn, receivers)
	for i := range conns {
		conns[i] = &countConn{fakeConn: fakeConn{id: fmt.Sprint(i)}}
		cl := srv.newClient(conns[i])
		cl.OnMessage([]byte("0"), false)
	}
	// A socket is in the namespace (Len) a moment before it is in its
	// rooms, which SocketsJoin matches: join until every one is in.
	deadline := time.Now().Add(5 * time.Second)
	for ns.adapter.RoomSize("room") < receivers && time.Now().Before(deadline) {
		if err := ns.SocketsJoin(context.Background(), "room"); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	payload := map[string]any{"user": "alice", "message": "hello world", "timeSent": 1700000000000}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ns.To("room").Emit("chat", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*receivers), "ns/receiver")
	for i, c := range conns {
		// The CONNECT reply, then one message per broadcast.
		if got := c.n.Load(); got != int64(b.N)+1 {
			b.Fatalf("receiver %d was sent %d messages, want %d", i, got, b.N+1)
		}
	}
}
