package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

// timeline records when things happened during the storm, to tell which
// phase of it (handshakes, replays) delays the senders' acks.
type timeline struct {
	period time.Duration

	mu        sync.Mutex
	start     time.Time
	acks      map[int][]time.Duration // by period: ack latencies of the acks received then
	connected map[int]int             // by period: stormers whose connect returned
	recovered map[int]int             // by period: stormers told `recovered`
	cpu       []cpuSample             // at the start of each period
	stop      chan struct{}
}

// cpuSample is the CPU time used so far by the server, by the stormers'
// process, by this one (the senders) and by the whole machine (every
// CPU, all processes).
// steal is the time the hypervisor gave this machine's CPUs to others (a
// busy neighbour: the figures of such periods are not the server's).
type cpuSample struct{ server, storm, senders, machine, steal time.Duration }

// clockTicks is USER_HZ, the unit of /proc's CPU times.
const clockTicks = 100

func sampleCPU(server, storm int) cpuSample {
	return cpuSample{server: procCPU(strconv.Itoa(server)), storm: procCPU(strconv.Itoa(storm)),
		senders: procCPU("self"), machine: machineBusy(), steal: machineSteal()}
}

// procCPU reads utime+stime from /proc/<pid>/stat (0 if unreadable).
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	i := bytes.LastIndexByte(b, ')')
	if err != nil || i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// machineBusy reads the busy time of all CPUs (all but idle, iowait and
// steal) from /proc/stat's first line.
func machineBusy() time.Duration {
	var busy time.Duration
	for i, v := range machineTimes() {
		if i != 3 && i != 4 && i != 7 {
			busy += v
		}
	}
	return busy
}

// machineSteal reads the steal time of all CPUs from /proc/stat.
func machineSteal() time.Duration {
	if f := machineTimes(); len(f) > 7 {
		return f[7]
	}
	return 0
}

// machineTimes is /proc/stat's first line: user, nice, system, idle,
// iowait, irq, softirq, steal, ... of all CPUs.
func machineTimes() []time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var out []time.Duration
	for _, v := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		out = append(out, time.Duration(n)*time.Second/clockTicks)
	}
	return out
}

func newTimeline(period time.Duration) *timeline {
	return &timeline{period: period, acks: map[int][]time.Duration{}, connected: map[int]int{}, recovered: map[int]int{}}
}

// begin marks the start of the storm and samples CPU times every period
// until end. A nil timeline records nothing.
func (t *timeline) begin(server, storm int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.start = time.Now()
	t.cpu = append(t.cpu, sampleCPU(server, storm))
	t.stop = make(chan struct{})
	t.mu.Unlock()
	go func() {
		tick := time.NewTicker(t.period)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				c := sampleCPU(server, storm)
				t.mu.Lock()
				t.cpu = append(t.cpu, c)
				t.mu.Unlock()
			case <-t.stop:
				return
			}
		}
	}()
}

// end stops the CPU sampling.
func (t *timeline) end() {
	if t != nil {
		close(t.stop)
	}
}

func (t *timeline) at() int { return int(time.Since(t.start) / t.period) }

func (t *timeline) ack(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	i := t.at()
	t.acks[i] = append(t.acks[i], d)
	t.mu.Unlock()
}

func (t *timeline) connect() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.connected[t.at()]++
	t.mu.Unlock()
}

func (t *timeline) recover() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.recovered[t.at()]++
	t.mu.Unlock()
}

// String is one line per period.
func (t *timeline) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := 0
	for _, m := range []map[int]int{t.connected, t.recovered} {
		for k := range m {
			last = max(last, k)
		}
	}
	for k := range t.acks {
		last = max(last, k)
	}
	var b strings.Builder
	for i := 0; i <= last; i++ {
		ds := t.acks[i]
		_, p99 := chatload.Quantiles(ds)
		var mx time.Duration
		for _, d := range ds {
			mx = max(mx, d)
		}
		fmt.Fprintf(&b, "%6d ms: acks %4d p99 %6.1f ms max %6.1f ms; stormers connected %3d recovered %3d",
			i*int(t.period/time.Millisecond), len(ds), p99, float64(mx)/float64(time.Millisecond), t.connected[i], t.recovered[i])
		if i+1 < len(t.cpu) {
			a, z := t.cpu[i], t.cpu[i+1]
			cores := func(d time.Duration) float64 { return d.Seconds() / t.period.Seconds() }
			fmt.Fprintf(&b, "; CPU cores: server %.2f, stormers %.2f, senders %.2f, machine %.2f, stolen %.2f",
				cores(z.server-a.server), cores(z.storm-a.storm), cores(z.senders-a.senders), cores(z.machine-a.machine), cores(z.steal-a.steal))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
