package tutorial

import (
	"context"
	"sync"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
)

// The tutorial client emits join_room on "connect" and GETs
// /api/rooms/:room 0–21 ms later without waiting for the ack (issue 10,
// item 6). The join may still be in the socket's inbox (behind the
// connect hooks), in a polling POST not yet read, or in its registry
// write, while the GET reads the registry: the host of a new room got a
// 404, a newcomer a member list without themself. The gateway sees an
// event only when its handler runs, so arrivals tracks the one thing it
// sees in time: a socket that connected (its middleware runs before the
// CONNECT reply, so before the client can emit) and whose first join_room
// has not been handled yet. A room read from the same client address
// waits for those joins (settle). Package doc: "Reads after a join".
const (
	// settleWait bounds how long a room read waits for pending joins. The
	// wait ends as soon as they are handled (a few ms); the bound matters
	// under load (20 sockets of one address joining at once on 2 busy
	// cores: 0.2–0.3 s, 250 ms missed 15 of 200) and for sockets whose join
	// never reaches the handler (refused by its limit or validation).
	settleWait = time.Second
	// joinWindow is how long after connecting a socket's first join_room
	// is awaited: the tutorial client sends it at once; a socket that
	// never joins stops delaying reads after this.
	joinWindow = 2 * time.Second
)

// arrivals are the sockets of this instance awaiting their first
// join_room, by client address.
type arrivals struct {
	mu   sync.Mutex
	byIP map[string]map[*event.Client]*arrival
}

// arrival is one socket's pending first join; done is closed when its
// join_room has been handled (either way) or the socket has gone.
type arrival struct {
	since time.Time
	done  chan struct{}
	stop  func() bool // the context.AfterFunc of the socket's end
}

func newArrivals() *arrivals {
	return &arrivals{byIP: make(map[string]map[*event.Client]*arrival)}
}

// expect records c, a socket being admitted, as awaiting its first join.
// It is namespace middleware: it runs before the CONNECT reply.
func (a *arrivals) expect(_ context.Context, c *event.Client) error {
	ar := &arrival{since: time.Now(), done: make(chan struct{})}
	a.mu.Lock()
	m := a.byIP[c.IP()]
	if m == nil {
		m = make(map[*event.Client]*arrival, 1)
		a.byIP[c.IP()] = m
	}
	m[c] = ar
	// Refused later in the chain, disconnected before joining: forget it.
	// (The function runs on a goroutine of its own, after the unlock.)
	ar.stop = context.AfterFunc(c.Context(), func() { a.joined(c) })
	a.mu.Unlock()
	return nil
}

// joined ends c's wait: its first join_room was handled or it has gone.
func (a *arrivals) joined(c *event.Client) {
	a.mu.Lock()
	m := a.byIP[c.IP()]
	ar := m[c]
	if ar == nil {
		a.mu.Unlock()
		return
	}
	delete(m, c)
	if len(m) == 0 {
		delete(a.byIP, c.IP())
	}
	stop := ar.stop
	a.mu.Unlock()
	stop()
	close(ar.done)
}

// settle waits, at most settleWait and within ctx, until every socket of
// client address ip that connected less than joinWindow ago has had its
// first join_room handled.
func (a *arrivals) settle(ctx context.Context, ip string) {
	a.mu.Lock()
	var waits []chan struct{}
	for _, ar := range a.byIP[ip] {
		if time.Since(ar.since) < joinWindow {
			waits = append(waits, ar.done)
		}
	}
	a.mu.Unlock()
	if len(waits) == 0 {
		return
	}
	timer := time.NewTimer(settleWait)
	defer timer.Stop()
	for _, done := range waits {
		select {
		case <-done:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
