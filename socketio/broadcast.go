package socketio

import (
	"context"
	"slices"
	"sync"
	"time"
)

// BroadcastOperator is an immutable broadcast target; each method returns a
// new operator.
type BroadcastOperator struct {
	ns     *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = slices.Clone(b.rooms)
	c.except = slices.Clone(b.except)
	return &c
}

// To targets the members of rooms (added to previously targeted rooms).
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	for _, r := range rooms {
		if !slices.Contains(c.rooms, r) {
			c.rooms = append(c.rooms, r)
		}
	}
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the members of rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	for _, r := range rooms {
		if !slices.Contains(c.except, r) {
			c.except = append(c.except, r)
		}
	}
	return c
}

// Local restricts the broadcast to this server.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Volatile lets the event be dropped for connections that cannot take it now.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Timeout bounds EmitWithAck.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b *BroadcastOperator) opts() BroadcastOptions {
	return BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit encodes the event once and sends it to every matching socket. With a
// cluster adapter it also publishes the event to the other servers, bounded
// by the adapter's own publish timeout; EmitContext bounds it by ctx.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	return b.EmitContext(context.Background(), event, args...)
}

// EmitContext is Emit whose publishing to other servers (with a cluster
// adapter) obeys ctx. Local delivery does not wait for it.
func (b *BroadcastOperator) EmitContext(ctx context.Context, event string, args ...any) error {
	p, err := b.ns.eventPacket(event, args)
	if err != nil {
		return err
	}
	return b.ns.adapter.Broadcast(ctx, p, b.opts())
}

// EmitWithAck broadcasts and collects one ack per receiver until the timeout
// (Timeout or ctx); it returns the replies received and ErrAckTimeout if some
// receivers did not answer in time. Without Timeout and without a deadline
// on ctx, Config.AckTimeout bounds the wait. A cancelled ctx returns its
// error.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	p, err := b.ns.eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	p.HasID, p.ID = true, b.ns.NextAckID()
	d := b.ackTimeout(ctx)
	t := time.NewTimer(d) // counts from before the broadcast
	defer t.Stop()
	opts := b.opts()
	opts.Flags.Timeout = d
	acks := newAckCollector()
	if err := b.ns.adapter.BroadcastWithAck(ctx, p, opts, acks.clientCount, acks.reply); err != nil {
		return nil, err
	}
	n, err := b.ns.adapter.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	acks.serverCount(n)
	return acks.wait(ctx, t.C, b.ns.srv.draining)
}

// ackTimeout returns how long EmitWithAck waits: Timeout, else the time
// left before ctx's deadline, else Config.AckTimeout; the shortest of
// Timeout and ctx's deadline when both are set.
func (b *BroadcastOperator) ackTimeout(ctx context.Context) time.Duration {
	d := b.flags.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); d <= 0 || left < d {
			d = max(left, time.Millisecond)
		}
	}
	if d <= 0 {
		d = b.ns.srv.cfg.AckTimeout
	}
	return d
}

// ackCollector gathers the replies to a broadcast with acks. It is
// complete when every server has reported how many clients it reached
// (clientCount, once per server, as many as serverCount says) and that many
// replies have arrived; done is closed then.
type ackCollector struct {
	mu       sync.Mutex
	replies  []Args
	expected int // receivers reported so far
	servers  int // servers that reported
	nServers int // servers that will report; -1 until serverCount
	done     chan struct{}
	finished bool // done closed, or wait returned: later replies are dropped
}

func newAckCollector() *ackCollector {
	return &ackCollector{nServers: -1, done: make(chan struct{})}
}

// checkLocked closes done when the collection is complete.
func (a *ackCollector) checkLocked() {
	if !a.finished && a.servers == a.nServers && len(a.replies) >= a.expected {
		a.finished = true
		close(a.done)
	}
}

func (a *ackCollector) clientCount(n int) {
	a.mu.Lock()
	a.expected += n
	a.servers++
	a.checkLocked()
	a.mu.Unlock()
}

func (a *ackCollector) reply(args Args) {
	a.mu.Lock()
	if !a.finished {
		a.replies = append(a.replies, args)
		a.checkLocked()
	}
	a.mu.Unlock()
}

func (a *ackCollector) serverCount(n int) {
	a.mu.Lock()
	a.nServers = n
	a.checkLocked()
	a.mu.Unlock()
}

// wait returns the replies once complete, or those received when timeout
// fires or ctx ends, with ErrAckTimeout (ctx's error if it was cancelled).
// A collection that completes at the same moment counts as complete.
// Shutdown (drain closed) ends the wait like the timeout.
func (a *ackCollector) wait(ctx context.Context, timeout <-chan time.Time, drain <-chan struct{}) ([]Args, error) {
	var result error
	select {
	case <-a.done:
	case <-timeout:
		result = ErrAckTimeout
	case <-drain:
		result = ErrAckTimeout
	case <-ctx.Done():
		result = ErrAckTimeout
		if ctx.Err() == context.Canceled {
			result = ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if result != nil && a.finished {
		result = nil // completed at the same moment
	}
	a.finished = true
	return slices.Clone(a.replies), result
}

// SocketsJoin makes the matching sockets join rooms (cluster-wide with a
// cluster adapter).
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.AddSockets(ctx, b.opts(), rooms)
}

// SocketsLeave makes the matching sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.DelSockets(ctx, b.opts(), rooms)
}

// DisconnectSockets disconnects the matching sockets.
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.ns.adapter.DisconnectSockets(ctx, b.opts(), close)
}

// FetchSockets returns a snapshot of the matching sockets.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return b.ns.adapter.FetchSockets(ctx, b.opts())
}
