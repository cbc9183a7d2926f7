package chats

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// recorder collects what a sequencer emits.
type recorder struct {
	mu   sync.Mutex
	seqs []int64
}

func (r *recorder) emit(m liveMsg) {
	r.mu.Lock()
	r.seqs = append(r.seqs, m.Seq)
	r.mu.Unlock()
}

func (r *recorder) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.seqs)
}

func push(s *sequencer, seqs ...int64) {
	for _, q := range seqs {
		s.push(liveMsg{ChatID: "c", Seq: q})
	}
}

// TestSequencer: in order at once, held until the gap fills, emitted
// after gapWait when it does not, late ones still emitted.
func TestSequencer(t *testing.T) {
	t.Run("Reorders", func(t *testing.T) {
		var r recorder
		s := newSequencer(r.emit)
		push(s, 1, 3, 4, 2, 5)
		if got := r.got(); got != "[1 2 3 4 5]" {
			t.Fatalf("emitted %s", got)
		}
	})
	t.Run("FirstSightWaitsForItsPredecessor", func(t *testing.T) {
		var r recorder
		s := newSequencer(r.emit)
		push(s, 8, 7)
		if got := r.got(); got != "[]" {
			t.Fatalf("emitted %s before gapWait", got)
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if got := r.got(); got != "[7 8]" {
				return fmt.Errorf("emitted %s", got)
			}
			return nil
		})
		push(s, 9)
		if got := r.got(); got != "[7 8 9]" {
			t.Fatalf("emitted %s", got)
		}
	})
	t.Run("GapGivenUpThenLate", func(t *testing.T) {
		var r recorder
		s := newSequencer(r.emit)
		push(s, 1, 3, 5)
		testenv.WaitFor(t, 5*time.Second, func() error {
			if got := r.got(); got != "[1 3 5]" {
				return fmt.Errorf("emitted %s", got)
			}
			return nil
		})
		push(s, 2, 6)
		if got := r.got(); got != "[1 3 5 2 6]" {
			t.Fatalf("emitted %s: want the late one, then in line again", got)
		}
	})
}
