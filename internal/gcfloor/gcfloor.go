// Package gcfloor keeps the garbage collector from running on a heap
// smaller than a floor.
//
// Go's collector runs when the heap has grown by GOGC percent (100) of
// what the last cycle left live. sockgate's live heap is small (a few MB
// with hundreds of sockets), so under load it collected ten times a
// second, and every cycle made the goroutines that allocate meanwhile
// assist the marking: in bench/cmd/storm's first 400 ms, 500 reconnecting
// clients and 20 senders spent 12.5 s in mark assists (up to 89 ms each),
// and the senders' ack p99 rose from 12 to 87-97 ms; with GOGC=1600 (what
// the floor gives a 4 MB heap) it was 38-47 ms. With the Tuner itself the
// storm's p99 was not clearly lower (its first 200 ms have other causes),
// but the idle p99 of open-loop senders fell from 24-29 to 14-15 ms.
//
// Floor raises the GC percentage after every cycle so that the next one
// starts near the floor while the live heap is small, and leaves it at the
// process's own value (GOGC) once twice the live heap exceeds the floor:
// a large heap (many connections) is collected exactly as without it. The
// cost is memory: up to the floor in garbage on a small server.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// heapMinimum is the Go runtime's smallest heap goal at GOGC=100
// (defaultHeapMinimum). It scales with the percentage: at p percent no
// goal is below heapMinimum × p/100, the first cycle's included.
const heapMinimum = 4 << 20

// Tuner adjusts the GC percentage after each collection; Stop ends it.
type Tuner struct {
	floor uint64
	base  int // the percentage before Start, kept for large heaps and restored by Stop

	mu      sync.Mutex
	stopped bool
	quit    chan struct{} // closed by Stop: ends reduce
}

// Start makes a Tuner for floor bytes. floor 0, or a disabled collector
// (GOGC=off), makes one that does nothing.
func Start(floor uint64) *Tuner { return start(floor, idleCheck) }

func start(floor uint64, idleEvery time.Duration) *Tuner {
	t := &Tuner{floor: floor, quit: make(chan struct{})}
	t.base = debug.SetGCPercent(100)
	debug.SetGCPercent(t.base)
	if floor == 0 || t.base < 0 {
		t.stopped = true
		return t
	}
	t.adjust()
	t.arm()
	go t.reduce(idleEvery)
	return t
}

// Idle collection. Go collects only when the heap reaches its goal, so a
// server that stops allocating keeps its last burst's garbage resident:
// with the floor, up to the floor (10,000 idle connections: 7.7 KB of RSS
// each, 6.4 without the floor). V8's memory reducer collects when a process
// goes idle; reduce does the same: when, over one period, the process
// allocated less than idleAlloc while the heap holds more than floor/8 of
// garbage and of free memory not returned to the system (after a cycle
// the runtime keeps free pages up to about its heap goal, the floor), it
// collects and returns the free memory (debug.FreeOSMemory). A server
// under load never meets the condition.
const (
	idleCheck = time.Second
	idleAlloc = 1 << 20
)

// reduce checks every period until Stop.
func (t *Tuner) reduce(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	samples := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(samples)
	lastAllocs := samples[0].Value.Uint64()
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		metrics.Read(samples)
		allocs, objects, live, free := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64(), samples[3].Value.Uint64()
		if allocs-lastAllocs < idleAlloc && objects+free > live+t.floor/8 {
			debug.FreeOSMemory()
		}
		lastAllocs = allocs
	}
}

// arm registers adjust to run after the next collection (once a fresh
// object is found unreachable), and arm again.
func (t *Tuner) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(*Tuner) {
		if t.adjust() {
			t.arm()
		}
	}, t)
}

// sentinel is big enough not to share a tiny-allocator block with other
// objects, which would keep it alive past a cycle.
type sentinel struct{ _ [64]byte }

// adjust sets the percentage for the live heap; false once stopped.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	debug.SetGCPercent(Percent(t.floor, liveHeap(), t.base))
	return true
}

// Percent is the GC percentage that starts the next cycle at floor for a
// live heap of live bytes, never below base. It is at most
// floor/heapMinimum × 100: a larger one raises the runtime's heap minimum
// above the floor (the first version capped it at 10000, which put the
// first cycle, with no live heap measured yet, at 400 MB: a benchmark
// server holding 10,000 idle connections ran no cycle and its RSS was
// 17.7 KB per connection instead of 6.4).
func Percent(floor, live uint64, base int) int {
	ceiling := int(floor * 100 / heapMinimum)
	if live == 0 {
		return max(base, ceiling)
	}
	if live >= floor {
		return base
	}
	p := int((floor - live) * 100 / live)
	return max(base, min(p, ceiling))
}

// Stop ends the tuning and restores the percentage Start found.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		close(t.quit)
		debug.SetGCPercent(t.base)
	}
}

// liveHeap is the heap the last cycle marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
