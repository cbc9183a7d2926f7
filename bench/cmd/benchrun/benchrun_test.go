package main

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sockgate/sockgate/bench/internal/result"
)

func TestReadStats(t *testing.T) {
	a, err := readStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a.rssKB <= 0 {
		t.Fatalf("rss = %d KB, want > 0", a.rssKB)
	}
	// Spin until our CPU time, as read from /proc, has grown by 50ms (at most 5s).
	deadline := time.Now().Add(5 * time.Second)
	for x := 0; time.Now().Before(deadline); x++ {
		if x%1000000 != 0 {
			continue
		}
		b, err := readStats(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if b.cpu-a.cpu >= 50*time.Millisecond {
			if c := cores(a, b); c <= 0 || c > 2.5 {
				t.Fatalf("cores while spinning = %.2f, want (0, 2.5]", c)
			}
			return
		}
	}
	t.Fatal("CPU time read from /proc/PID/stat did not grow while spinning for 5s")
}

func TestCPUBusy(t *testing.T) {
	if _, ok := cpuBusy("0"); !ok {
		t.Fatal("cpuBusy(0) not found in /proc/stat")
	}
	if _, ok := cpuBusy("0-1"); ok {
		t.Fatal("cpuBusy accepted a CPU list")
	}
}

func TestBench_Median(t *testing.T) {
	ms := func(rates ...float64) []measurement {
		var out []measurement
		for i, r := range rates {
			out = append(out, measurement{Workload: "ack", Server: "node", Run: i + 1, Result: result.Result{Rate: r}})
		}
		return out
	}
	rate := func(m measurement) float64 { return m.Result.Rate }
	tests := []struct {
		name   string
		ms     []measurement
		want   float64
		wantN  int
		wantOK bool
	}{
		{"Odd", ms(3, 1, 2), 2, 3, true},
		{"Even", ms(4, 1, 2, 3), 2.5, 4, true},
		{"None", nil, 0, 0, false},
		{"FailedRunsSkipped", append(ms(5, 7), measurement{Workload: "ack", Server: "node", Err: errors.New("x"), Result: result.Result{Rate: 100}}), 6, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &bench{results: tt.ms}
			got, n, ok := b.median("ack", "node", rate)
			if got != tt.want || n != tt.wantN || ok != tt.wantOK {
				t.Fatalf("median = %v, %d, %v; want %v, %d, %v", got, n, ok, tt.want, tt.wantN, tt.wantOK)
			}
		})
	}
}

func TestSpliceCluster(t *testing.T) {
	sec := clusterBegin + "\nnew\n" + clusterEnd + "\n"
	tests := []struct{ name, report, want string }{
		{"Append", "# r\n\nbody\n", "# r\n\nbody\n\n" + sec},
		{"Replace", "# r\n" + clusterBegin + "\nold\n" + clusterEnd + "\ntail\n", "# r\n" + sec + "tail\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spliceCluster(tt.report, sec); got != tt.want {
				t.Fatalf("spliceCluster = %q, want %q", got, tt.want)
			}
			if got := existingCluster(tt.want); got != sec {
				t.Fatalf("existingCluster = %q, want %q", got, sec)
			}
		})
	}
}

// TestHandWritten: what follows the cluster section survives a full run;
// a report without one keeps nothing.
func TestHandWritten(t *testing.T) {
	report := "# r\n" + clusterBegin + "\nc\n" + clusterEnd + "\n\n## Durable\n\nfigures\n"
	if got, want := handWritten(report), "\n## Durable\n\nfigures\n"; got != want {
		t.Fatalf("handWritten = %q, want %q", got, want)
	}
	if got := handWritten("# r\n" + clusterBegin + "\nc\n" + clusterEnd + "\n"); got != "" {
		t.Fatalf("handWritten of a report ending with its cluster section = %q", got)
	}
	if got := handWritten("# r\n\n## Durable\n"); got != "" {
		t.Fatalf("handWritten without a cluster section = %q", got)
	}
}
