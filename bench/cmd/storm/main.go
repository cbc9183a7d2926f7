// Command storm measures what a reconnect storm costs the other senders of
// one sockgate instance (issue 9, acceptance 3): -stormers clients of "/chat"
// reconnect at once presenting a lastMessageId, so each gets its missed
// messages replayed from the store, while -senders clients keep one
// `chat message` each in flight in their own chats. It reports the senders'
// ack latency p50/p99 before the storm (idle) and during it, and fails
// (exit status 1) when the storm's p99 is above -max-ratio × the idle p99.
//
// Everything is verified, not only timed: every sender ack must be a
// success, and every stormer must receive `recovered` with exactly the
// missed messages (count and distinct ids) of its chat.
//
// It builds and starts the real sockgate binary (SQLite in a temporary
// directory unless -db is given; rate limits of the measured paths off).
// Run it from bench/: `go run ./cmd/storm` (make bench runs it).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

type config struct {
	bin      string
	db       string
	senders  int
	stormers int
	groups   int
	history  int
	window   time.Duration
	maxRatio float64
	limits   string
	cpu      string
	args     string
	profile  string
	trace    string
	timeline time.Duration
	rate     float64
	delay    time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "sockgate binary (built from ../cmd/sockgate when empty)")
	flag.StringVar(&c.db, "db", "", "sockgate -db (default: SQLite in a temporary directory)")
	flag.IntVar(&c.senders, "senders", 20, "clients sending chat messages in closed loop (pairs share a chat)")
	flag.IntVar(&c.stormers, "stormers", 500, "clients reconnecting at once with a lastMessageId")
	flag.DurationVar(&c.delay, "reconnect-delay", 0, "each stormer reconnects after this × [0.5, 1.5), as socket.io-client's reconnectionDelay (default 1s there) with its randomizationFactor 0.5; 0: all at the same instant")
	flag.IntVar(&c.groups, "groups", 10, "chats the stormers are split over")
	flag.IntVar(&c.history, "history", 50, "messages in each stormer chat; each stormer misses all but the first")
	flag.Float64Var(&c.rate, "rate", 0, "messages/s of all senders together, each paced at rate/senders with one in flight (open loop: latency from each send's scheduled time); 0: closed loop")
	flag.DurationVar(&c.window, "window", 0, "idle measurement window (0: 5s on SQLite, 15s on PostgreSQL, see idleWindow)")
	flag.Float64Var(&c.maxRatio, "max-ratio", 2, "fail when storm p99 > max-ratio × idle p99")
	flag.StringVar(&c.limits, "rate-limits", "connect=0,/chat:chat message=0,/chat:join=0,http:POST /chats=0", "sockgate -rate-limits")
	flag.StringVar(&c.cpu, "server-cpu", "", "pin the server to these CPUs (taskset -c); run storm itself pinned elsewhere, e.g. taskset -c 1")
	flag.StringVar(&c.args, "server-args", "", "more sockgate flags, space-separated (e.g. -pprof-addr 127.0.0.1:6060)")
	flag.StringVar(&c.profile, "profile", "", "the server's /debug/pprof/profile URL (with -server-args \"-pprof-addr ...\"): save its CPU profile of the storm to results/storm.cpu.pprof")
	flag.StringVar(&c.trace, "trace", "", "the server's /debug/pprof/trace URL (with -server-args \"-pprof-addr ...\"): save its execution trace of the storm to results/storm.trace")
	flag.DurationVar(&c.timeline, "timeline", 0, "print the storm by periods of this length: the senders' acks (count, p99, max) and the stormers connected and recovered")
	child := flag.Bool("stormer-child", false, "internal: be the stormers' process (see child.go)")
	flag.Parse()
	c.window = idleWindow(c.window, c.db)
	quietGC()
	if *child {
		childMain()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
	fmt.Println(res.String())
	if !res.ok(c.maxRatio) {
		fmt.Fprintf(os.Stderr, "storm: FAIL: storm p99 %.1f ms > %.1f × idle p99 %.1f ms\n", res.stormP99, c.maxRatio, res.idleP99)
		os.Exit(1)
	}
}

// run builds (if needed) and starts sockgate, prepares the chats, then
// measures the idle and the storm windows.
func run(ctx context.Context, c config) (result, error) {
	dir, err := os.MkdirTemp("", "sockgate-storm-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	if c.bin == "" {
		if c.bin, err = chatload.Build(ctx, dir); err != nil {
			return result{}, err
		}
	}
	srv, err := chatload.Start(ctx, chatload.Options{Bin: c.bin, DataDir: dir, DB: c.db, RateLimits: c.limits, CPU: c.cpu, Args: strings.Fields(c.args)})
	if err != nil {
		return result{}, err
	}
	defer srv.Stop()
	w := &world{srv: srv, cfg: c, run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if c.timeline > 0 {
		w.tl = newTimeline(c.timeline)
		defer func() { fmt.Print(w.tl) }()
	}
	if err := w.prepare(ctx); err != nil {
		return result{}, fmt.Errorf("prepare: %w (server log: %s)", err, srv.Tail())
	}
	return w.measure(ctx)
}

// quietGC keeps the load generator's own garbage collector out of the
// measurement: both of its processes (the senders' and the stormers') run
// no cycle until their heap reaches 1 GiB (a storm allocates ~100 MB).
// With Go's default, the stormers' process ran a cycle every ~400 ms
// (4-10 ms of marking on both cores), CPU taken from the server, and the
// senders' cycles delayed the very acks they time.
func quietGC() {
	debug.SetMemoryLimit(1 << 30)
	debug.SetGCPercent(-1)
}

// idleWindow is the idle window's length: d, or by default 5 s on SQLite
// and 15 s on PostgreSQL. A storm on PostgreSQL lasts 15-20 s and a p99
// over that long meets PostgreSQL's own periodic stalls under 1,000
// inserts/s (autovacuum, checkpoints), which a 5 s window mostly misses:
// the same server's idle p99 was 8.7-10.1 ms over 5 s and 11.8-12.2 ms
// over 15 s, so the 5 s window made the storm look worse than it was.
func idleWindow(d time.Duration, db string) time.Duration {
	switch {
	case d > 0:
		return d
	case strings.HasPrefix(db, "postgres"):
		return 15 * time.Second
	}
	return 5 * time.Second
}
