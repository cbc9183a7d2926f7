package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The cluster workloads: two instances of a server (sockgate-bench -redis,
// or node/server.js -redis with @socket.io/redis-adapter) on a private
// redis-server, 1,000 receivers split evenly over the two instances and
// senders on both, so that half of every broadcast crosses Redis.
//
//	cluster          fan-out at saturation (-window broadcasts in flight):
//	                 deliveries/s and the latency of every delivery in the window
//	cluster-latency  20 broadcasts/s (-rate), alternating between the instances:
//	                 p50/p99 of receive − send
//
// Both check per receiver that each broadcast arrived exactly once. The
// two instances and Redis share the servers' CPU (-server-cpu), the load
// generator has its own: both clusters get the same core for the same three
// processes, Redis being the same binary with the same settings.
const clusterInstances = 2

func isCluster(workload string) bool { return strings.HasPrefix(workload, "cluster") }

// onlyCluster reports whether every workload is a cluster workload (the
// run then only replaces the report's cluster section, and profiles nothing).
func onlyCluster(ws []string) bool {
	for _, w := range ws {
		if !isCluster(w) {
			return false
		}
	}
	return len(ws) > 0
}

func anyCluster(ws []string) bool {
	for _, w := range ws {
		if isCluster(w) {
			return true
		}
	}
	return false
}

// startRedis starts a private redis-server (no persistence) pinned to cpu
// on a free loopback port and waits (5s at most) until it answers PING.
func startRedis(ctx context.Context, cpu string, nice int) (*server, error) {
	var lastErr error
	for range 3 { // the free port may be taken before redis binds it
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(addr)
		cmd := pinned(ctx, cpu, nice, "redis-server", "--port", port, "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		s := &server{kind: "redis", cmd: cmd, addr: addr, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
		cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		go func() { s.done <- cmd.Wait() }()
		if err := waitPing(ctx, s, 5*time.Second); err != nil {
			s.stop()
			lastErr = err
			continue
		}
		return s, nil
	}
	return nil, lastErr
}

func waitPing(ctx context.Context, s *server, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !s.alive() {
			return fmt.Errorf("redis-server exited: %s", tail(s.stderr))
		}
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if sleepCtx(ctx, 50*time.Millisecond) != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("redis-server on %s did not answer PING in %s: %s", s.addr, d, tail(s.stderr))
}

// measureCluster runs a cluster workload once against fresh processes: a
// private Redis and two instances of kind, all pinned to -server-cpu.
// ServerCPU is the three processes' CPU together (the cluster's), RedisCPU
// Redis's part of it.
func (b *bench) measureCluster(ctx context.Context, workload, kind string, run int) measurement {
	m := measurement{Workload: workload, Server: kind, Run: run, Attempts: 1}
	if kind != "sockgate" && kind != "node" {
		m.Err = fmt.Errorf("the cluster workloads run sockgate and node only, not %q", kind)
		return m
	}
	waitQuiet(ctx, b.cfg.serverCPU, b.cfg.maxOther, b.cfg.quietWait)
	rds, err := startRedis(ctx, b.cfg.serverCPU, b.cfg.nice)
	if err != nil {
		m.Err = err
		return m
	}
	defer rds.stop()
	var (
		srvs  []*server
		addrs []string
	)
	defer func() {
		for _, s := range srvs {
			s.stop()
		}
	}()
	for range clusterInstances {
		var argv []string
		dir := b.dir
		if kind == "node" {
			argv, dir = []string{"node", "server.js", "-redis", rds.addr}, filepath.Join(b.dir, "node")
		} else {
			argv, _ = b.serverArgv(kind, "-redis", rds.addr)
		}
		s, err := startServer(ctx, kind, b.cfg.serverCPU, b.cfg.nice, argv, dir, "")
		if err != nil {
			m.Err = err
			return m
		}
		srvs = append(srvs, s)
		addrs = append(addrs, s.addr)
	}
	_ = sleepCtx(ctx, time.Second) // start-up, and Node's adapter subscribing

	type sample struct {
		srv, rds procStats
		busy     time.Duration
	}
	read := func() (sample, error) {
		var sm sample
		for _, s := range srvs {
			st, err := readStats(s.pid())
			if err != nil {
				return sm, err
			}
			sm.srv.cpu += st.cpu
			sm.srv.at = st.at
		}
		st, err := readStats(rds.pid())
		if err != nil {
			return sm, err
		}
		sm.rds = st
		sm.busy, _ = cpuBusy(b.cfg.serverCPU)
		return sm, nil
	}
	var start sample
	onMark := func(name string) {
		sm, err := read()
		if err != nil {
			if m.Err == nil {
				m.Err = fmt.Errorf("read server stats at %s: %w", name, err)
			}
			return
		}
		switch name {
		case "start":
			start = sm
		case "end":
			secs := sm.rds.at.Sub(start.rds.at).Seconds()
			m.RedisCPU = (sm.rds.cpu - start.rds.cpu).Seconds() / secs
			m.ServerCPU = (sm.srv.cpu-start.srv.cpu).Seconds()/secs + m.RedisCPU
			if start.busy > 0 {
				m.OtherCPU = max(0, (sm.busy-start.busy).Seconds()/secs-m.ServerCPU)
			}
		}
	}
	r, err := runLoadgen(ctx, b.cfg.loadgenCPU, b.cfg.nice, filepath.Join(b.bin, "loadgen"),
		b.loadgenArgs(workload, strings.Join(addrs, ",")), onMark)
	m.Result = r
	if err != nil && m.Err == nil {
		m.Err = err
	}
	for _, s := range append(srvs, rds) {
		if !s.alive() && m.Err == nil {
			m.Err = fmt.Errorf("%s died: %s", s.kind, tail(s.stderr))
		}
	}
	return m
}

// redisServerVersion is `redis-server --version`'s version field.
func redisServerVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	for f := range strings.FieldsSeq(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

// The cluster section of the report sits between these markers, so that a
// run of only the cluster workloads replaces it in the existing report and
// a run without them keeps it.
const (
	clusterBegin = "<!-- cluster:begin -->"
	clusterEnd   = "<!-- cluster:end -->"
)

// clusterRows are the cluster section's summary rows.
func (b *bench) clusterRows() []row {
	c := b.cfg
	return []row{
		{"cluster", fmt.Sprintf("Cluster fan-out to %d receivers over 2 instances, saturation (%d in flight)", c.receivers, c.window), "deliveries/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 2},
		{"cluster", "", "p99 ms (every delivery in the window)",
			func(m measurement) float64 { return m.Result.P99 }, "%.1f", false, 1},
		{"cluster", "", "p50 ms",
			func(m measurement) float64 { return m.Result.P50 }, "%.1f", false, 0},
		{"cluster-latency", fmt.Sprintf("Cluster fan-out latency, %g broadcasts/s to %d over 2 instances", c.rate, c.receivers), "p50 ms",
			func(m measurement) float64 { return m.Result.P50 }, "%.2f", false, 0},
		{"cluster-latency", "", "p99 ms",
			func(m measurement) float64 { return m.Result.P99 }, "%.2f", false, 1},
		{"cluster", "Cluster fan-out, per CPU-second of the cluster (2 instances + Redis)", "deliveries/s ÷ cores",
			perCore, "%.0f", true, 0},
	}
}

// writeClusterSection renders the cluster workloads' summary, runs and method.
func (b *bench) writeClusterSection(p func(string, ...any)) {
	c := b.cfg
	p("%s\n", clusterBegin)
	p("## Cluster: two instances through Redis\n\n")
	p("Measured %s with `%s`, %d run(s); %s; redis-server %s; @socket.io/redis-adapter %s on redis (node-redis) %s;\n",
		b.started.UTC().Format("2006-01-02 15:04 MST"), commandLine(), c.runs, runtime.Version(), redisServerVersion(),
		npmVersion(b.dir, "@socket.io/redis-adapter"), npmVersion(b.dir, "redis"))
	p("sockgate at `%s` (`socketio/redis`, classic pub/sub, go-redis with `ContextTimeoutEnabled`). Both instances **and** the\n", gitHead())
	p("private Redis are pinned to CPU %s, the load generator to CPU %s; load average at start %s, at end %s.\n\n", c.serverCPU, c.loadgenCPU, b.loadAvg0, loadAvg())
	p("| Workload | Metric | sockgate ×2 | Node socket.io %s ×2 | sockgate/Node | Target | Met |\n", npmVersion(b.dir, "socket.io"))
	p("|---|---|---:|---:|---:|---|---|\n")
	b.summaryRows(p, b.clusterRows())
	p("\n| Workload | Server | Run | Result | Cluster CPU | of which Redis | Loadgen CPU | Others on server CPU | Details |\n")
	p("|---|---|---:|---|---:|---:|---:|---:|---|\n")
	for _, m := range b.results {
		if !isCluster(m.Workload) {
			continue
		}
		r := m.Result
		var res, det string
		switch {
		case m.Err != nil:
			res, det = "**failed**", strings.ReplaceAll(strings.ReplaceAll(m.Err.Error(), "\n", " "), "|", "/")
			if len(det) > 300 {
				det = det[:300] + "..."
			}
		case m.Workload == "cluster":
			res = fmt.Sprintf("%.0f deliveries/s, p99 %.1f ms", r.Rate, r.P99)
			det = fmt.Sprintf("%.0f broadcasts/s over %.1fs; p50 %.1f, p90 %.1f, max %.1f ms (%d samples)", r.Broadcasts, r.WindowSecs, r.P50, r.P90, r.Max, r.Samples)
		default:
			res = fmt.Sprintf("p50 %.2f / p99 %.2f ms", r.P50, r.P99)
			det = fmt.Sprintf("p90 %.2f, p99.9 %.2f, max %.2f ms; %d samples, %d lost", r.P90, r.P999, r.Max, r.Samples, r.Lost)
		}
		if m.Err == nil && r.Verified {
			det += "; per receiver: each broadcast exactly once"
		}
		if m.Attempts > 1 {
			det += fmt.Sprintf(" (best of %d attempts)", m.Attempts)
		}
		cpu, rcpu, lg, other := "—", "—", "—", "—"
		if m.Err == nil {
			cpu, rcpu, lg, other = fmt.Sprintf("%.2f", m.ServerCPU), fmt.Sprintf("%.2f", m.RedisCPU), fmt.Sprintf("%.2f", r.LoadgenCPU), fmt.Sprintf("%.2f", m.OtherCPU)
		}
		p("| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", m.Workload, m.Server, m.Run, res, cpu, rcpu, lg, other, det)
	}
	p("\n**Method.** Each run starts a private `redis-server` (random loopback port, `--save \"\" --appendonly no`) and two\n")
	p("instances of one server (`sockgate-bench -redis ADDR` or `node server.js -redis ADDR`), fresh for every run; the runner\n")
	p("stops them by PID. %d receivers join the room, receiver i on instance i mod 2 (500 each); the senders alternate over\n", c.receivers)
	p("the instances too, so every broadcast is delivered locally to half the room and through Redis to the other half.\n")
	p("`cluster`: 4 senders keep at most %d broadcasts in flight (as `fanout`); deliveries/s counted at the receivers over\n", c.window)
	p("%s after %s of warm-up, and the latency (receive − send time carried in the message) of every delivery in that window;\n", c.duration, c.warmup)
	p("with a fixed window, latency at saturation is roughly window ÷ broadcast rate plus the unevenness between receivers.\n")
	p("`cluster-latency`: %g broadcasts/s for %s (+%s warm-up, not sampled), alternating between a sender on each instance.\n", c.rate, 2*c.duration, c.warmup)
	p("Both then check each receiver: every broadcast sent arrived exactly once (a bitset of sequence numbers per receiver,\n")
	p("plus the total count). Pinning: there are 2 CPUs, so the three server-side processes (2 instances + Redis) share CPU %s\n", c.serverCPU)
	p("and the load generator has CPU %s, as in the single-server workloads. It is the same budget for both clusters — one core\n", c.loadgenCPU)
	p("for the same three processes, the same Redis binary and settings — and the kernel's scheduler shares it between them\n")
	p("by demand (a Go instance under `taskset` runs with GOMAXPROCS 1, Node's event loop is one thread). \"Cluster CPU\" sums\n")
	p("the three processes over the window; a figure near 1.00 means the shared core was the limit.\n")
	p("%s\n", clusterEnd)
}

// summaryRows writes the summary table rows of rows for the workloads run.
func (b *bench) summaryRows(p func(string, ...any), rows []row) {
	c := b.cfg
	for _, r := range rows {
		if !contains(c.workloads, r.workload) {
			continue
		}
		sg, nsg, okS := b.median(r.workload, "sockgate", r.value)
		nd, nnd, okN := b.median(r.workload, "node", r.value)
		cell := func(server string, v float64, n int, ok bool) string {
			if !contains(c.servers, server) {
				return "not run"
			}
			if !ok {
				return "failed"
			}
			s := fmt.Sprintf(r.format, v)
			if n < c.runs {
				s += fmt.Sprintf(" (%d/%d runs)", n, c.runs)
			}
			return s
		}
		ratio, target, met := "—", "—", "—"
		if okS && okN && nd != 0 {
			q := sg / nd
			ratio = fmt.Sprintf("%.2f×", q)
			if r.target != 0 {
				if r.higherBetter {
					target = fmt.Sprintf("≥ %.1f×", r.target)
					met = yesNo(q >= r.target)
				} else {
					target = fmt.Sprintf("≤ %.1f×", r.target)
					met = yesNo(q <= r.target)
				}
			}
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", r.label, r.metric, cell("sockgate", sg, nsg, okS), cell("node", nd, nnd, okN), ratio, target, met)
	}
}

// spliceCluster puts section (which starts and ends with the markers) into
// report in place of its cluster section, or appends it.
func spliceCluster(report, section string) string {
	i := strings.Index(report, clusterBegin)
	j := strings.Index(report, clusterEnd)
	if i < 0 || j < i {
		return strings.TrimRight(report, "\n") + "\n\n" + section
	}
	rest := report[j+len(clusterEnd):]
	rest = strings.TrimPrefix(rest, "\n")
	return report[:i] + section + rest
}

// handWritten returns what follows the cluster section in a report (the
// durable-message and reconnect-storm sections, which make bench's later
// steps print and are written in by hand), so that a full run keeps it:
// "" when the report has no cluster section.
func handWritten(report string) string {
	j := strings.Index(report, clusterEnd)
	if j < 0 {
		return ""
	}
	rest := strings.TrimLeft(report[j+len(clusterEnd):], "\n")
	if rest == "" {
		return ""
	}
	return "\n" + rest
}

// existingCluster returns the cluster section of the report file at path
// ("" when none).
func existingCluster(report string) string {
	i := strings.Index(report, clusterBegin)
	j := strings.Index(report, clusterEnd)
	if i < 0 || j < i {
		return ""
	}
	return report[i:j+len(clusterEnd)] + "\n"
}
