package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// classic is the wire of Node's createAdapter: one subscriber connection
// with PSUBSCRIBE K#N#* and SUBSCRIBE K-request#N#, K-response#N#,
// K-response#N#<uid>#, so that PUBSUB NUMSUB K-request#N# counts each
// server exactly once.
type classic struct {
	a *Adapter

	broadcastCh, requestCh, responseCh, specificCh string

	ps      *goredis.PubSub
	ready   chan struct{} // closed when every subscription is confirmed
	readyOn sync.Once
}

var _ wire = (*classic)(nil)

func newClassic(a *Adapter) *classic {
	k, n := a.cfg.Key, a.ns.Name()
	c := &classic{
		a:           a,
		broadcastCh: k + "#" + n + "#",
		requestCh:   k + "-request#" + n + "#",
		responseCh:  k + "-response#" + n + "#",
		ready:       make(chan struct{}),
	}
	c.specificCh = c.responseCh + a.uid + "#"
	return c
}

func (c *classic) name() string { return c.broadcastCh }

// open opens the subscriber connection and waits for the confirmations,
// so that NUMSUB counts this server once the factory returns.
func (c *classic) open(ctx context.Context) error {
	c.ps = c.a.rdb.Subscribe(ctx)
	err := c.ps.PSubscribe(ctx, c.broadcastCh+"*")
	if err == nil {
		err = c.ps.Subscribe(ctx, c.requestCh, c.responseCh, c.specificCh)
	}
	if err != nil {
		_ = c.ps.Close()
		return fmt.Errorf("redis: subscribe %s: %w", c.broadcastCh, err)
	}
	msgs := c.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	c.a.wg.Add(1)
	go c.receive(msgs)
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		_ = c.ps.Close()
		c.a.wg.Wait()
		return fmt.Errorf("redis: subscribe %s: not confirmed: %w", c.broadcastCh, ctx.Err())
	}
}

func (c *classic) close() error { return c.ps.Close() }

// receive is the adapter's goroutine: it handles the subscription's
// messages in order until the PubSub is closed.
func (c *classic) receive(msgs <-chan any) {
	defer c.a.wg.Done()
	confirmed := 0
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "psubscribe" {
				continue
			}
			confirmed++
			if confirmed == 4 {
				c.readyOn.Do(func() { close(c.ready) })
			} else if confirmed > 4 && m.Kind == "psubscribe" {
				c.a.stats.reconnects.Add(1) // go-redis re-subscribed after a reconnection
			}
		case *goredis.Message:
			c.a.received(len(m.Payload))
			c.dispatch(m)
		}
	}
}

func (c *classic) dispatch(m *goredis.Message) {
	switch {
	case m.Pattern != "":
		c.onBroadcast(m.Channel, []byte(m.Payload))
	case m.Channel == c.requestCh:
		c.onRequest([]byte(m.Payload))
	case m.Channel == c.responseCh || m.Channel == c.specificCh:
		c.onResponse([]byte(m.Payload))
	}
}

func (c *classic) publish(ctx context.Context, channel string, payload []byte) error {
	return c.a.rdb.Publish(ctx, channel, payload).Err()
}

func (c *classic) serverCount(ctx context.Context) (int, error) {
	m, err := c.a.rdb.PubSubNumSub(ctx, c.requestCh).Result()
	return int(m[c.requestCh]), err
}

// onBroadcast decodes another server's [uid, packet, opts].
func (c *classic) onBroadcast(channel string, payload []byte) {
	room, ok := strings.CutPrefix(channel, c.broadcastCh)
	if !ok {
		return
	}
	// The room in the channel name (K#N#<room>#) is a routing hint: Node
	// drops the message when it has no local member; opts.rooms decides.
	if room, ok = strings.CutSuffix(room, "#"); ok && c.a.RoomSize(room) == 0 {
		return
	}
	m, err := decodeBroadcast(payload)
	if err != nil {
		c.a.malformed("broadcast", err)
		return
	}
	c.a.deliver(m)
}

// onRequest decodes a request: JSON when it starts with '{', else
// msgpack (BROADCAST).
func (c *classic) onRequest(payload []byte) {
	var r *request
	var err error
	if len(payload) > 0 && payload[0] == '{' {
		r = &request{Type: -1}
		err = json.Unmarshal(payload, r)
	} else {
		r, err = decodeBroadcastRequest(payload)
	}
	if err != nil {
		c.a.malformed("request", err)
		return
	}
	c.a.onRequest(r)
}

// onResponse decodes a response (JSON, or msgpack BROADCAST_ACK).
func (c *classic) onResponse(payload []byte) {
	var r *response
	var err error
	if len(payload) > 0 && payload[0] == '{' {
		r = &response{Type: -1}
		err = json.Unmarshal(payload, r)
	} else {
		r, err = decodeBroadcastAck(payload)
	}
	if err != nil {
		c.a.malformed("response", err)
		return
	}
	c.a.onResponse(r)
}

// encode: broadcasts are [uid, packet, opts] on K#N#<room># for exactly
// one room, else K#N#; broadcasts with acks are msgpack requests; other
// requests JSON, all on the request channel.
func (c *classic) encode(m *outMsg) (string, []byte, error) {
	if m.typ == typeBroadcast {
		if m.id == "" {
			msg, err := encodeBroadcast(c.a.uid, m.packet, m.opts)
			return c.channelOf(m), msg, err
		}
		msg, err := encodeBroadcastRequest(c.a.uid, m.id, m.packet, m.opts)
		return c.requestCh, msg, err
	}
	req := map[string]any{"uid": c.a.uid, "type": m.typ}
	if m.id != "" {
		req["requestId"] = m.id
	}
	switch m.typ {
	case typeRemoteFetch:
		req["opts"] = toWireOpts(m.opts)
	case typeRemoteJoin, typeRemoteLeave:
		req["opts"], req["rooms"] = toWireOpts(m.opts), nonNil(m.rooms)
	case typeRemoteDisconnect:
		req["opts"], req["close"] = toWireOpts(m.opts), m.close
	case typeServerSideEmit:
		req["data"] = m.packet.Data
	}
	body, err := json.Marshal(req)
	return c.requestCh, body, err
}

func (c *classic) channelOf(m *outMsg) string {
	if len(m.opts.Rooms) == 1 {
		return c.broadcastCh + m.opts.Rooms[0] + "#"
	}
	return c.broadcastCh
}

// encodeAnswer: JSON on K-response#N# (or the requester's channel with
// PublishOnSpecificResponseChannel), except a serverSideEmit reply, which
// always goes to the shared channel, and BROADCAST_ACK, which is msgpack.
func (c *classic) encodeAnswer(r *request, ans *answer) (string, []byte, error) {
	channel := c.responseCh
	if c.a.cfg.PublishOnSpecificResponseChannel && r.UID != nil {
		channel = c.responseCh + *r.UID + "#"
	}
	v := map[string]any{"requestId": r.RequestID}
	switch ans.typ {
	case typeSockets, typeRemoteFetch:
		v["sockets"] = ans.sockets
	case typeAllRooms:
		v["rooms"] = ans.rooms
	case typeServerSideEmit:
		channel = c.responseCh
		v["type"], v["data"] = typeServerSideEmit, ans.data
	case typeBroadcastCount:
		v["type"], v["clientCount"] = typeBroadcastCount, ans.count
	case typeBroadcastAck:
		msg, err := encodeBroadcastAck(r.RequestID, ans.reply)
		return channel, msg, err
	}
	body, err := json.Marshal(v)
	return channel, body, err
}
