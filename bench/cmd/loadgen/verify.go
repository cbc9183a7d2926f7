package main

import (
	"fmt"
	"math"
	"slices"
)

// receiver is what -verify keeps per receiver: the broadcasts seen (a
// bitset indexed by sequence number), how many arrived twice and, when
// sampling, the latencies. Only the receiver's reader goroutine touches it
// until the readers have stopped.
type receiver struct {
	seen     []uint64
	distinct int64
	dups     int64
	lat      []int64
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

// check fills r's verification fields: every receiver must have seen
// exactly want distinct broadcasts and no duplicate.
func checkReceivers(rs []receiver, want int64, res *Result) error {
	res.Verified = true
	for i := range rs {
		res.Duplicates += rs[i].dups
		if rs[i].distinct != want {
			res.ShortReceivers++
		}
	}
	if res.Duplicates > 0 || res.ShortReceivers > 0 {
		return fmt.Errorf("per-receiver check: %d duplicate deliveries, %d of %d receivers without exactly %d distinct broadcasts",
			res.Duplicates, res.ShortReceivers, len(rs), want)
	}
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
