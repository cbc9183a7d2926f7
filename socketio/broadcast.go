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

// Emit encodes the event once and sends it to every matching socket.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	p, err := b.ns.eventPacket(event, args)
	if err != nil {
		return err
	}
	return b.ns.adapter.Broadcast(p, b.opts())
}

// EmitWithAck broadcasts and collects one ack per receiver until the timeout
// (Timeout or ctx); it returns the replies received and ErrAckTimeout if some
// receivers did not answer in time.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	p, err := b.ns.eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	p.HasID, p.ID = true, b.ns.ackID.Add(1)-1

	var (
		mu       sync.Mutex
		replies  []Args
		expected int
		servers  int
		nServers = -1
		done     = make(chan struct{})
		finished bool
	)
	check := func() { // mu held
		if !finished && servers == nServers && len(replies) >= expected {
			finished = true
			close(done)
		}
	}
	timeout := b.flags.Timeout
	if timeout <= 0 {
		if _, ok := ctx.Deadline(); !ok {
			timeout = b.ns.srv.cfg.AckTimeout
		}
	}
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	defer func() {
		for _, s := range b.ns.LocalSockets() {
			s.cancelAck(p.ID)
		}
	}()
	err = b.ns.adapter.BroadcastWithAck(p, b.opts(), func(n int) {
		mu.Lock()
		expected += n
		servers++
		check()
		mu.Unlock()
	}, func(a Args) {
		mu.Lock()
		if !finished {
			replies = append(replies, a)
			check()
		}
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	n, err := b.ns.adapter.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	nServers = n
	check()
	mu.Unlock()

	var result error
	select {
	case <-done:
	case <-timer:
		result = ErrAckTimeout
	case <-ctx.Done():
		result = ErrAckTimeout
		if ctx.Err() == context.Canceled {
			result = ctx.Err()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if result != nil && finished {
		result = nil // completed at the same moment
	}
	finished = true
	return slices.Clone(replies), result
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
