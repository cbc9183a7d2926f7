package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// burstReceivers and burstPayload match the broadcast benchmarks of bench/engine.
const burstReceivers = 50

var burstPayload = strings.Repeat("x", 100)

// BenchmarkWriterBurst measures bursts that each need a writer: per op, one
// 100-byte message to each of n WebSocket connections, then a wait until
// every client has read it, so every connection's queue empties between
// bursts (the writer parks, and the next burst takes a parked one).
func BenchmarkWriterBurst(b *testing.B) {
	for _, n := range []int{1, burstReceivers} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			var mu sync.Mutex
			var conns []*Conn
			eng := New(Config{PingInterval: time.Hour}, func(c *Conn) {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			})
			srv := httptest.NewServer(eng)
			b.Cleanup(srv.Close) // after the timer stops: Shutdown lingers on the close handshakes
			b.Cleanup(func() { eng.Shutdown(context.Background()) })
			url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?EIO=4&transport=websocket"
			read := burstClients(b, url, n)
			for range n {
				<-read // open packets
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m := TextMessage(burstPayload)
				for _, c := range conns {
					c.Send(m)
				}
				for range n {
					<-read
				}
			}
		})
	}
}

// burstClients dials n WebSocket clients; each data frame read is reported
// on the returned channel.
func burstClients(b *testing.B, url string, n int) <-chan struct{} {
	b.Helper()
	read := make(chan struct{}, n)
	for range n {
		nc, br, _, err := ws.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { nc.Close() })
		r := bufio.NewReaderSize(nc, 32<<10)
		if br != nil {
			r = br
		}
		go func() {
			for {
				h, err := ws.ReadHeader(r)
				if err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, r, h.Length); err != nil {
					return
				}
				if h.OpCode.IsData() {
					read <- struct{}{}
				}
			}
		}()
	}
	return read
}
