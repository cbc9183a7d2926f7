package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// call is a request this server sent and whose answers it awaits: answer
// runs (under mu) for each response; done closes when want answers came.
type call struct {
	mu     sync.Mutex
	want   int
	got    int
	answer func(*response) bool // false: the response is not an answer
	done   chan struct{}
	err    error
	ended  bool
}

func (c *call) onResponse(r *response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || !c.answer(r) {
		return
	}
	c.got++
	if c.got >= c.want {
		c.ended = true
		close(c.done)
	}
}

// finish ends c early (Close).
func (c *call) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		c.ended, c.err = true, err
		close(c.done)
	}
}

// roundTrip publishes the JSON request req (its requestId set here) and
// waits for want answers, within ctx and Config.RequestsTimeout. answer
// is called under the call's lock. The request is forgotten on return,
// whatever the outcome; the error wraps ErrTimeout when answers are
// missing.
func (a *Adapter) roundTrip(ctx context.Context, req map[string]any, want int, answer func(*response) bool) (got int, err error) {
	id := newUID()
	req["uid"], req["requestId"] = a.uid, id
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	c := &call{want: want, answer: answer, done: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return 0, ErrClosed
	}
	a.requests[id] = c
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, id)
		a.mu.Unlock()
	}()
	if err := a.publish(ctx, a.requestCh, body); err != nil {
		return 0, err
	}
	t := time.NewTimer(a.cfg.RequestsTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true // later answers are dropped
	if c.err != nil {
		return c.got, c.err
	}
	if c.got < c.want {
		a.stats.requestTimeouts.Add(1)
		return c.got, fmt.Errorf("%w: %d of %d servers answered", ErrTimeout, c.got, c.want)
	}
	return c.got, nil
}

// others returns how many other servers will answer a request (0 when
// this server is alone).
func (a *Adapter) others(ctx context.Context) (int, error) {
	n, err := a.ServerCount(ctx)
	return max(n-1, 0), err
}

// FetchSockets implements socketio.Adapter: the local sockets plus every
// other server's answer to a REMOTE_FETCH request. A missing answer fails
// the whole call with ErrTimeout (as Node rejects).
func (a *Adapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	n, err := a.others(ctx)
	if err != nil || n == 0 {
		return local, err
	}
	out := local
	req := map[string]any{"type": typeRemoteFetch, "opts": toWireOpts(opts)}
	_, err = a.roundTrip(ctx, req, n, func(r *response) bool {
		var socks []socketio.SocketInfo
		if r.Sockets == nil || json.Unmarshal(r.Sockets, &socks) != nil {
			return false
		}
		out = append(out, socks...)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("fetchSockets: %w", err)
	}
	return out, nil
}

// AllRooms returns the rooms of every server's sockets (socket-id rooms
// included), Node's allRooms.
func (a *Adapter) AllRooms(ctx context.Context) ([]string, error) {
	set := make(map[string]struct{})
	for _, r := range a.Rooms() {
		set[r] = struct{}{}
	}
	n, err := a.others(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		_, err = a.roundTrip(ctx, map[string]any{"type": typeAllRooms}, n, func(r *response) bool {
			if r.Rooms == nil {
				return false
			}
			for _, room := range r.Rooms {
				set[room] = struct{}{}
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("allRooms: %w", err)
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	return out, nil
}

// AddSockets implements socketio.Adapter: applied locally now, then
// published as REMOTE_JOIN (this server skips its own request when it
// comes back).
func (a *Adapter) AddSockets(ctx context.Context, opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.AddSockets(ctx, opts, rooms)
	return a.fireAndForget(ctx, opts, map[string]any{"type": typeRemoteJoin, "rooms": nonNil(rooms)})
}

// DelSockets implements socketio.Adapter (REMOTE_LEAVE, like AddSockets).
func (a *Adapter) DelSockets(ctx context.Context, opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.DelSockets(ctx, opts, rooms)
	return a.fireAndForget(ctx, opts, map[string]any{"type": typeRemoteLeave, "rooms": nonNil(rooms)})
}

// DisconnectSockets implements socketio.Adapter (REMOTE_DISCONNECT, like
// AddSockets).
func (a *Adapter) DisconnectSockets(ctx context.Context, opts socketio.BroadcastOptions, close bool) error {
	_ = a.MemoryAdapter.DisconnectSockets(ctx, opts, close)
	return a.fireAndForget(ctx, opts, map[string]any{"type": typeRemoteDisconnect, "close": close})
}

func (a *Adapter) fireAndForget(ctx context.Context, opts socketio.BroadcastOptions, req map[string]any) error {
	if opts.Flags.Local {
		return nil
	}
	req["uid"], req["opts"] = a.uid, toWireOpts(opts)
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return a.publish(ctx, a.requestCh, body)
}

// ServerSideEmit implements socketio.ServerSideEmitter: a SERVER_SIDE_EMIT
// request with data [event, ...args] (JSON: binary arguments are not
// carried, as in Node).
func (a *Adapter) ServerSideEmit(ctx context.Context, p *parser.Packet) error {
	body, err := json.Marshal(map[string]any{"uid": a.uid, "type": typeServerSideEmit, "data": p.Data})
	if err != nil {
		return err
	}
	return a.publish(ctx, a.requestCh, body)
}

// ServerSideEmitWithAck implements socketio.ServerSideEmitter: one reply
// expected from each other server (NUMSUB - 1); on timeout the replies so
// far come with an error wrapping socketio.ErrAckTimeout.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, p *parser.Packet) ([]socketio.Args, error) {
	n, err := a.others(ctx)
	if err != nil || n == 0 {
		return []socketio.Args{}, err
	}
	var replies []socketio.Args
	req := map[string]any{"type": typeServerSideEmit, "data": p.Data}
	got, err := a.roundTrip(ctx, req, n, func(r *response) bool {
		if r.Type != typeServerSideEmit {
			return false
		}
		data := r.Data
		if data == nil {
			data = json.RawMessage("null")
		}
		args, err := socketio.NewArgs(append(append([]byte{'['}, data...), ']'), nil)
		if err != nil {
			return false
		}
		replies = append(replies, args)
		return true
	})
	if err != nil {
		if errorsIsTimeout(err) {
			err = fmt.Errorf("redis: timeout reached: only %d responses received out of %d: %w", got, n, socketio.ErrAckTimeout)
		}
		return replies, err
	}
	return replies, nil
}
