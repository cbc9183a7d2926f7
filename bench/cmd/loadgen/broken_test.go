package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/bench/internal/result"
)

// TestVerification runs the real load generator against the real benchmark
// server, correct and deliberately broken (sockgate-bench -break): a correct
// server's runs are verified, and each kind of breakage (a lost, duplicated
// or reordered delivery; a wrong ack) fails the run with what was found.
func TestVerification(t *testing.T) {
	dir := t.TempDir()
	loadgen, server := filepath.Join(dir, "loadgen"), filepath.Join(dir, "sockgate-bench")
	for bin, pkg := range map[string]string{loadgen: ".", server: "../sockgate-bench"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	fanout := []string{"-workload", "fanout", "-n", "20", "-senders", "2", "-window", "4", "-warmup", "300ms", "-duration", "700ms"}
	latency := []string{"-workload", "latency", "-n", "20", "-rate", "200", "-warmup", "100ms", "-duration", "500ms"}
	ack := []string{"-workload", "ack", "-n", "10", "-warmup", "300ms", "-duration", "700ms"}
	cases := []struct {
		name, brk string
		args      []string
		failure   string // "" = must pass, verified
	}{
		{"FanoutCorrect", "", fanout, ""},
		{"LatencyCorrect", "", latency, ""},
		{"AckCorrect", "", ack, ""},
		{"FanoutDrop", "drop", fanout, "1 of 20 receivers without exactly"},
		{"FanoutDup", "dup", fanout, "1 duplicate deliveries"},
		{"LatencyReorder", "reorder", latency, "out of order"},
		{"LatencyDrop", "drop", latency, "1 of 20 receivers without exactly"},
		{"AckWrong", "ack", ack, "acks did not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := startBenchServer(t, server, tc.brk)
			cmd := exec.Command(loadgen, append([]string{"-addr", addr}, tc.args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if tc.failure != "" {
				if err == nil || !strings.Contains(stderr.String(), tc.failure) {
					t.Fatalf("broken server (-break %s): err %v, stderr %q; want a failure saying %q", tc.brk, err, stderr.String(), tc.failure)
				}
				return
			}
			if err != nil {
				t.Fatalf("correct server: %v\n%s", err, stderr.String())
			}
			var r result.Result
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			line, _ := strings.CutPrefix(lines[len(lines)-1], "RESULT ")
			if err := json.Unmarshal([]byte(line), &r); err != nil || !r.Verified {
				t.Fatalf("correct server: result %q (%v), want verified", out, err)
			}
		})
	}
}

// startBenchServer starts sockgate-bench (with -break brk) and returns its
// address; it is killed at the end of the test.
func startBenchServer(t *testing.T, bin, brk string) string {
	t.Helper()
	args := []string{"-addr", "127.0.0.1:0"}
	if brk != "" {
		args = append(args, "-break", brk)
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				lines <- a
			}
		}
	}()
	select {
	case a := <-lines:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("sockgate-bench did not print LISTEN")
		return ""
	}
}
