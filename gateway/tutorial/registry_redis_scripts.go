package tutorial

import "github.com/redis/go-redis/v9"

// The Lua scripts of redisRegistry (key layout in its doc). Each script is
// registryLib followed by its body: KEYS[1] is the rooms ZSET, ARGV[1] the
// key base, further ARGV the operation's arguments. Rooms are JSON encoded
// with Redis's cjson and never stored empty (a room whose last member
// leaves is deleted), so cjson's encoding of an empty array as {} never
// arises.

// registryLib holds the helpers every script uses.
const registryLib = `
local base = ARGV[1]
local rooms = KEYS[1]

-- unindex forgets that socket sid (of instance inst) is in room name.
local function unindex(sid, name, inst)
  local sk = base .. ':sock:' .. sid
  redis.call('SREM', sk, name)
  if redis.call('EXISTS', sk) == 0 then
    redis.call('SREM', base .. ':inst:' .. inst, sid)
  end
end

-- drop removes socket sid from room name, deleting the room when it was
-- the last member; it returns the removed member, or nil.
local function drop(name, sid)
  local rk = base .. ':room:' .. name
  local raw = redis.call('GET', rk)
  if not raw then return nil end
  local room = cjson.decode(raw)
  for i, m in ipairs(room.users) do
    if m.user.socketId == sid then
      table.remove(room.users, i)
      if #room.users == 0 then
        redis.call('DEL', rk)
        redis.call('ZREM', rooms, name)
      else
        redis.call('SET', rk, cjson.encode(room))
      end
      unindex(sid, name, m.inst)
      return m
    end
  end
  return nil
end

-- sweep removes every member of the instances whose heartbeat expired.
local function sweep()
  local insts = base .. ':instances'
  for _, inst in ipairs(redis.call('SMEMBERS', insts)) do
    if redis.call('EXISTS', base .. ':alive:' .. inst) == 0 then
      local ik = base .. ':inst:' .. inst
      for _, sid in ipairs(redis.call('SMEMBERS', ik)) do
        for _, name in ipairs(redis.call('SMEMBERS', base .. ':sock:' .. sid)) do
          drop(name, sid)
        end
        redis.call('DEL', base .. ':sock:' .. sid)
      end
      redis.call('DEL', ik)
      redis.call('SREM', insts, inst)
    end
  end
end
`

// joinScript: ARGV instance, ttl ms, room, user JSON → {"ok", room JSON}
// or {"taken", ""}. The heartbeat is refreshed before the sweep, so the
// joining instance is never swept by its own join.
var joinScript = redis.NewScript(registryLib + `
local inst, ttl, name = ARGV[2], ARGV[3], ARGV[4]
local user = cjson.decode(ARGV[5])
redis.call('SET', base .. ':alive:' .. inst, '1', 'PX', ttl)
redis.call('SADD', base .. ':instances', inst)
sweep()
local rk = base .. ':room:' .. name
local raw = redis.call('GET', rk)
local room
if raw then
  room = cjson.decode(raw)
  for _, m in ipairs(room.users) do
    if m.user.socketId == user.socketId then return {'ok', raw} end
  end
  for _, m in ipairs(room.users) do
    if m.user.userId == user.userId then return {'taken', ''} end
  end
  if room.host.userId == user.userId then room.host = user end
else
  room = {name = name, host = user, users = {}}
  redis.call('ZADD', rooms, redis.call('INCR', base .. ':seq'), name)
end
table.insert(room.users, {user = user, inst = inst})
raw = cjson.encode(room)
redis.call('SET', rk, raw)
redis.call('SADD', base .. ':sock:' .. user.socketId, name)
redis.call('SADD', base .. ':inst:' .. inst, user.socketId)
return {'ok', raw}
`)

// leaveScript: ARGV room, socket id → the removed user's JSON, or "".
var leaveScript = redis.NewScript(registryLib + `
sweep()
local m = drop(ARGV[2], ARGV[3])
if not m then return '' end
return cjson.encode(m.user)
`)

// leaveAllScript: ARGV socket id → the names of the rooms it left.
var leaveAllScript = redis.NewScript(registryLib + `
sweep()
local sid = ARGV[2]
local sk = base .. ':sock:' .. sid
local left = {}
for _, name in ipairs(redis.call('SMEMBERS', sk)) do
  if drop(name, sid) then table.insert(left, name) end
end
redis.call('DEL', sk)
return left
`)

// roomScript: ARGV room → its JSON, or "".
var roomScript = redis.NewScript(registryLib + `
sweep()
return redis.call('GET', base .. ':room:' .. ARGV[2]) or ''
`)

// roomsScript: → the JSON of every room, oldest first.
var roomsScript = redis.NewScript(registryLib + `
sweep()
local out = {}
for _, name in ipairs(redis.call('ZRANGE', rooms, 0, -1)) do
  local raw = redis.call('GET', base .. ':room:' .. name)
  if raw then table.insert(out, raw) end
end
return out
`)

// countScript: → the number of rooms.
var countScript = redis.NewScript(registryLib + `
sweep()
return redis.call('ZCARD', rooms)
`)

// purgeScript: ARGV instance → removes its heartbeat, then sweeps (which
// removes its members with those of any other dead instance).
var purgeScript = redis.NewScript(registryLib + `
redis.call('DEL', base .. ':alive:' .. ARGV[2])
sweep()
return 1
`)
