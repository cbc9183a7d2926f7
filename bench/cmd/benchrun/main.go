// Command benchrun compares sockgate's Socket.IO core with Node's socket.io
// 4.8 on this machine and writes the medians and ratios to RESULTS.md.
//
// Run it from the bench directory (`make bench` does `cd bench && go run
// ./cmd/benchrun`). It builds cmd/sockgate-bench and cmd/loadgen, runs
// `npm ci` in node/ when node_modules is missing, then for each run, each
// workload and each server (alternating, so slow drifts of the machine hit
// both alike) starts a fresh server pinned to one CPU and the load generator
// pinned to another, and reads the server's RSS and CPU time from /proc at
// the load generator's MARK points. See ../README.md for the workloads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sockgate/sockgate/bench/internal/result"
)

type config struct {
	runs          int
	quick         bool
	idleConns     int
	bigIdle       int
	bigIdleCapped int // the -big-conns asked for, when nofile capped it
	pollers       int
	pollRate      float64
	receivers     int
	ackClients    int
	warmup        time.Duration
	duration      time.Duration
	rate          float64
	servers       []string
	workloads     []string
	out           string
	profile       []string
	window        int
	serverCPU     string
	loadgenCPU    string
	timeout       time.Duration
	retries       int
	maxOther      float64
	quietWait     time.Duration
	nice          int
}

func main() {
	var (
		c                            config
		servers, workloads, profiles string
	)
	flag.IntVar(&c.runs, "runs", 3, "runs per workload and server (the report shows medians)")
	flag.BoolVar(&c.quick, "quick", false, "a short smoke run: 1 run, 2,000 idle connections, 3s windows, report to results/quick.md")
	flag.IntVar(&c.idleConns, "conns", 10000, "idle workload: connections")
	flag.IntVar(&c.bigIdle, "big-conns", 100000, "idle100k workload: connections (from several loopback sources)")
	flag.IntVar(&c.receivers, "receivers", 1000, "fanout/latency workloads: receivers in the room")
	flag.IntVar(&c.ackClients, "ack-clients", 100, "ack workload: clients")
	flag.IntVar(&c.pollers, "pollers", 200, "polling workload: long-polling receivers")
	flag.Float64Var(&c.pollRate, "poll-rate", 50, "polling workload: broadcasts per second")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before each measurement window")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measurement window (latency: 2x this)")
	flag.Float64Var(&c.rate, "rate", 20, "latency workload: broadcasts per second")
	flag.StringVar(&servers, "servers", "sockgate,node", "servers to compare (sockgate, node; null = cmd/nullserver, the load generator's ceiling)")
	flag.StringVar(&workloads, "workloads", "idle,idle100k,fanout,fanout1,latency,latency80,ack,gateway,churn,churn-polling,polling", "workloads to run (churn, churn-polling: connect/disconnect cycles over WebSocket, or polling then upgrade; polling: latency of long-polling receivers;idle100k: -big-conns idle connections;fanout1: fanout with one broadcast in flight; latency80: latency at 80% of Node's fanout saturation rate; gateway: the products, sockgate vs the NestJS app of nest/; cluster, cluster-latency: two instances on a private Redis)")
	flag.IntVar(&c.window, "window", 32, "fanout workload: broadcasts in flight")
	flag.StringVar(&c.out, "out", "", "report file (default RESULTS.md, or results/quick.md with -quick)")
	flag.StringVar(&profiles, "profile", "fanout,ack", "after the runs, profile sockgate-bench under these workloads (results/; empty: none)")
	flag.StringVar(&c.serverCPU, "server-cpu", "0", "CPU list the servers are pinned to (taskset -c)")
	flag.StringVar(&c.loadgenCPU, "loadgen-cpu", "1", "CPU list the load generator is pinned to")
	flag.DurationVar(&c.timeout, "timeout", 20*time.Minute, "abort everything after this long")
	flag.IntVar(&c.retries, "retries", 1, "extra attempts of a measurement disturbed by other processes (see -max-other)")
	flag.DurationVar(&c.quietWait, "quiet-wait", 10*time.Second, "before each measurement, wait up to this long for the server CPU to be idle (busy < -max-other)")
	flag.IntVar(&c.nice, "nice", 0, "nice level of servers and load generator (negative needs root; favours the benchmark over other work on the machine)")
	flag.Float64Var(&c.maxOther, "max-other", 0.25, "CPU (in cores) other processes may take of the server's CPU during a window before the measurement is retried")
	flag.Parse()
	if c.quick {
		c.runs, c.idleConns, c.bigIdle = 1, min(c.idleConns, 2000), min(c.bigIdle, 30000)
		c.warmup, c.duration = time.Second, 3*time.Second
		profiles = ""
	}
	if c.out == "" {
		c.out = "RESULTS.md"
		if c.quick {
			c.out = filepath.Join("results", "quick.md")
		}
	}
	if limit := int(nofile()) - 500; c.bigIdle > limit {
		// One process holds every connection of its side: the open-files
		// hard limit caps what idle100k can show on this machine.
		fmt.Printf("benchrun: idle100k: %d connections need an open-files limit above the hard limit %d (raising it needs CAP_SYS_RESOURCE): measuring %d\n", c.bigIdle, nofile(), limit)
		c.bigIdleCapped, c.bigIdle = c.bigIdle, limit
	}
	c.servers = splitList(servers)
	c.workloads = splitList(workloads)
	c.profile = splitList(profiles)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// measurement is one (workload, server, run) outcome.
type measurement struct {
	Workload, Server string
	Run              int
	Result           result.Result
	// Idle: server RSS before/after connecting, and per connection.
	RSSBaseKB, RSSLoadedKB int64
	KBPerConn              float64
	// ServerCPU is the server's CPU use during the measurement window, in
	// cores; OtherCPU is what other processes used of the server's CPU then.
	ServerCPU, OtherCPU float64
	// RedisCPU is the private Redis's part of ServerCPU (cluster workloads,
	// where ServerCPU is both instances' and Redis's CPU together).
	RedisCPU float64
	// Attempts counts the measurements made for this run (see -retries).
	Attempts int
	Err      error
}

type bench struct {
	cfg      config
	dir      string // bench/ (working directory)
	bin      string // temp dir holding the built binaries
	results  []measurement
	started  time.Time
	loadAvg0 string
}

func run(ctx context.Context, c config) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(wd, "node", "server.js")); err != nil {
		return fmt.Errorf("run from the bench directory (node/server.js not found): %w", err)
	}
	b := &bench{cfg: c, dir: wd, started: time.Now(), loadAvg0: loadAvg()}
	if err := os.MkdirAll(filepath.Join(wd, "results"), 0o755); err != nil {
		return err
	}
	b.bin, err = os.MkdirTemp("", "sockgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.bin)
	if err := b.prepare(ctx); err != nil {
		return err
	}
	for r := 1; r <= c.runs; r++ {
		for _, w := range c.workloads {
			for _, s := range c.servers {
				m := b.measureRetrying(ctx, w, s, r)
				b.results = append(b.results, m)
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	var profs []*profile
	if contains(c.servers, "sockgate") && !onlyCluster(c.workloads) {
		for _, w := range c.profile {
			profs = append(profs, b.profileWorkload(ctx, w))
		}
	}
	if err := b.writeReport(profs); err != nil {
		return err
	}
	fmt.Printf("benchrun: wrote %s in %s\n", c.out, time.Since(b.started).Round(time.Second))
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// prepare builds the Go binaries and installs the Node dependencies if needed.
func (b *bench) prepare(ctx context.Context) error {
	for _, name := range []string{"sockgate-bench", "nullserver", "loadgen"} {
		if (name == "sockgate-bench" && !contains(b.cfg.servers, "sockgate")) ||
			(name == "nullserver" && !contains(b.cfg.servers, "null")) {
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.bin, name), "./cmd/"+name)
		cmd.Dir, cmd.Stdout, cmd.Stderr = b.dir, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
	}
	if contains(b.cfg.workloads, "gateway") {
		if err := b.prepareGateway(ctx); err != nil {
			return err
		}
	}
	if anyCluster(b.cfg.workloads) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return fmt.Errorf("the cluster workloads need redis-server: %w", err)
		}
	}
	if contains(b.cfg.servers, "node") {
		_, err := os.Stat(filepath.Join(b.dir, "node", "node_modules", "socket.io", "package.json"))
		if err == nil {
			// A node_modules from before the Redis adapter was added.
			_, err = os.Stat(filepath.Join(b.dir, "node", "node_modules", "@socket.io", "redis-adapter", "package.json"))
		}
		if err != nil {
			fmt.Println("benchrun: npm ci in node/")
			cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
			cmd.Dir, cmd.Stdout, cmd.Stderr = filepath.Join(b.dir, "node"), os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("npm ci: %w", err)
			}
		}
	}
	return nil
}

// prepareGateway builds the products the gateway workload compares: the
// sockgate binary (in the product's module) and the NestJS app of nest/
// (npm ci when needed, then tsc).
func (b *bench) prepareGateway(ctx context.Context) error {
	if contains(b.cfg.servers, "sockgate") {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.bin, "sockgate"), "./cmd/sockgate")
		cmd.Dir, cmd.Stdout, cmd.Stderr = filepath.Dir(b.dir), os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build sockgate: %w", err)
		}
	}
	if !contains(b.cfg.servers, "node") {
		return nil
	}
	nest := filepath.Join(b.dir, "nest")
	steps := [][]string{{"npm", "run", "build"}}
	if _, err := os.Stat(filepath.Join(nest, "node_modules", "@nestjs", "core", "package.json")); err != nil {
		fmt.Println("benchrun: npm ci in nest/")
		steps = append([][]string{{"npm", "ci", "--no-audit", "--no-fund"}}, steps...)
	}
	for _, st := range steps {
		cmd := exec.CommandContext(ctx, st[0], st[1:]...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = nest, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s in nest/: %w", strings.Join(st, " "), err)
		}
	}
	return nil
}

// serverArgv is the command line of a server; extra goes to sockgate-bench.
func (b *bench) serverArgv(kind string, extra ...string) ([]string, error) {
	switch kind {
	case "sockgate":
		return append([]string{filepath.Join(b.bin, "sockgate-bench")}, extra...), nil
	case "node":
		return []string{"node", "server.js"}, nil
	case "null":
		return []string{filepath.Join(b.bin, "nullserver")}, nil
	}
	return nil, fmt.Errorf("unknown server %q", kind)
}

// gatewayLimits are the rate limits of the gateway workload: every rule
// of the measured path set high, not off, so the guard chain still runs.
const gatewayLimits = "/:chat=1000000000/30s,/:join_room=1000000000/1m,connect=1000000000/1m"

// serverCommand is the command line, directory and (when the server prints
// no LISTEN line) listen address of the server of a workload: the gateway
// workload runs the products — sockgate's own binary and the NestJS app of
// nest/ — the others the bare cores.
func (b *bench) serverCommand(workload, kind string) (argv []string, dir, known string, err error) {
	if workload != "gateway" {
		argv, err = b.serverArgv(kind)
		dir = b.dir
		if kind == "node" {
			dir = filepath.Join(b.dir, "node")
		}
		return argv, dir, "", err
	}
	switch kind {
	case "sockgate":
		if known, err = freePort(); err != nil {
			return nil, "", "", err
		}
		data, err := os.MkdirTemp(b.bin, "data-")
		if err != nil {
			return nil, "", "", err
		}
		return []string{filepath.Join(b.bin, "sockgate"), "-addr", known, "-log-level", "warn", "-data-dir", data,
			"-rate-limits", gatewayLimits, "-max-conns-per-ip", "0"}, b.dir, known, nil
	case "node":
		return []string{"node", "dist/main.js"}, filepath.Join(b.dir, "nest"), "", nil
	}
	return nil, "", "", fmt.Errorf("the gateway workload has no %q server", kind)
}

// loadgenArgs is the load generator's command line for a workload.
func (b *bench) loadgenArgs(workload, addr string) []string {
	c := b.cfg
	lw := workload
	switch workload {
	case "fanout1", "cluster":
		lw = "fanout"
	case "cluster-latency", "latency80":
		lw = "latency"
	case "idle100k":
		lw = "idle"
	case "churn-polling":
		lw = "churn"
	}
	args := []string{"-addr", addr, "-workload", lw,
		"-warmup", c.warmup.String(), "-duration", c.duration.String()}
	switch workload {
	case "idle":
		args = append(args, "-n", fmt.Sprint(c.idleConns))
	case "idle100k":
		args = append(args, "-n", fmt.Sprint(c.bigIdle), "-sources", fmt.Sprint(c.bigIdle/20000+1), "-concurrency", "256")
	case "fanout":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-window", fmt.Sprint(c.window))
	case "fanout1":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-window", "1")
	case "latency":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-rate", fmt.Sprint(c.rate),
			"-duration", (2 * c.duration).String())
	case "latency80":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-rate", fmt.Sprintf("%.1f", b.nodeSaturation80()),
			"-duration", (2 * c.duration).String())
	case "ack":
		args = append(args, "-n", fmt.Sprint(c.ackClients))
	case "gateway":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-senders", "4", "-window", fmt.Sprint(c.window))
	case "churn":
		args = append(args, "-n", "16")
	case "churn-polling":
		args = append(args, "-n", "16", "-transport", "polling")
	case "polling":
		args = append(args, "-n", fmt.Sprint(c.pollers), "-rate", fmt.Sprint(c.pollRate), "-duration", (2 * c.duration).String())
	case "cluster":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-window", fmt.Sprint(c.window), "-sample")
	case "cluster-latency":
		args = append(args, "-n", fmt.Sprint(c.receivers), "-rate", fmt.Sprint(c.rate),
			"-duration", (2 * c.duration).String())
	}
	return args
}

// nodeSaturation80 is 80% of Node's saturation broadcast rate: the median
// broadcasts/s of its fanout runs so far (0 when none succeeded).
func (b *bench) nodeSaturation80() float64 {
	v, _, ok := b.median("fanout", "node", func(m measurement) float64 { return m.Result.Broadcasts })
	if !ok {
		return 0
	}
	return 0.8 * v
}

// measure runs one workload once against a fresh server.
// measureRetrying measures once and, when other processes took more than
// -max-other of the server's CPU during the window (a shared machine), up to
// -retries more times, keeping the least disturbed attempt.
func (b *bench) measureRetrying(ctx context.Context, workload, kind string, run int) measurement {
	best := b.measure(ctx, workload, kind, run)
	logMeasurement(best)
	for i := 0; i < b.cfg.retries && !strings.HasPrefix(workload, "idle") && best.Err == nil && best.OtherCPU > b.cfg.maxOther && ctx.Err() == nil; i++ {
		fmt.Printf("        others used %.2f of the server CPU: measuring again\n", best.OtherCPU)
		m := b.measure(ctx, workload, kind, run)
		m.Attempts = best.Attempts + 1
		logMeasurement(m)
		if m.Err == nil && m.OtherCPU < best.OtherCPU {
			best = m
		} else {
			best.Attempts = m.Attempts
		}
	}
	return best
}

func (b *bench) measure(ctx context.Context, workload, kind string, run int) measurement {
	if isCluster(workload) {
		return b.measureCluster(ctx, workload, kind, run)
	}
	m := measurement{Workload: workload, Server: kind, Run: run, Attempts: 1}
	if workload == "latency80" && b.nodeSaturation80() == 0 {
		m.Err = errors.New("latency80 needs a successful Node fanout run before it (-workloads fanout,...,latency80 -servers ...,node)")
		return m
	}
	argv, dir, known, err := b.serverCommand(workload, kind)
	if err != nil {
		m.Err = err
		return m
	}
	waitQuiet(ctx, b.cfg.serverCPU, b.cfg.maxOther, b.cfg.quietWait)
	srv, err := startServer(ctx, kind, b.cfg.serverCPU, b.cfg.nice, argv, dir, known)
	if err != nil {
		m.Err = err
		return m
	}
	defer srv.stop()
	// Let the server finish starting up (Node compiles lazily) before the base sample.
	_ = sleepCtx(ctx, 500*time.Millisecond)

	var start procStats
	onMark := func(name string) {
		st, err := readStats(srv.pid())
		st.cpuBusy, _ = cpuBusy(b.cfg.serverCPU)
		if err != nil {
			if m.Err == nil {
				m.Err = fmt.Errorf("read server stats at %s: %w", name, err)
			}
			return
		}
		switch name {
		case "base":
			m.RSSBaseKB = st.rssKB
		case "loaded":
			m.RSSLoadedKB = st.rssKB
		case "start":
			start = st
		case "end":
			m.ServerCPU = cores(start, st)
			if start.cpuBusy > 0 {
				m.OtherCPU = max(0, (st.cpuBusy-start.cpuBusy-(st.cpu-start.cpu)).Seconds()/st.at.Sub(start.at).Seconds())
			}
		}
	}
	r, err := runLoadgen(ctx, b.cfg.loadgenCPU, b.cfg.nice, filepath.Join(b.bin, "loadgen"), b.loadgenArgs(workload, srv.addr), onMark)
	m.Result = r
	if err != nil && m.Err == nil {
		m.Err = err
	}
	if !srv.alive() && m.Err == nil {
		m.Err = fmt.Errorf("%s server died: %s", kind, tail(srv.stderr))
	}
	if (workload == "idle" || workload == "idle100k") && r.Conns > 0 {
		m.KBPerConn = float64(m.RSSLoadedKB-m.RSSBaseKB) / float64(r.Conns)
	}
	return m
}

func logMeasurement(m measurement) {
	if m.Err != nil {
		fmt.Printf("run %d %-8s %-8s ERROR %v\n", m.Run, m.Workload, m.Server, m.Err)
		return
	}
	r := m.Result
	switch m.Workload {
	case "idle", "idle100k":
		fmt.Printf("run %d %-8s %-8s %.2f KB/conn (RSS %d -> %d KB, %d conns in %.1fs)\n",
			m.Run, m.Workload, m.Server, m.KBPerConn, m.RSSBaseKB, m.RSSLoadedKB, r.Conns, r.ConnectSecs)
	case "churn", "churn-polling":
		fmt.Printf("run %d %-8s %-8s %.0f handshakes/s (server %.2f cores, loadgen %.2f cores, verified %v)\n",
			m.Run, m.Workload, m.Server, r.Rate, m.ServerCPU, r.LoadgenCPU, r.Verified)
	case "polling":
		fmt.Printf("run %d %-8s %-8s %.0f messages/s p50 %.2f ms p99 %.2f ms (server %.2f cores, verified %v)\n",
			m.Run, m.Workload, m.Server, r.Rate, r.P50, r.P99, m.ServerCPU, r.Verified)
	case "gateway":
		fmt.Printf("run %d %-8s %-8s %.0f deliveries/s, %.0f acks/s, p99 %.2f ms (server %.2f cores, loadgen %.2f cores, verified %v)\n",
			m.Run, m.Workload, m.Server, r.Rate, r.AckRate, r.P99, m.ServerCPU, r.LoadgenCPU, r.Verified)
	case "fanout", "fanout1", "ack":
		fmt.Printf("run %d %-8s %-8s %.0f/s (server %.2f cores, loadgen %.2f cores, others on server CPU %.2f)\n",
			m.Run, m.Workload, m.Server, r.Rate, m.ServerCPU, r.LoadgenCPU, m.OtherCPU)
	case "latency", "latency80":
		fmt.Printf("run %d %-8s %-8s p50 %.2f ms p99 %.2f ms max %.2f ms (%d samples, %d lost, server %.2f cores)\n",
			m.Run, m.Workload, m.Server, r.P50, r.P99, r.Max, r.Samples, r.Lost, m.ServerCPU)
	case "cluster":
		fmt.Printf("run %d %-8s %-8s %.0f/s p50 %.1f ms p99 %.1f ms (cluster %.2f cores of which redis %.2f, loadgen %.2f, others %.2f, verified %v)\n",
			m.Run, m.Workload, m.Server, r.Rate, r.P50, r.P99, m.ServerCPU, m.RedisCPU, r.LoadgenCPU, m.OtherCPU, r.Verified)
	case "cluster-latency":
		fmt.Printf("run %d %-8s %-8s p50 %.2f ms p99 %.2f ms max %.2f ms (%d samples, cluster %.2f cores of which redis %.2f, verified %v)\n",
			m.Run, m.Workload, m.Server, r.P50, r.P99, r.Max, r.Samples, m.ServerCPU, m.RedisCPU, r.Verified)
	}
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

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
