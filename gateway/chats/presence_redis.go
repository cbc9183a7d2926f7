package chats

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sockgate/sockgate/gateway/internal/cluster"

	"github.com/redis/go-redis/v9"
)

var (
	_ presence = (*redisPresence)(nil)
	_ Online   = (*redisPresence)(nil)
)

// redisPresence is the presence shared by every instance of a cluster
// (SPEC §9), kept in Redis under "<prefix>:{presence}:":
//
//	user:<userId>      HASH socket id → instance: the user's sockets
//	inst:<instance>    HASH socket id → user id: an instance's sockets
//	instances          SET of the instances that have (had) sockets
//	alive:<instance>   STRING with a TTL: the instance's heartbeat
//
// Every operation is one Lua script, so "first" and "last" are decided
// atomically across instances, and every script first sweeps the
// instances whose heartbeat key has expired: their sockets stop counting.
// No offline `presence` event is sent for the users a dead instance had
// (nobody is left to send it); Online stops reporting them. The braces
// make every key hash to one Redis Cluster slot, which scripts need.
type redisPresence struct{ ks *cluster.Keyspace }

// newRedisPresence returns the presence of cfg.Redis and starts this
// instance's heartbeat; Close stops it. cfg has its defaults applied.
func newRedisPresence(cfg cluster.Config, log *slog.Logger) *redisPresence {
	return &redisPresence{ks: cluster.NewKeyspace(cfg, "presence", "instances", log)}
}

// run runs script: KEYS[1] is the instances SET (it routes the call to
// the presence's slot), ARGV[1] the key base.
func (p *redisPresence) run(ctx context.Context, s *redis.Script, args ...any) *redis.Cmd {
	return p.ks.Run(ctx, s, args...)
}

// Connect implements presence. It also refreshes this instance's
// heartbeat, so that a socket counted before the first heartbeat is not
// swept at once.
func (p *redisPresence) Connect(ctx context.Context, userID, socketID string) (bool, error) {
	first, err := p.run(ctx, connectScript, p.ks.Instance(), p.ks.TTL().Milliseconds(), userID, socketID).Bool()
	if err != nil {
		return false, fmt.Errorf("chats: presence: connect: %w", err)
	}
	return first, nil
}

// Disconnect implements presence.
func (p *redisPresence) Disconnect(ctx context.Context, userID, socketID string) (bool, error) {
	last, err := p.run(ctx, disconnectScript, userID, socketID).Bool()
	if err != nil {
		return false, fmt.Errorf("chats: presence: disconnect: %w", err)
	}
	return last, nil
}

// Online implements presence.
func (p *redisPresence) Online(ctx context.Context, userIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(userIDs))
	for i, id := range userIDs {
		args[i] = id
	}
	on, err := p.run(ctx, onlineScript, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("chats: presence: online: %w", err)
	}
	for i, id := range userIDs {
		if on[i] == 1 {
			out[id] = true
		}
	}
	return out, nil
}

// Close stops the heartbeat, then removes this instance's sockets and its
// heartbeat key, within ctx. Should that fail, the sockets stop counting
// once the key's TTL runs out. No offline events are sent. Idempotent.
func (p *redisPresence) Close(ctx context.Context) error { return p.ks.Close(ctx, purgePresenceScript) }

// presenceLib holds the helpers of every presence script.
const presenceLib = `
local base = ARGV[1]
local insts = KEYS[1]

-- sweep forgets every socket of the instances whose heartbeat expired.
local function sweep()
  for _, inst in ipairs(redis.call('SMEMBERS', insts)) do
    if redis.call('EXISTS', base .. ':alive:' .. inst) == 0 then
      local ik = base .. ':inst:' .. inst
      local socks = redis.call('HGETALL', ik)
      for i = 1, #socks, 2 do
        redis.call('HDEL', base .. ':user:' .. socks[i + 1], socks[i])
      end
      redis.call('DEL', ik)
      redis.call('SREM', insts, inst)
    end
  end
end
`

// connectScript: ARGV instance, ttl ms, user id, socket id → 1 when the
// user had no socket before. The heartbeat is refreshed before the sweep.
var connectScript = redis.NewScript(presenceLib + `
local inst, uid, sid = ARGV[2], ARGV[4], ARGV[5]
redis.call('SET', base .. ':alive:' .. inst, '1', 'PX', ARGV[3])
redis.call('SADD', insts, inst)
sweep()
local uk = base .. ':user:' .. uid
local first = redis.call('HLEN', uk) == 0
redis.call('HSET', uk, sid, inst)
redis.call('HSET', base .. ':inst:' .. inst, sid, uid)
if first then return 1 end
return 0
`)

// disconnectScript: ARGV user id, socket id → 1 when it was the user's
// last socket.
var disconnectScript = redis.NewScript(presenceLib + `
local uid, sid = ARGV[2], ARGV[3]
sweep()
local uk = base .. ':user:' .. uid
local inst = redis.call('HGET', uk, sid)
if not inst then return 0 end
redis.call('HDEL', uk, sid)
redis.call('HDEL', base .. ':inst:' .. inst, sid)
return 1 - redis.call('EXISTS', uk)
`)

// onlineScript: ARGV user ids → 1 or 0 for each.
var onlineScript = redis.NewScript(presenceLib + `
sweep()
local out = {}
for i = 2, #ARGV do
  out[i - 1] = redis.call('EXISTS', base .. ':user:' .. ARGV[i])
end
return out
`)

// purgePresenceScript: ARGV instance → removes its heartbeat, then sweeps
// (which forgets its sockets with those of any other dead instance).
var purgePresenceScript = redis.NewScript(presenceLib + `
redis.call('DEL', base .. ':alive:' .. ARGV[2])
sweep()
return 1
`)
