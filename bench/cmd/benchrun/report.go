package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// profile is the CPU profile of sockgate-bench under one workload.
type profile struct {
	Workload  string
	Path      string
	Rate      float64
	ServerCPU float64
	TopFlat   string
	TopCum    string
	Err       error
}

// profileWorkload runs a workload once more against sockgate-bench with
// pprof enabled and captures a CPU profile over the measurement window.
// This run is not counted in the results (profiling costs a few percent).
func (b *bench) profileWorkload(ctx context.Context, workload string) *profile {
	p := &profile{Workload: workload, Path: filepath.Join("results", "sockgate-"+workload+".cpu.pprof")}
	paddr, err := freePort()
	if err != nil {
		p.Err = err
		return p
	}
	argv, _ := b.serverArgv("sockgate", "-pprof", paddr)
	waitQuiet(ctx, b.cfg.serverCPU, b.cfg.maxOther, b.cfg.quietWait)
	srv, err := startServer(ctx, "sockgate", b.cfg.serverCPU, b.cfg.nice, argv, b.dir, "")
	if err != nil {
		p.Err = err
		return p
	}
	defer srv.stop()
	_ = sleepCtx(ctx, 500*time.Millisecond)
	secs := max(1, int(b.cfg.duration.Seconds())-1)
	profDone := make(chan error, 1)
	var start procStats
	onMark := func(name string) {
		st, _ := readStats(srv.pid())
		switch name {
		case "start":
			start = st
			go func() { profDone <- fetchProfile(ctx, paddr, secs, filepath.Join(b.dir, p.Path)) }()
		case "end":
			p.ServerCPU = cores(start, st)
		}
	}
	r, err := runLoadgen(ctx, b.cfg.loadgenCPU, b.cfg.nice, filepath.Join(b.bin, "loadgen"), b.loadgenArgs(workload, srv.addr), onMark)
	p.Rate = r.Rate
	select {
	case perr := <-profDone:
		if perr != nil {
			p.Err = perr
			return p
		}
	case <-time.After(time.Duration(secs+15) * time.Second):
		p.Err = fmt.Errorf("profile not received")
		return p
	}
	if err != nil {
		p.Err = err
	}
	p.TopFlat = pprofTop(ctx, filepath.Join(b.dir, p.Path), "-top")
	p.TopCum = pprofTop(ctx, filepath.Join(b.dir, p.Path), "-top", "-cum")
	_ = os.WriteFile(filepath.Join(b.dir, "results", "sockgate-"+workload+".top.txt"),
		[]byte(p.TopFlat+"\n\n"+p.TopCum+"\n"), 0o644)
	return p
}

func fetchProfile(ctx context.Context, addr string, secs int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs+10)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 64<<20)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop returns the first lines of `go tool pprof <flags> -nodecount=25`.
func pprofTop(ctx context.Context, path string, flags ...string) string {
	args := append([]string{"tool", "pprof"}, flags...)
	args = append(args, "-nodecount=25", path)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// median of the non-failed values picked by f; ok is false when none succeeded.
func (b *bench) median(workload, server string, f func(measurement) float64) (float64, int, bool) {
	var v []float64
	for _, m := range b.results {
		if m.Workload == workload && m.Server == server && m.Err == nil {
			v = append(v, f(m))
		}
	}
	if len(v) == 0 {
		return 0, 0, false
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2], n, true
	}
	return (v[n/2-1] + v[n/2]) / 2, n, true
}

// row is one line of the summary table.
type row struct {
	workload, label, metric string
	value                   func(measurement) float64
	format                  string
	higherBetter            bool
	target                  float64 // ratio sockgate/Node to reach; 0 = none
}

func (b *bench) rows() []row {
	c := b.cfg
	return []row{
		{"idle", fmt.Sprintf("Idle memory, %d connections", c.idleConns), "server RSS KB per connection",
			func(m measurement) float64 { return m.KBPerConn }, "%.2f", false, 0.5},
		{"idle100k", bigIdleLabel(c), "server RSS KB per connection",
			func(m measurement) float64 { return m.KBPerConn }, "%.2f", false, 0},
		{"idle100k", "", "seconds to connect them all",
			func(m measurement) float64 { return m.Result.ConnectSecs }, "%.1f", false, 0},
		{"fanout", fmt.Sprintf("Room fan-out to %d receivers, saturation (%d broadcasts in flight)", c.receivers, c.window), "deliveries/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 2},
		{"fanout1", fmt.Sprintf("Room fan-out to %d receivers, lockstep (1 broadcast in flight)", c.receivers), "deliveries/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 1.5},
		{"latency", fmt.Sprintf("Fan-out latency, %g broadcasts/s to %d", c.rate, c.receivers), "p50 ms",
			func(m measurement) float64 { return m.Result.P50 }, "%.2f", false, 0},
		{"latency", "", "p99 ms",
			func(m measurement) float64 { return m.Result.P99 }, "%.2f", false, 0.8},
		{"latency80", fmt.Sprintf("Fan-out latency at 80%% of Node's saturation (%.0f broadcasts/s) to %d", b.nodeSaturation80(), c.receivers), "p50 ms",
			func(m measurement) float64 { return m.Result.P50 }, "%.2f", false, 0},
		{"latency80", "", "p99 ms",
			func(m measurement) float64 { return m.Result.P99 }, "%.2f", false, 0.5},
		{"ack", fmt.Sprintf("Ack round trips, %d clients, closed loop", c.ackClients), "acks/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 2},
		{"gateway", fmt.Sprintf("Gateway: tutorial `chat` to a room of %d through the guard chain; Node column: the NestJS 11 gateway (nest/)", c.receivers), "deliveries/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 5},
		{"gateway", "", "acks/s",
			func(m measurement) float64 { return m.Result.AckRate }, "%.0f", true, 0},
		{"gateway", "", "delivery p99 ms",
			func(m measurement) float64 { return m.Result.P99 }, "%.2f", false, 0.5},
		{"churn", "Connection churn over WebSocket, 16 clients connecting and disconnecting", "handshakes/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 0},
		{"churn-polling", "Connection churn, polling handshake then upgrade (socket.io-client's default)", "handshakes/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 0},
		{"polling", fmt.Sprintf("Long-polling receivers: %d in a room, %g broadcasts/s", c.pollers, c.pollRate), "messages/s",
			func(m measurement) float64 { return m.Result.Rate }, "%.0f", true, 0},
		{"polling", "", "p50 ms",
			func(m measurement) float64 { return m.Result.P50 }, "%.2f", false, 0},
		{"polling", "", "p99 ms",
			func(m measurement) float64 { return m.Result.P99 }, "%.2f", false, 0},
		{"fanout", "Fan-out (saturation), per server CPU-second", "deliveries/s ÷ server cores",
			perCore, "%.0f", true, 2},
		{"fanout1", "Fan-out (lockstep), per server CPU-second", "deliveries/s ÷ server cores",
			perCore, "%.0f", true, 0},
		{"ack", "Acks, per server CPU-second", "acks/s ÷ server cores",
			perCore, "%.0f", true, 2},
	}
}

func bigIdleLabel(c config) string {
	if c.bigIdleCapped > 0 {
		return fmt.Sprintf("Idle memory, %d connections (%d asked: capped by the open-files hard limit %d, which needs CAP_SYS_RESOURCE to raise)", c.bigIdle, c.bigIdleCapped, nofile())
	}
	return fmt.Sprintf("Idle memory, %d connections", c.bigIdle)
}

// perCore is a saturation rate divided by the server's CPU use over the same
// window: less sensitive than the raw rate to other processes taking the
// server's CPU on a shared machine.
func perCore(m measurement) float64 {
	if m.ServerCPU <= 0 {
		return 0
	}
	return m.Result.Rate / m.ServerCPU
}

func (b *bench) writeReport(profs []*profile) error {
	c := b.cfg
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	path := c.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(b.dir, path) // relative to bench/, not the caller's directory
	}
	old, _ := os.ReadFile(path)
	if js, err := json.MarshalIndent(b.jsonResults(), "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(b.dir, "results", "runs.json"), js, 0o644)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if onlyCluster(c.workloads) {
		// Keep the rest of the report: replace (or add) its cluster section.
		b.writeClusterSection(p)
		if len(old) == 0 {
			return os.WriteFile(path, []byte("# sockgate vs Node socket.io: benchmark results\n\n"+w.String()), 0o644)
		}
		return os.WriteFile(path, []byte(spliceCluster(string(old), w.String())), 0o644)
	}
	title := "sockgate vs Node socket.io: benchmark results"
	if c.quick {
		title += " (quick run, not representative)"
	}
	p("# %s\n\n", title)
	p("Generated by `%s` (from `bench/`, `make bench`) on %s, in %s.\n\n",
		commandLine(), b.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(b.started).Round(time.Second))
	p("## Machine\n\n")
	p("- CPU: %s, %d logical CPUs; kernel %s; memory %s\n", cpuModel(), runtime.NumCPU(), kernel(), memTotal())
	p("- %s; Node %s; socket.io %s (ws %s); sockgate at `%s`\n", runtime.Version(), nodeVersion(),
		npmVersion(b.dir, "socket.io"), npmVersion(b.dir, "ws"), gitHead())
	p("- Servers pinned to CPU %s (`taskset -c %s`), load generator to CPU %s; open-files limit %d (`prlimit`); nice %d\n",
		c.serverCPU, c.serverCPU, c.loadgenCPU, nofile(), c.nice)
	p("- Load average (1/5/15 min) at start: %s; at end: %s. The machine is shared: other work on these\n", b.loadAvg0, loadAvg())
	p("  CPUs during the run shows up as noise between runs (see the per-run tables).\n\n")

	p("## Summary (median of %d runs)\n\n", c.runs)
	p("| Workload | Metric | sockgate | Node socket.io %s | sockgate/Node | Target | Met |\n", npmVersion(b.dir, "socket.io"))
	p("|---|---|---:|---:|---:|---|---|\n")
	b.summaryRows(p, b.rows())
	p("\nLower is better for memory and latency, higher for deliveries/s and acks/s. The per-CPU-second rows divide\n")
	p("each run's rate by the server's measured CPU use in that window: on a shared machine, where other processes\n")
	p("take part of the server's CPU (column \"Others on server CPU\" below), they compare the servers' efficiency.\n\n")

	p("## Every run\n\n")
	p("Server CPU and load generator CPU are in cores over the measurement window (1.00 = one core busy).\n")
	p("At saturation (fan-out, acks) the server should be near 1.00; a load generator near 1.00 would mean it is the limit.\n\n")
	p("| Workload | Server | Run | Result | Server CPU | Loadgen CPU | Others on server CPU | Details |\n|---|---|---:|---|---:|---:|---:|---|\n")
	for _, m := range b.results {
		if isCluster(m.Workload) {
			continue // in the cluster section
		}
		r := m.Result
		var res, det string
		switch {
		case m.Err != nil:
			res, det = "**failed**", strings.ReplaceAll(m.Err.Error(), "\n", " ")
			if len(det) > 300 {
				det = det[:300] + "..."
			}
			det = strings.ReplaceAll(det, "|", "/")
		case m.Workload == "idle" || m.Workload == "idle100k":
			res = fmt.Sprintf("%.2f KB/conn", m.KBPerConn)
			det = fmt.Sprintf("RSS %.1f → %.1f MB, %d conns connected in %.1fs", float64(m.RSSBaseKB)/1024, float64(m.RSSLoadedKB)/1024, r.Conns, r.ConnectSecs)
		case m.Workload == "fanout" || m.Workload == "fanout1":
			res = fmt.Sprintf("%.0f deliveries/s", r.Rate)
			det = fmt.Sprintf("%.0f broadcasts/s over %.1fs", r.Broadcasts, r.WindowSecs)
		case m.Workload == "latency" || m.Workload == "latency80":
			res = fmt.Sprintf("p50 %.2f / p99 %.2f ms", r.P50, r.P99)
			det = fmt.Sprintf("p90 %.2f, p99.9 %.2f, max %.2f ms; %d samples, %d lost", r.P90, r.P999, r.Max, r.Samples, r.Lost)
		case m.Workload == "churn" || m.Workload == "churn-polling":
			res = fmt.Sprintf("%.0f handshakes/s", r.Rate)
			det = fmt.Sprintf("over %.1fs", r.WindowSecs)
		case m.Workload == "polling":
			res = fmt.Sprintf("p50 %.2f / p99 %.2f ms", r.P50, r.P99)
			det = fmt.Sprintf("%.0f messages/s; p99.9 %.2f, max %.2f ms; %d samples", r.Rate, r.P999, r.Max, r.Samples)
		case m.Workload == "gateway":
			res = fmt.Sprintf("%.0f deliveries/s", r.Rate)
			det = fmt.Sprintf("%.0f acks/s; delivery p50 %.2f / p99 %.2f ms", r.AckRate, r.P50, r.P99)
		case m.Workload == "ack":
			res = fmt.Sprintf("%.0f acks/s", r.Rate)
			det = fmt.Sprintf("over %.1fs", r.WindowSecs)
		}
		if m.Err == nil && r.Verified {
			det += "; verified"
		}
		srvCPU, lgCPU, other := "—", "—", "—"
		if !strings.HasPrefix(m.Workload, "idle") && m.Err == nil {
			srvCPU, lgCPU, other = fmt.Sprintf("%.2f", m.ServerCPU), fmt.Sprintf("%.2f", r.LoadgenCPU), fmt.Sprintf("%.2f", m.OtherCPU)
		}
		if m.Attempts > 1 {
			det += fmt.Sprintf(" (best of %d attempts)", m.Attempts)
		}
		p("| %s | %s | %d | %s | %s | %s | %s | %s |\n", m.Workload, m.Server, m.Run, res, srvCPU, lgCPU, other, det)
	}
	p("\n")

	for _, prof := range profs {
		p("## Profile: sockgate-bench under the %s workload\n\n", prof.Workload)
		if prof.Err != nil {
			p("Profiling failed: %v\n\n", prof.Err)
			continue
		}
		p("An extra %s run (not counted above: %.0f/s, server %.2f cores) with the CPU profile taken over\n", prof.Workload, prof.Rate, prof.ServerCPU)
		p("the window; the file is `bench/%s` (git-ignored; `go tool pprof -http=: %s`).\n\n", prof.Path, prof.Path)
		p("```\n%s\n```\n\n```\n%s\n```\n\n", prof.TopFlat, prof.TopCum)
	}

	p("## Method\n\n")
	p("Both servers implement the same events: connecting with `?room=R` joins room R; `fanout(room, msg)` broadcasts\n")
	p("`msg(msg)` to the room (sockgate: `ns.To(room).Emit`, decoding the payload into a struct; Node: `io.to(room).emit`);\n")
	p("`echo(msg, ack)` acks with msg. Servers run with their defaults (in-memory adapter, no compression; Node without\n")
	p("the optional bufferutil/utf-8-validate addons). The load generator (`cmd/loadgen`) is a minimal Engine.IO 4 /\n")
	p("Socket.IO 5 WebSocket client (gobwas/ws framing, one reading goroutine per connection, parses only what it needs).\n")
	p("Each (workload, server, run) uses a fresh server process; runs alternate between the servers. A measurement during\n")
	p("which other processes took more than %.2f of the server's CPU is repeated (up to %d more times; the least\n", c.maxOther, c.retries)
	p("disturbed attempt is kept). Before each measurement the runner waits (up to %s) for the server's CPU to be\n", c.quietWait)
	p("less than %.2f busy.\n\n", c.maxOther)
	p("- **Idle memory**: server VmRSS (/proc/PID/status) after start-up, then after connecting %d clients (%s) and\n", c.idleConns, "64 dialling at once")
	p("  3s of settling; (after − before) / connections.\n")
	p("- **Fan-out**: %d receivers join one room; 4 sender connections emit `fanout` round-robin, keeping at most %d\n", c.receivers, c.window)
	p("  broadcasts in flight (sent but not yet received by every receiver), so the servers' queues stay short and the\n")
	p("  rate is what the server sustains; deliveries counted at the receivers over %s after %s of warm-up. The run\n", c.duration, c.warmup)
	p("  then checks that every broadcast reached every receiver exactly once. With several broadcasts in flight a server\n")
	p("  may coalesce the frames queued for one connection into one write; **lockstep** (`fanout1`) keeps one broadcast in\n")
	p("  flight, so each delivery costs the server one write, and shows the per-message cost without that effect.\n")
	p("- **Latency**: %d receivers; one sender emits %g broadcasts/s for %s (+%s warm-up, not sampled), each message\n", c.receivers, c.rate, 2*c.duration, c.warmup)
	p("  carrying its send time; each receiver records receive time − send time (same host clock). The figure includes\n")
	p("  the load generator's own queueing when 1,000 deliveries land at once.\n")
	p("- **Acks**: %d clients each emit `echo` with an ack and send the next when the ack arrives; round trips/s over %s.\n\n", c.ackClients, c.duration)
	p("Raw loadgen results: `results/runs.json` (git-ignored).\n\n")
	if anyCluster(c.workloads) {
		b.writeClusterSection(p)
	} else {
		p("%s", existingCluster(string(old))) // a previous run's cluster figures
	}
	p("%s", handWritten(string(old)))
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

func (b *bench) jsonResults() any {
	type jm struct {
		measurement
		Error string `json:",omitempty"`
	}
	out := make([]jm, 0, len(b.results))
	for _, m := range b.results {
		j := jm{measurement: m}
		if m.Err != nil {
			j.Error = m.Err.Error()
		}
		j.measurement.Err = nil
		out = append(out, j)
	}
	return out
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func commandLine() string {
	args := os.Args[1:]
	s := "go run ./cmd/benchrun"
	if len(args) > 0 {
		s += " " + strings.Join(args, " ")
	}
	return s
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(v), &kb)
			return fmt.Sprintf("%.1f GB", float64(kb)/1024/1024)
		}
	}
	return "?"
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func npmVersion(dir, pkg string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node", "node_modules", pkg, "package.json"))
	if err != nil {
		return "?"
	}
	var v struct{ Version string }
	if json.Unmarshal(b, &v) != nil {
		return "?"
	}
	return v.Version
}

// gitHead names the sockgate commit benchmarked, noting uncommitted changes
// to the core (bench builds against the working tree through its replace).
func gitHead() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "?"
	}
	head := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--", "../socketio").Output()
	if err == nil && len(bytes.TrimSpace(st)) > 0 {
		head += " + uncommitted changes in socketio/"
	}
	return head
}
