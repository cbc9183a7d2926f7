package gcfloor

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		floor, live uint64
		base, want  int
	}{
		{64 * mb, 4 * mb, 100, 1500},  // next cycle at 4 MB × 16 = 64 MB
		{64 * mb, 40 * mb, 100, 100},  // 60% is below GOGC: GOGC
		{64 * mb, 64 * mb, 100, 100},  // at the floor: GOGC
		{64 * mb, 500 * mb, 200, 200}, // a large heap keeps its GOGC
		{64 * mb, 1000, 100, 1600},    // capped: the heap minimum, 4 MB × 16, is the floor
		{64 * mb, 0, 100, 1600},       // no cycle yet: the first one at the floor
		{2 * mb, 0, 100, 100},         // a floor below the heap minimum: GOGC
	} {
		if got := Percent(tc.floor, tc.live, tc.base); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.floor, tc.live, tc.base, got, tc.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTuner: after a collection of a small heap the percentage is raised
// towards the floor; Stop restores GOGC.
func TestTuner(t *testing.T) {
	before := gogc()
	tu := Start(256 << 20)
	defer tu.Stop()
	runtime.GC()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if p := gogc(); p <= before {
			runtime.GC()
			return fmt.Errorf("GOGC %d after a collection of %d live bytes", p, liveHeap())
		}
		return nil
	})
	tu.Stop()
	if p := gogc(); p != before {
		t.Fatalf("GOGC %d after Stop, want %d", p, before)
	}
	runtime.GC()
	runtime.GC()
	if p := gogc(); p != before {
		t.Fatalf("GOGC %d after Stop and collections, want %d", p, before)
	}
}

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTuner_GoalAtFloor: with a small live heap the runtime's heap goal is
// the floor, not the heap minimum scaled by a huge percentage (a cap of
// 10000% made it 400 MB, and a server's first cycle never came).
func TestTuner_GoalAtFloor(t *testing.T) {
	const floor = 32 << 20
	runtime.GC()
	if live := liveHeap(); live > floor/4 {
		t.Fatalf("test process's live heap %d is too large for this test", live)
	}
	tu := Start(floor)
	defer tu.Stop()
	if g := heapGoal(); g > floor*11/10 {
		t.Fatalf("heap goal %d MB after Start(%d MB), want about the floor", g>>20, floor>>20)
	}
	runtime.GC() // the tuner adjusts again after a cycle
	testenv.WaitFor(t, 5*time.Second, func() error {
		if g := heapGoal(); g > floor*11/10 || g < floor*9/10 {
			runtime.GC()
			return fmt.Errorf("heap goal %d MB after a cycle, want about %d MB", g>>20, floor>>20)
		}
		return nil
	})
}

var sink [][]byte

// TestTuner_IdleCollection: garbage left when allocation stops, below the
// floor (so no cycle comes by itself), is collected within a few periods.
func TestTuner_IdleCollection(t *testing.T) {
	const floor = 256 << 20
	runtime.GC()
	tu := start(floor, 20*time.Millisecond)
	defer tu.Stop()
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil // 64 MB of garbage, a quarter of the floor
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	testenv.WaitFor(t, 5*time.Second, func() error {
		metrics.Read(s)
		if objects, live := s[0].Value.Uint64(), liveHeap(); objects > live+floor/8 {
			return fmt.Errorf("heap objects %d MB with %d MB live: the idle garbage was not collected", objects>>20, live>>20)
		}
		return nil
	})
}
