package store

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// IDs are ULID-shaped: 26 Crockford base32 characters encoding a 48-bit
// millisecond timestamp followed by 80 random bits. Their string order is
// their time order, so they sort in SQL as plain text on both dialects.
// Within one process they are strictly increasing (same millisecond: the
// random part is incremented). Message ids are additionally forced above the
// chat's previous message id inside the insert transaction (nextAfter), so
// within a chat id order equals seq order even across instances whose clocks
// disagree.

const (
	idLen     = 26
	crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

var crockfordIndex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range crockford {
		t[c] = int8(i)
	}
	return t
}()

// idGen produces monotonic ids. The zero value is not usable; use newIDGen.
type idGen struct {
	mu sync.Mutex
	ms uint64
	hi uint16 // random bits 79..64
	lo uint64 // random bits 63..0
}

func newIDGen() *idGen { return &idGen{} }

// next returns a new id for time now, strictly greater than every id this
// generator returned before.
func (g *idGen) next(now time.Time) string {
	ms := uint64(now.UnixMilli())
	g.mu.Lock()
	defer g.mu.Unlock()
	if ms > g.ms {
		g.ms = ms
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("store: crypto/rand: " + err.Error())
		}
		g.hi = binary.BigEndian.Uint16(b[:2])
		g.lo = binary.BigEndian.Uint64(b[2:])
		// Leave headroom so increments within a millisecond never overflow.
		g.hi &= 0x7fff
	} else {
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	}
	return encodeID(g.ms, g.hi, g.lo)
}

// nextAfter returns a new id greater than prev (an id or "").
func (g *idGen) nextAfter(now time.Time, prev string) string {
	id := g.next(now)
	if id > prev {
		return id
	}
	return incrementID(prev)
}

func encodeID(ms uint64, hi uint16, lo uint64) string {
	var out [idLen]byte
	// 130 bits of output for 128 bits of input: the first character carries
	// the top 3 bits of the timestamp (48 = 3 + 9*5), then 16 characters for
	// the 80 random bits.
	for i := 9; i >= 0; i-- {
		out[i] = crockford[ms&31]
		ms >>= 5
	}
	// 80 random bits: hi (16) then lo (64), 16 characters of 5 bits.
	for i := 25; i >= 10; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | uint64(hi&31)<<59
		hi >>= 5
	}
	return string(out[:])
}

// incrementID returns the id that follows id in base32 order.
func incrementID(id string) string {
	b := []byte(id)
	for i := len(b) - 1; i >= 0; i-- {
		v := crockfordIndex[b[i]]
		if int(v) < len(crockford)-1 {
			b[i] = crockford[v+1]
			return string(b)
		}
		b[i] = crockford[0]
	}
	return string(b) // wrapped around: unreachable for real timestamps
}

// validID reports whether s is a well-formed id.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if crockfordIndex[s[i]] < 0 {
			return false
		}
	}
	return true
}

// idTime returns the millisecond timestamp encoded in a valid id.
func idTime(id string) time.Time {
	var ms uint64
	for i := 0; i < 10; i++ {
		ms = ms<<5 | uint64(crockfordIndex[id[i]])
	}
	return time.UnixMilli(int64(ms)).UTC()
}
