// Command loadgen drives one benchmark workload against a Socket.IO server
// (sockgate's cmd/sockgate-bench or node/server.js, which implement the same
// events) and prints its result as one line "RESULT <json>" on stdout.
//
// Workloads:
//
//	idle     connect -n clients, hold them (memory per idle connection)
//	fanout   -n receivers in one room, -senders emit "fanout" as fast as the
//	         server delivers (a window of -window messages in flight)
//	latency  -n receivers, one sender at -rate broadcasts/s; receivers compute
//	         the delivery latency from the timestamp in each message
//	ack      -n clients each emit "echo" with an ack in a closed loop
//	gateway  the tutorial's chat through a whole gateway: -n receivers and
//	         -senders join room "bench" (join_room), senders emit "chat"
//	         with acks, -window broadcasts in flight
//	churn    -n workers connect and disconnect in a loop (-transport
//	         websocket, or polling: handshake, CONNECT, upgrade): handshakes/s
//	polling  the latency workload with -n long-polling receivers
//
// -addr may list several servers (a cluster, comma-separated): connection i
// of each group (receivers, senders) dials address i mod len, so receivers
// and senders are split evenly over the instances.
//
// Every workload verifies what it measures, and a run that fails its check
// exits 1: fanout and latency check per receiver that each broadcast
// arrived exactly once and each sender's broadcasts in order (so a lost,
// duplicated or reordered delivery fails the run); ack checks that every
// ack answers the request in flight with its payload. -sample makes fanout
// also sample the latency of every delivery in the window.
//
// For the runner (cmd/benchrun) it prints "MARK <name>" at the points where
// the server must be measured (base/loaded for idle, start/end of the
// measurement window otherwise); with -sync it then waits for one line on
// stdin before continuing, so the measurement is taken at that exact point.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sockgate/sockgate/bench/internal/result"
	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// Result is the report printed as "RESULT <json>".
type Result = result.Result

type config struct {
	addr        string
	addrs       []string
	sample      bool
	workload    string
	n           int
	senders     int
	window      int
	rate        float64
	warmup      time.Duration
	duration    time.Duration
	settle      time.Duration
	payload     int
	concurrency int
	sources     int
	transport   string
	sync        bool
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:3000", "server host:port (several, comma-separated: a cluster; connections alternate between them)")
	flag.BoolVar(&c.sample, "sample", false, "fanout: also sample the latency of every delivery in the window")
	flag.StringVar(&c.workload, "workload", "ack", "idle | fanout | latency | ack | gateway | churn | polling")
	flag.IntVar(&c.n, "n", 100, "connections (receivers for fanout/latency)")
	flag.IntVar(&c.senders, "senders", 4, "fanout: sender connections")
	flag.IntVar(&c.window, "window", 32, "fanout: broadcasts in flight (not yet delivered to every receiver)")
	flag.Float64Var(&c.rate, "rate", 20, "latency: broadcasts per second")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before the measurement window")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measurement window")
	flag.DurationVar(&c.settle, "settle", 3*time.Second, "idle: wait after connecting before measuring")
	flag.IntVar(&c.payload, "payload", 64, "padding bytes in each message")
	flag.IntVar(&c.concurrency, "concurrency", 64, "connections dialled at once")
	flag.StringVar(&c.transport, "transport", "websocket", "churn: websocket, or polling (handshake over polling, then upgrade)")
	flag.IntVar(&c.sources, "sources", 1, "spread connections over this many loopback source addresses (127.0.0.1, .2, ...; more than ~28,000 connections need several)")
	flag.BoolVar(&c.sync, "sync", false, "after each MARK line, wait for a line on stdin")
	cpuprofile := flag.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	flag.Parse()
	for a := range strings.SplitSeq(c.addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.addrs = append(c.addrs, a)
		}
	}
	if len(c.addrs) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -addr is empty")
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := raiseNofile(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: raise RLIMIT_NOFILE:", err)
	}
	l := &loadgen{cfg: c, stdin: bufio.NewReader(os.Stdin)}
	var (
		r   Result
		err error
	)
	switch c.workload {
	case "idle":
		r, err = l.idle(ctx)
	case "fanout":
		r, err = l.fanout(ctx)
	case "latency":
		r, err = l.latency(ctx)
	case "ack":
		r, err = l.ack(ctx)
	case "gateway":
		r, err = l.gateway(ctx)
	case "churn":
		r, err = l.churn(ctx)
	case "polling":
		r, err = l.polling(ctx)
	default:
		err = fmt.Errorf("unknown workload %q", c.workload)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	r.Workload = c.workload
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
}

// raiseNofile lifts the soft open-files limit to the hard one (Go does this
// at start-up too; being explicit documents that 10k connections need it).
func raiseNofile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

type loadgen struct {
	cfg   config
	stdin *bufio.Reader

	stopping    atomic.Bool
	disconnects atomic.Int64
	readers     sync.WaitGroup
	conns       []*sioclient.Conn
}

// mark prints a MARK line and, with -sync, waits (at most a minute) for the
// runner to acknowledge it.
func (l *loadgen) mark(name string) error {
	fmt.Printf("MARK %s\n", name)
	if !l.cfg.sync {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.stdin.ReadString('\n')
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("mark %s: %w", name, err)
		}
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("mark %s: no answer from runner", name)
	}
}

// connect dials n connections with the given query, cfg.concurrency at a
// time (a few retries each), and starts one reader goroutine per connection
// that passes every packet to handle(i, conn, packet). Lost connections are
// counted in l.disconnects unless the run is stopping.
func (l *loadgen) connect(ctx context.Context, n int, query url.Values, handle func(i int, c *sioclient.Conn, p []byte)) ([]*sioclient.Conn, error) {
	conns := make([]*sioclient.Conn, n)
	next := atomic.Int64{}
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	workers := min(l.cfg.concurrency, n)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				var (
					c   *sioclient.Conn
					err error
				)
				for attempt := range 3 {
					dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					c, err = sioclient.DialFrom(dctx, l.cfg.addrs[i%len(l.cfg.addrs)], query, "/", nil, l.source(i))
					cancel()
					if err == nil || ctx.Err() != nil {
						break
					}
					time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
				}
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %w", i, err)
					}
					errMu.Unlock()
					return
				}
				conns[i] = c
				l.readers.Add(1)
				go func() {
					defer l.readers.Done()
					err := c.ReadAll(func(p []byte) { handle(i, c, p) })
					if !l.stopping.Load() {
						l.disconnects.Add(1)
						if l.disconnects.Load() <= 3 {
							fmt.Fprintf(os.Stderr, "loadgen: connection %d lost: %v\n", i, err)
						}
					}
				}()
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			l.conns = append(l.conns, c)
		}
	}
	if first != nil {
		return nil, first
	}
	return conns, ctx.Err()
}

// source is the local address of connection i (nil with one source).
func (l *loadgen) source(i int) net.IP {
	if l.cfg.sources <= 1 {
		return nil
	}
	return net.IPv4(127, 0, 0, byte(1+i%l.cfg.sources))
}

// closeAll ends the run: closes every connection and waits (bounded) for the readers.
func (l *loadgen) closeAll() {
	l.stopping.Store(true)
	for _, c := range l.conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { l.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "loadgen: readers did not stop in 10s")
	}
}

// cpuClock measures this process's CPU use over an interval.
type cpuClock struct {
	wall time.Time
	cpu  time.Duration
}

func readCPU() cpuClock {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuClock{
		wall: time.Now(),
		cpu:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
	}
}

// cores returns the CPU cores used since c.
func (c cpuClock) cores() float64 {
	now := readCPU()
	return (now.cpu - c.cpu).Seconds() / now.wall.Sub(c.wall).Seconds()
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errStalled = errors.New("no progress for 10s: server stalled or connections lost")

func padding(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func init() { runtime.MemProfileRate = 0 }
