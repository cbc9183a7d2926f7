// Command sockgate-bench is the benchmark server built from sockgate's
// Socket.IO core (package socketio, default Config: in-memory adapter, and
// cmd/sockgate's GC floor, internal/gcfloor; with
// -redis host:port the Redis adapter of package socketio/redis, classic
// pub/sub, on a go-redis client with ContextTimeoutEnabled).
// It implements exactly the events of ../../node/server.js, the Node
// reference, so that the load generator does the same work against both:
//
//	connect with ?room=R  -> the socket joins room R
//	"fanout" (room, msg)  -> namespace.To(room).Emit("msg", msg)
//	"echo" (msg, ack)     -> ack(msg)
//
// -break makes it deliberately wrong, to show that the load generator's
// checks catch it: "drop" leaves one receiver out of the 50th broadcast,
// "dup" sends it twice to one receiver, "reorder" sends the 50th broadcast
// after the 51st, "ack" answers the 50th echo with the wrong payload.
//
// It listens on -addr (default 127.0.0.1:0) and prints
// "LISTEN <host:port>" on stdout once ready; with -pprof it also serves
// net/http/pprof on that address (for the runner's -profile).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/gcfloor"
	"github.com/sockgate/sockgate/socketio"
	sioredis "github.com/sockgate/sockgate/socketio/redis"
)

// message is the fan-out payload: sequence number, sender index, send time
// (Unix ns) and padding.
type message struct {
	S int64  `json:"s"`
	P int64  `json:"p"`
	T int64  `json:"t"`
	D string `json:"d"`
}

// echo is the ack workload's payload.
type echo struct {
	N int64  `json:"n"`
	D string `json:"d"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (empty: off)")
	redisAddr := flag.String("redis", "", "use the Redis adapter on this Redis host:port (empty: in-memory adapter)")
	brk := flag.String("break", "", "deliberately wrong server: drop | dup | reorder | ack (empty: correct)")
	gcFloor := flag.Uint64("gc-floor", 64<<20, "as cmd/sockgate's -gc-floor: the heap the collector lets grow while the live heap is small, bytes (0: Go's default; ignored when GOGC is set)")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		defer gcfloor.Start(*gcFloor).Stop()
	}
	switch *brk {
	case "", "drop", "dup", "reorder", "ack":
	default:
		fmt.Fprintln(os.Stderr, "sockgate-bench: -break must be drop, dup, reorder or ack")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *pprofAddr, *redisAddr, *brk); err != nil {
		fmt.Fprintln(os.Stderr, "sockgate-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, pprofAddr, redisAddr, brk string) error {
	var cfg socketio.Config
	if redisAddr != "" {
		// The same key as Node's default, so the channels are socket.io#/#...
		rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
		defer rdb.Close()
		cfg.Adapter = sioredis.NewAdapter(rdb, sioredis.Config{Key: "socket.io"})
	}
	srv, err := socketio.Open(cfg)
	if err != nil {
		return err
	}
	ns, err := srv.OfErr("/")
	if err != nil {
		return err
	}
	b := &breaker{mode: brk}
	ns.OnConnection(func(s *socketio.Socket) {
		if room := s.Handshake().Query.Get("room"); room != "" {
			s.Join(room)
			id := s.ID()
			b.victim.CompareAndSwap(nil, &id)
		}
		s.On("fanout", func(s *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
			var (
				room string
				msg  message
			)
			if args.Decode(0, &room) != nil || args.Decode(1, &msg) != nil {
				return
			}
			b.broadcast(ns, room, msg)
		})
		s.On("echo", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			var msg echo
			if ack == nil || args.Decode(0, &msg) != nil {
				return
			}
			if b.mode == "ack" && b.echoes.Add(1) == 50 {
				msg.N++
			}
			_ = ack(msg)
		})
	})

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		ps := &http.Server{Addr: pprofAddr, Handler: pm, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.ListenAndServe() }()
		defer ps.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// breaker implements -break; with an empty mode it only broadcasts.
type breaker struct {
	mode   string
	victim atomic.Pointer[string] // the first receiver's socket id
	n      atomic.Int64           // fanout events seen
	echoes atomic.Int64
	mu     sync.Mutex
	held   *message // reorder: the 50th broadcast, sent after the 51st
}

func (b *breaker) broadcast(ns *socketio.Namespace, room string, msg message) {
	if b.mode == "" || b.mode == "ack" {
		_ = ns.To(room).Emit("msg", msg)
		return
	}
	n := b.n.Add(1)
	victim := b.victim.Load()
	switch {
	case n == 50 && b.mode == "drop" && victim != nil:
		_ = ns.To(room).Except(*victim).Emit("msg", msg)
	case n == 50 && b.mode == "dup" && victim != nil:
		_ = ns.To(room).Emit("msg", msg)
		_ = ns.To(*victim).Emit("msg", msg)
	case n == 50 && b.mode == "reorder":
		b.mu.Lock()
		b.held = &msg
		b.mu.Unlock()
	default:
		_ = ns.To(room).Emit("msg", msg)
		b.mu.Lock()
		held := b.held
		b.held = nil
		b.mu.Unlock()
		if held != nil {
			_ = ns.To(room).Emit("msg", *held)
		}
	}
}
