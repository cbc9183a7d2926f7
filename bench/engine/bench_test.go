package engine_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/socketio/engine"
)

// benchClients dials n WebSocket clients that count the data frames they
// read; it returns the counter and a wait function.
func benchClients(b *testing.B, url string, n int) (*atomic.Int64, []net.Conn) {
	b.Helper()
	var got atomic.Int64
	conns := make([]net.Conn, n)
	for i := range n {
		nc, br, _, err := ws.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = nc
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
					got.Add(1)
				}
			}
		}()
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return &got, conns
}

func waitCount(b *testing.B, got *atomic.Int64, want int64) {
	deadline := time.Now().Add(60 * time.Second)
	for got.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", got.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

const benchReceivers = 50

var benchPayload = strings.Repeat("x", 100)

// BenchmarkBroadcast measures one 100-byte message broadcast to 50
// WebSocket receivers (op = one broadcast, received by all): the engine
// (gobwas frames compiled once, one writev per batch) against
// gorilla/websocket with a PreparedMessage and one writer goroutine per
// connection writing each message with its own flush.
func BenchmarkBroadcast(b *testing.B) {
	b.Run("engine-gobwas", func(b *testing.B) {
		var mu sync.Mutex
		var conns []*engine.Conn
		eng := engine.New(engine.Config{SendQueue: 1 << 22, PingInterval: time.Hour}, func(c *engine.Conn) {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		})
		srv := httptest.NewServer(eng)
		b.Cleanup(srv.Close) // after the timer stops: Shutdown lingers on the close handshakes
		b.Cleanup(func() { eng.Shutdown(context.Background()) })
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?EIO=4&transport=websocket"
		got, _ := benchClients(b, url, benchReceivers)
		waitCount(b, got, benchReceivers) // open packets
		b.ResetTimer()
		for range b.N {
			m := engine.TextMessage(benchPayload)
			for _, c := range conns {
				c.Send(m)
			}
		}
		waitCount(b, got, int64(benchReceivers*(b.N+1)))
	})
	b.Run("gorilla-prepared", func(b *testing.B) {
		var mu sync.Mutex
		var queues []chan *websocket.PreparedMessage
		up := websocket.Upgrader{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			q := make(chan *websocket.PreparedMessage, 1<<22)
			mu.Lock()
			queues = append(queues, q)
			mu.Unlock()
			go func() {
				for pm := range q {
					if c.WritePreparedMessage(pm) != nil {
						return
					}
				}
			}()
		}))
		b.Cleanup(srv.Close)
		url := "ws" + strings.TrimPrefix(srv.URL, "http")
		got, _ := benchClients(b, url, benchReceivers)
		for {
			mu.Lock()
			n := len(queues)
			mu.Unlock()
			if n == benchReceivers {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.ResetTimer()
		for range b.N {
			pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte("4"+benchPayload))
			for _, q := range queues {
				q <- pm
			}
		}
		waitCount(b, got, int64(benchReceivers*b.N))
		for _, q := range queues {
			close(q)
		}
	})
}

// BenchmarkIdleConn reports the server-side cost of idle WebSocket
// connections: heap bytes and goroutines per connection (the clients are
// raw connections without goroutines, in the same process).
func BenchmarkIdleConn(b *testing.B) {
	const n = 1000
	eng := engine.New(engine.Config{PingInterval: time.Hour}, nil)
	srv := httptest.NewServer(eng)
	defer srv.Close()
	defer eng.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?EIO=4&transport=websocket"
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		conns := make([]net.Conn, 0, n)
		for range n {
			nc, br, _, err := ws.Dial(context.Background(), url)
			if err != nil {
				b.Fatal(err)
			}
			var r io.Reader = nc
			if br != nil {
				r = br
			}
			if _, _, err := wsutil.ReadServerData(struct {
				io.Reader
				io.Writer
			}{r, nc}); err != nil {
				b.Fatal(err)
			}
			if br != nil {
				ws.PutReader(br)
			}
			conns = append(conns, nc)
		}
		for eng.Count() < n {
			time.Sleep(time.Millisecond)
		}
		// Let the writers that sent the open packets exit.
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heapB/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/conn")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stackB/conn")
		for _, c := range conns {
			c.Close()
		}
		for eng.Count() > 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
