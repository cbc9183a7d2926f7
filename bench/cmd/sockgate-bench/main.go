// Command sockgate-bench is the benchmark server built from sockgate's
// Socket.IO core (package socketio, default Config: in-memory adapter; with
// -redis host:port the Redis adapter of package socketio/redis, classic
// pub/sub, on a go-redis client with ContextTimeoutEnabled).
// It implements exactly the events of ../../node/server.js, the Node
// reference, so that the load generator does the same work against both:
//
//	connect with ?room=R  -> the socket joins room R
//	"fanout" (room, msg)  -> namespace.To(room).Emit("msg", msg)
//	"echo" (msg, ack)     -> ack(msg)
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
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/socketio"
	sioredis "github.com/sockgate/sockgate/socketio/redis"
)

// message is the fan-out payload: sequence number, send time (Unix ns) and padding.
type message struct {
	S int64  `json:"s"`
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
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *pprofAddr, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "sockgate-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, pprofAddr, redisAddr string) error {
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
	ns.OnConnection(func(s *socketio.Socket) {
		if room := s.Handshake().Query.Get("room"); room != "" {
			s.Join(room)
		}
		s.On("fanout", func(s *socketio.Socket, args socketio.Args, _ socketio.AckFunc) {
			var (
				room string
				msg  message
			)
			if args.Decode(0, &room) != nil || args.Decode(1, &msg) != nil {
				return
			}
			_ = ns.To(room).Emit("msg", msg)
		})
		s.On("echo", func(s *socketio.Socket, args socketio.Args, ack socketio.AckFunc) {
			var msg echo
			if ack == nil || args.Decode(0, &msg) != nil {
				return
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
