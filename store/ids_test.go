package store

import (
	"strings"
	"testing"
	"time"
)

func TestIDGen(t *testing.T) {
	g := newIDGen()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	t.Run("MonotonicSameMillisecond", func(t *testing.T) {
		prev := g.next(now)
		for range 10000 {
			id := g.next(now)
			if id <= prev || !validID(id) {
				t.Fatalf("id %s after %s", id, prev)
			}
			prev = id
		}
	})
	t.Run("MonotonicClockBackwards", func(t *testing.T) {
		a := g.next(now.Add(time.Second))
		b := g.next(now) // clock jumped back
		if b <= a {
			t.Fatalf("%s not after %s", b, a)
		}
	})
	t.Run("TimeRoundTrip", func(t *testing.T) {
		later := now.Add(time.Hour)
		id := newIDGen().next(later)
		if got := idTime(id); !got.Equal(later.Truncate(time.Millisecond)) {
			t.Fatalf("idTime = %v, want %v", got, later)
		}
	})
	t.Run("SortsByTime", func(t *testing.T) {
		a := newIDGen().next(now)
		b := newIDGen().next(now.Add(time.Millisecond))
		if b <= a {
			t.Fatalf("%s (later) sorts before %s", b, a)
		}
	})
	t.Run("NextAfter", func(t *testing.T) {
		future := newIDGen().next(now.Add(time.Hour))
		id := g.nextAfter(now, future)
		if id <= future || !validID(id) {
			t.Fatalf("nextAfter = %s, not after %s", id, future)
		}
		if got := g.nextAfter(now.Add(2*time.Hour), future); got <= future {
			t.Fatalf("nextAfter with a later clock = %s", got)
		}
	})
}

func TestIncrementID(t *testing.T) {
	cases := []struct{ in, want string }{
		{"00000000000000000000000000", "00000000000000000000000001"},
		{"0000000000000000000000000Z", "00000000000000000000000010"},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAZ", "01ARZ3NDEKTSV4RRFFQ69G5FB0"},
		{"0000000000000000000000009Z", "000000000000000000000000A0"},
	}
	for _, tc := range cases {
		if got := incrementID(tc.in); got != tc.want {
			t.Errorf("incrementID(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestValidID(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", false},   // short
		{"01ARZ3NDEKTSV4RRFFQ69G5FAVX", false}, // long
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false},  // U is not Crockford
		{"01arz3ndektsv4rrffq69g5fav", false},  // lower case
		{strings.Repeat("?", 26), false},
		{"", false},
	}
	for _, tc := range cases {
		if got := validID(tc.in); got != tc.want {
			t.Errorf("validID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
