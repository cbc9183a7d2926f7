package socketio

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkBroadcastRecovery compares a room broadcast and a Socket.Emit
// with recovery off and on (offset appended, packet logged, delivery
// under the log's mutex), to 1 and to 1000 local sockets.
func BenchmarkBroadcastRecovery(b *testing.B) {
	for _, receivers := range []int{1, 1000} {
		for _, on := range []bool{false, true} {
			name := fmt.Sprintf("receivers=%d/recovery=%v", receivers, on)
			b.Run("Broadcast/"+name, func(b *testing.B) {
				ns := benchNamespace(b, receivers, on)
				payload := map[string]any{"user": "alice", "message": "hello world", "timeSent": 1700000000000}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := ns.To("room").Emit("chat", payload); err != nil {
						b.Fatal(err)
					}
				}
			})
			if receivers != 1 {
				continue
			}
			b.Run("SocketEmit/"+name, func(b *testing.B) {
				ns := benchNamespace(b, receivers, on)
				s := ns.LocalSockets()[0]
				payload := map[string]any{"user": "alice", "message": "hello world", "timeSent": 1700000000000}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.Emit("chat", payload); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func benchNamespace(b *testing.B, receivers int, recovery bool) *Namespace {
	b.Helper()
	cfg := Config{}
	if recovery {
		cfg.Recovery = &RecoveryConfig{}
	}
	srv := New(cfg)
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ns := srv.Of("/")
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
	return ns
}
