package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Subscription is the sharded mode's subscriptionMode (Node's option of
// createShardedAdapter).
type Subscription int

const (
	// SubscribeDynamic (Node's default) subscribes K#N#<room># for each
	// public room (not a socket id) with local members, and publishes a
	// plain broadcast to exactly one room that does not look like a socket
	// id (20 characters) there, so that only the servers with members
	// receive it.
	SubscribeDynamic Subscription = iota
	// SubscribeStatic uses only K#N# and the response channel.
	SubscribeStatic
	// SubscribeDynamicPrivate is SubscribeDynamic for every room, socket
	// ids included.
	SubscribeDynamicPrivate
)

// sharded is the wire of Node's createShardedAdapter: SSUBSCRIBE K#N#
// (which PUBSUB SHARDNUMSUB counts: one subscription per server),
// K#N#<uid># (answers to this server) and, in dynamic mode, K#N#<room>#.
// go-redis binds a sharded PubSub to the node of its first channel's slot
// and re-subscribes all its channels in one command, so each channel has
// a PubSub (a connection) of its own.
type sharded struct {
	a              *Adapter
	mainCh, respCh string
	mode           Subscription
	// plain (streams mode without sharded pub/sub) uses SUBSCRIBE,
	// PUBLISH and PUBSUB NUMSUB instead of their sharded forms; msgpack
	// (streams mode) encodes every message in msgpack, as Node's streams
	// adapter does (it decodes nothing else).
	plain, msgpack bool

	mu     sync.Mutex
	subs   map[string]*goredis.PubSub // channel → its subscription
	closed bool
	kick   chan struct{} // rooms were created or deleted (dynamic modes)
}

var _ wire = (*sharded)(nil)

func newSharded(a *Adapter) *sharded {
	s := &sharded{
		a:      a,
		mainCh: a.cfg.Key + "#" + a.ns.Name() + "#",
		mode:   a.cfg.Subscription,
		subs:   make(map[string]*goredis.PubSub),
		kick:   make(chan struct{}, 1),
	}
	s.respCh = s.mainCh + a.uid + "#"
	return s
}

func (s *sharded) name() string { return s.mainCh }

// open subscribes K#N# and K#N#<uid># (confirmed within RequestsTimeout)
// and, in dynamic modes, starts the goroutine that follows the rooms.
func (s *sharded) open(ctx context.Context) error {
	for _, ch := range []string{s.respCh, s.mainCh} {
		if err := s.subscribe(ctx, ch); err != nil {
			_ = s.close()
			s.a.wg.Wait()
			return err
		}
	}
	if s.mode != SubscribeStatic {
		s.a.onRooms = s.roomsChanged
		s.a.wg.Add(1)
		go s.followRooms()
	}
	return nil
}

// subscribe opens ch's subscription, waits for its confirmation and
// starts its receive loop.
func (s *sharded) subscribe(ctx context.Context, ch string) error {
	ps := s.a.rdb.SSubscribe
	if s.plain {
		ps = s.a.rdb.Subscribe
	}
	sub := ps(ctx, ch)
	if _, err := sub.Receive(ctx); err != nil {
		_ = sub.Close()
		return fmt.Errorf("redis: subscribe %s: %w", ch, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = sub.Close()
		return ErrClosed
	}
	s.subs[ch] = sub
	s.a.wg.Add(1)
	s.mu.Unlock()
	go s.receive(ch, sub.ChannelWithSubscriptions(goredis.WithChannelSize(1024)))
	return nil
}

// receive handles one channel's messages in order until its PubSub is
// closed.
func (s *sharded) receive(ch string, msgs <-chan any) {
	defer s.a.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			if (m.Kind == "ssubscribe" || m.Kind == "subscribe") && ch == s.mainCh {
				s.a.stats.reconnects.Add(1) // go-redis re-subscribed after a reconnection
			}
		case *goredis.Message:
			s.a.received(len(m.Payload))
			s.onMessage(ch == s.respCh, []byte(m.Payload))
		}
	}
}

func (s *sharded) close() error {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = map[string]*goredis.PubSub{}
	s.mu.Unlock()
	var first error
	for _, ps := range subs {
		if err := ps.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *sharded) publish(ctx context.Context, channel string, payload []byte) error {
	if s.plain {
		return s.a.rdb.Publish(ctx, channel, payload).Err()
	}
	return s.a.rdb.SPublish(ctx, channel, payload).Err()
}

// serverCount sums PUBSUB SHARDNUMSUB K#N# (plain: NUMSUB) over the
// masters of a cluster (only the channel's shard has subscribers), as
// Node does.
func (s *sharded) serverCount(ctx context.Context) (int, error) {
	return numSub(ctx, s.a.rdb, s.mainCh, !s.plain)
}

// numSub is PUBSUB SHARDNUMSUB (or NUMSUB) of channel, summed over the
// masters of a cluster.
func numSub(ctx context.Context, rdb goredis.UniversalClient, channel string, sharded bool) (int, error) {
	count := func(ctx context.Context, c goredis.UniversalClient) (int, error) {
		cmd := c.PubSubShardNumSub
		if !sharded {
			cmd = c.PubSubNumSub
		}
		m, err := cmd(ctx, channel).Result()
		return int(m[channel]), err
	}
	cc, ok := rdb.(*goredis.ClusterClient)
	if !ok {
		return count(ctx, rdb)
	}
	var mu sync.Mutex
	total := 0
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		n, err := count(ctx, c)
		mu.Lock()
		total += n
		mu.Unlock()
		return err
	})
	return total, err
}

// roomsChanged is called (by the Adapter) after a room was created or
// deleted; it never blocks.
func (s *sharded) roomsChanged() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// followRooms keeps one K#N#<room># subscription per public room with
// local members until Close. A subscription that fails is retried a
// second later.
func (s *sharded) followRooms() {
	defer s.a.wg.Done()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		select {
		case <-s.a.ctx.Done():
			return
		case <-s.kick:
		case <-retry.C:
		}
		if err := s.syncRooms(); err != nil && s.a.ctx.Err() == nil {
			s.a.log.Debug("redis adapter: room subscription failed", "err", err)
			retry.Reset(time.Second)
		}
	}
}

// syncRooms subscribes the room channels that are wanted and not yet
// subscribed, and closes those no longer wanted.
func (s *sharded) syncRooms() error {
	want := make(map[string]bool)
	for _, room := range s.a.Rooms() {
		if s.mode == SubscribeDynamicPrivate || s.a.SocketRooms(room) == nil {
			want[s.mainCh+room+"#"] = true
		}
	}
	var add []string
	s.mu.Lock()
	for ch, ps := range s.subs {
		if ch != s.mainCh && ch != s.respCh && !want[ch] {
			_ = ps.Close()
			delete(s.subs, ch)
		}
	}
	for ch := range want {
		if s.subs[ch] == nil {
			add = append(add, ch)
		}
	}
	s.mu.Unlock()
	for _, ch := range add {
		ctx, cancel := context.WithTimeout(s.a.ctx, s.a.cfg.RequestsTimeout)
		err := s.subscribe(ctx, ch)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// channelOf is where a message goes: a plain broadcast to exactly one
// room in dynamic mode goes to the room's channel (not for a room that
// looks like a socket id, unless dynamic-private), anything else to K#N#.
// A broadcast with acks never uses a room channel: every server counted
// by SHARDNUMSUB must answer it.
func (s *sharded) channelOf(m *outMsg) string {
	if m.typ != typeBroadcast || m.id != "" || len(m.opts.Rooms) != 1 {
		return s.mainCh
	}
	room := m.opts.Rooms[0]
	if s.mode == SubscribeDynamicPrivate || s.mode == SubscribeDynamic && len(room) != socketIDLen {
		return s.mainCh + room + "#"
	}
	return s.mainCh
}

// socketIDLen is the length of Node's (and sockgate's) socket ids.
const socketIDLen = 20
