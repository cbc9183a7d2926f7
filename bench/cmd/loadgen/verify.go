package main

import (
	"fmt"
	"math"
	"slices"
)

// receiver is what every run keeps per receiver: the broadcasts seen (a
// bitset indexed by sequence number), how many arrived twice, how many
// arrived after a later one of the same sender (the "p" field: per-sender
// order is what a Socket.IO server guarantees) and, when sampling, the
// latencies. Only the receiver's reader goroutine touches it until the
// readers have stopped.
type receiver struct {
	seen       []uint64
	distinct   int64
	dups       int64
	inversions int64
	last       []int64 // newest seq seen per sender
	lat        []int64
}

// seeFrom records broadcast seq of sender p (the message's "p"; a message
// without one counts as sender 0); it reports whether seq is new.
func (r *receiver) seeFrom(p, seq int64) bool {
	if !r.see(seq) {
		return false
	}
	if p < 0 || p > 1<<16 {
		p = 0
	}
	if int(p) >= len(r.last) {
		r.last = append(r.last, make([]int64, int(p)-len(r.last)+1)...)
	}
	if seq < r.last[p] {
		r.inversions++
	} else {
		r.last[p] = seq
	}
	return true
}

// see records broadcast seq; it reports whether seq is new.
func (r *receiver) see(seq int64) bool {
	if seq <= 0 {
		return false
	}
	w := int(seq / 64)
	if w >= len(r.seen) {
		r.seen = append(r.seen, make([]uint64, w-len(r.seen)+1+len(r.seen)/2)...)
	}
	bit := uint64(1) << (seq % 64)
	if r.seen[w]&bit != 0 {
		r.dups++
		return false
	}
	r.seen[w] |= bit
	r.distinct++
	return true
}

// checkReceivers fills res's verification fields: every receiver must have
// seen exactly want distinct broadcasts, no duplicate and each sender's in
// order. Verified is set only when all hold.
func checkReceivers(rs []receiver, want int64, res *Result) error {
	for i := range rs {
		res.Duplicates += rs[i].dups
		res.Inversions += rs[i].inversions
		if rs[i].distinct != want {
			res.ShortReceivers++
		}
	}
	if res.Duplicates > 0 || res.ShortReceivers > 0 || res.Inversions > 0 {
		return fmt.Errorf("per-receiver check: %d duplicate deliveries, %d out of order, %d of %d receivers without exactly %d distinct broadcasts",
			res.Duplicates, res.Inversions, res.ShortReceivers, len(rs), want)
	}
	res.Verified = true
	return nil
}

// quantiles sorts all and fills res's latency percentiles (ms).
func quantiles(all []int64, res *Result) {
	slices.Sort(all)
	res.Samples = len(all)
	if len(all) == 0 {
		return
	}
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(all)))) - 1
		return float64(all[max(i, 0)]) / 1e6
	}
	res.P50, res.P90, res.P99, res.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
	res.Max = float64(all[len(all)-1]) / 1e6
}
