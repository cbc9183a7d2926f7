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
	mu     sync.Mutex
	seqs   []int64
	except map[int64][]string
}

func (r *recorder) emit(m liveMsg, except []string) {
	r.mu.Lock()
	r.seqs = append(r.seqs, m.Seq)
	if len(except) > 0 {
		if r.except == nil {
			r.except = map[int64][]string{}
		}
		r.except[m.Seq] = except
	}
	r.mu.Unlock()
}

func (r *recorder) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.seqs)
}

func push(s *sequencer, seqs ...int64) {
	for _, q := range seqs {
		s.push(liveMsg{ChatID: "c", Seq: q, ID: fmt.Sprint("m", q)})
	}
}

// TestSequencer: in order at once, held until the gap fills, emitted
// after gapWait when it does not, late ones still emitted.
func TestSequencer(t *testing.T) {
	t.Run("Reorders", func(t *testing.T) {
		var r recorder
		s := newSequencer(r.emit, nil)
		push(s, 1, 3, 4, 2, 5)
		if got := r.got(); got != "[1 2 3 4 5]" {
			t.Fatalf("emitted %s", got)
		}
	})
	t.Run("FirstSightWaitsForItsPredecessor", func(t *testing.T) {
		var r recorder
		s := newSequencer(r.emit, nil)
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
		s := newSequencer(r.emit, nil)
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

// TestSequencer_heal: a gap that outlasts gapWait is filled from the store
// (the missing message committed; its publish was lost), and its publish,
// if it still comes, is not emitted twice.
func TestSequencer_heal(t *testing.T) {
	var r recorder
	var asked string
	s := newSequencer(r.emit, func(chatID, afterID string, n int) []liveMsg {
		asked = fmt.Sprint(chatID, " ", afterID, " ", n)
		return []liveMsg{{ChatID: chatID, Seq: 2, ID: "m2"}}
	})
	push(s, 1, 4)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := r.got(); got != "[1 2 4]" {
			return fmt.Errorf("emitted %s", got)
		}
		return nil
	})
	if asked != "c m1 2" {
		t.Fatalf("fetch(%s), want after m1, 2 messages", asked)
	}
	push(s, 2, 3, 5)
	if got := r.got(); got != "[1 2 4 3 5]" {
		t.Fatalf("emitted %s: want the healed 2 dropped, 3 late, 5 in line", got)
	}
}

// TestSequencer_seen: messages a replay sent from the store before the
// line emitted them (held at first sight, or not pushed yet) skip that
// socket when the line emits them, and only those.
func TestSequencer_seen(t *testing.T) {
	var r recorder
	s := newSequencer(r.emit, nil)
	push(s, 7) // first sight: held for gapWait
	s.seen("c", "sock-a", 8)
	s.seen("c", "sock-b", 7)
	push(s, 8, 9)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := r.got(); got != "[7 8 9]" {
			return fmt.Errorf("emitted %s", got)
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	got := fmt.Sprint(r.except)
	if want := "map[7:[sock-a sock-b] 8:[sock-a]]"; got != want && got != "map[7:[sock-b sock-a] 8:[sock-a]]" {
		t.Fatalf("excepted %s, want %s", got, want)
	}
	s.seen("c", "sock-c", 9) // emitted past it already: no mark
	if l := s.line("c"); len(l.ahead) != 0 {
		t.Fatalf("marks left after the line passed them: %v", l.ahead)
	}
}
