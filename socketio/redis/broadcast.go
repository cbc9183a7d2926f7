package redis

import (
	"context"
	"strings"
	"time"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// Broadcast implements socketio.Adapter: local delivery, then (unless
// Flags.Local) the [uid, packet, opts] message on K#N#<room># for exactly
// one room, else K#N#. The publishing error is returned; local delivery
// has happened regardless.
func (a *Adapter) Broadcast(ctx context.Context, p *parser.Packet, opts socketio.BroadcastOptions) error {
	_ = a.MemoryAdapter.Broadcast(ctx, p, opts)
	if opts.Flags.Local {
		return nil
	}
	msg, err := encodeBroadcast(a.uid, p, opts)
	if err != nil {
		return err
	}
	return a.publish(ctx, a.channelOf(opts), msg)
}

func (a *Adapter) channelOf(opts socketio.BroadcastOptions) string {
	if len(opts.Rooms) == 1 {
		return a.broadcastCh + opts.Rooms[0] + "#"
	}
	return a.broadcastCh
}

// ackCall is a broadcast with acks this server sent: the other servers'
// client counts and replies are relayed to the caller's callbacks until
// the broadcast's timeout.
type ackCall struct {
	clientCount func(int)
	ack         func(socketio.Args)
}

// BroadcastWithAck implements socketio.Adapter: the BROADCAST request goes
// to the other servers, whose BROADCAST_CLIENT_COUNT and BROADCAST_ACK
// answers reach clientCount and ack until opts.Flags.Timeout; then local
// delivery.
func (a *Adapter) BroadcastWithAck(ctx context.Context, p *parser.Packet, opts socketio.BroadcastOptions, clientCount func(int), ack func(socketio.Args)) error {
	if !opts.Flags.Local {
		if err := a.requestAcks(ctx, p, opts, clientCount, ack); err != nil {
			return err
		}
	}
	return a.MemoryAdapter.BroadcastWithAck(ctx, p, opts, clientCount, ack)
}

func (a *Adapter) requestAcks(ctx context.Context, p *parser.Packet, opts socketio.BroadcastOptions, clientCount func(int), ack func(socketio.Args)) error {
	id := newUID()
	msg, err := encodeBroadcastRequest(a.uid, id, p, opts)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.ackReqs[id] = &ackCall{clientCount: clientCount, ack: ack}
	a.mu.Unlock()
	timeout := opts.Flags.Timeout
	if timeout <= 0 {
		timeout = a.cfg.RequestsTimeout
	}
	time.AfterFunc(timeout, func() { a.forgetAcks(id) })
	if err := a.publish(ctx, a.requestCh, msg); err != nil {
		a.forgetAcks(id)
		return err
	}
	return nil
}

func (a *Adapter) forgetAcks(id string) {
	a.mu.Lock()
	delete(a.ackReqs, id)
	a.mu.Unlock()
}

// onBroadcast delivers another server's broadcast to the local sockets.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	room, ok := strings.CutPrefix(channel, a.broadcastCh)
	if !ok {
		return
	}
	// The room in the channel name (K#N#<room>#) is a routing hint: Node
	// drops the message when it has no local member; opts.rooms decides.
	if room, ok = strings.CutSuffix(room, "#"); ok && a.RoomSize(room) == 0 {
		return
	}
	m, err := decodeBroadcast(payload)
	if err != nil {
		a.malformed("broadcast", err)
		return
	}
	if m.uid == a.uid || m.packet.nsp != a.ns.Name() {
		return
	}
	opts := m.opts
	opts.Flags.Local = true
	_ = a.MemoryAdapter.Broadcast(a.ctx, m.packet.packet(0, false), opts)
}

// onBroadcastRequest delivers another server's broadcast with acks,
// answering its client count (even 0) and then each client's reply.
func (a *Adapter) onBroadcastRequest(r *request) {
	if r.packet == nil || r.Opts == nil || r.RequestID == "" || r.packet.nsp != a.ns.Name() {
		a.malformed("broadcast request", errMalformed)
		return
	}
	channel := a.answerChannel(r)
	opts := r.Opts.options()
	opts.Flags.Volatile, opts.Flags.Timeout = r.flags.Volatile, r.flags.Timeout
	count := func(n int) {
		a.publishJSON(channel, map[string]any{"type": typeBroadcastCount, "requestId": r.RequestID, "clientCount": n})
	}
	reply := func(args socketio.Args) {
		msg, err := encodeBroadcastAck(r.RequestID, args)
		if err != nil {
			a.log.Debug("redis adapter: ack not encoded", "err", err)
			return
		}
		a.publishAsync(channel, msg)
	}
	p := r.packet.packet(a.ns.NextAckID(), true)
	_ = a.MemoryAdapter.BroadcastWithAck(a.ctx, p, opts, count, reply)
}

// onAckResponse relays another server's BROADCAST_CLIENT_COUNT or
// BROADCAST_ACK; it reports whether the request id was one of ours.
func (a *Adapter) onAckResponse(r *response) bool {
	a.mu.Lock()
	c := a.ackReqs[r.RequestID]
	a.mu.Unlock()
	if c == nil {
		return false
	}
	switch r.Type {
	case typeBroadcastCount:
		c.clientCount(r.ClientCount)
	case typeBroadcastAck:
		if r.packet == nil {
			return true
		}
		data := make([]byte, 0, len(r.packet.data)+2)
		data = append(append(append(data, '['), r.packet.data...), ']')
		if args, err := socketio.NewArgs(data, r.packet.bins); err == nil {
			c.ack(args)
		}
	}
	return true
}
