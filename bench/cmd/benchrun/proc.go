package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockgate/sockgate/bench/internal/result"
)

// nofile is the open-files limit given to servers and the load generator:
// the hard limit (raising it needs CAP_SYS_RESOURCE, which containers such
// as this project's CI machine lack).
func nofile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 4096
	}
	return lim.Max
}

// pinned wraps argv so the process runs with the open-files limit raised,
// at the given nice level and pinned to cpu:
// `prlimit --nofile=N:N [nice -n NICE] taskset -c CPU argv...`. These tools
// exec, so the child's pid is the program's pid.
func pinned(ctx context.Context, cpu string, nice int, argv ...string) *exec.Cmd {
	n := nofile()
	args := []string{fmt.Sprintf("--nofile=%d:%d", n, n)}
	if nice != 0 {
		args = append(args, "nice", "-n", strconv.Itoa(nice))
	}
	args = append(args, "taskset", "-c", cpu)
	args = append(args, argv...)
	cmd := exec.CommandContext(ctx, "prlimit", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// server is one running benchmark server.
type server struct {
	kind   string
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan error
}

// startServer starts a server and waits (15s at most) for its "LISTEN addr"
// line, or, when known is set (the address it was told to listen on), for
// that port to accept connections.
func startServer(ctx context.Context, kind, cpu string, nice int, argv []string, dir, known string) (*server, error) {
	cmd := pinned(ctx, cpu, nice, argv...)
	cmd.Dir = dir
	s := &server{kind: kind, cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		s.done <- cmd.Wait()
	}()
	if known != "" {
		// The server prints no LISTEN line (sockgate itself logs): wait
		// until its port accepts connections.
		go func() {
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if c, err := net.Dial("tcp", known); err == nil {
					c.Close()
					addrc <- known
					return
				}
			}
		}()
	}
	select {
	case s.addr = <-addrc:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("%s exited before listening: %v: %s", kind, err, tail(s.stderr))
	case <-time.After(15 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not print LISTEN in 15s: %s", kind, tail(s.stderr))
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM, then SIGKILL after 5s, and waits for the process.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

// alive reports whether the server process is still running.
func (s *server) alive() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// procStats is a sample of a process's RSS and CPU time.
type procStats struct {
	at    time.Time
	rssKB int64
	cpu   time.Duration
	// cpuBusy is the busy time of the CPU the process is pinned to (all processes).
	cpuBusy time.Duration
}

// readStats reads /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime+stime).
func readStats(pid int) (procStats, error) {
	st := procStats{at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				st.rssKB, _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name (which may contain spaces) start at state (field 3).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return st, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return st, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.cpu = time.Duration(ut+stt) * time.Second / clockTicks
	return st, nil
}

// cpuBusy returns the busy time (everything but idle and iowait) of one CPU
// from /proc/stat; ok is false when cpu is not a single CPU number.
func cpuBusy(cpu string) (time.Duration, bool) {
	if _, err := strconv.Atoi(cpu); err != nil {
		return 0, false
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu"+cpu {
			continue
		}
		var busy int64
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			busy += n
		}
		return time.Duration(busy) * time.Second / clockTicks, true
	}
	return 0, false
}

// waitQuiet waits (at most max) until, over one second, the CPU is busy
// less than limit cores: other processes' bursts on a shared machine pass
// before a measurement starts. It returns the last busy figure.
func waitQuiet(ctx context.Context, cpu string, limit float64, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	for {
		b0, ok := cpuBusy(cpu)
		t0 := time.Now()
		if !ok || sleepCtx(ctx, time.Second) != nil {
			return 0
		}
		b1, _ := cpuBusy(cpu)
		busy := (b1 - b0).Seconds() / time.Since(t0).Seconds()
		if busy <= limit || time.Now().After(deadline) {
			return busy
		}
	}
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// cores is the CPU used between a and b, in cores.
func cores(a, b procStats) float64 {
	return (b.cpu - a.cpu).Seconds() / b.at.Sub(a.at).Seconds()
}

// runLoadgen runs the load generator with -sync and calls onMark for each of
// its MARK lines (the load generator waits until onMark returns). It returns
// the parsed RESULT.
func runLoadgen(ctx context.Context, cpu string, nice int, bin string, args []string, onMark func(name string)) (result.Result, error) {
	var r result.Result
	argv := append([]string{bin, "-sync"}, args...)
	cmd := pinned(ctx, cpu, nice, argv...)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	got := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "MARK "); ok {
			onMark(name)
			_, _ = io.WriteString(stdin, "ok\n")
			continue
		}
		if js, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				return r, fmt.Errorf("parse %q: %w", js, err)
			}
			got = true
		}
	}
	stdin.Close()
	werr := cmd.Wait()
	if werr != nil || !got {
		return r, fmt.Errorf("loadgen %v: %v: %s", args, werr, tail(stderr))
	}
	if r.Disconnects > 0 {
		return r, fmt.Errorf("loadgen %v: %d connections lost: %s", args, r.Disconnects, tail(stderr))
	}
	return r, nil
}

// tail returns the last lines of a process's stderr for error messages.
func tail(b *bytes.Buffer) string {
	s := strings.TrimSpace(b.String())
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	return s
}
