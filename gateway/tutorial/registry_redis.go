package tutorial

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/sockgate/sockgate/gateway/internal/cluster"

	"github.com/redis/go-redis/v9"
)

var _ registry = (*redisRegistry)(nil)

// redisRegistry is the registry shared by every instance of a cluster
// (SPEC §9), kept in Redis under "<prefix>:{tutorial}:":
//
//	seq                   INCR counter: creation order of rooms
//	rooms                 ZSET room name → creation seq (Rooms: oldest first)
//	room:<name>           STRING JSON {name, host: User, users: [{user, inst}]}
//	sock:<socketId>       SET of the rooms a socket is in (LeaveAll)
//	inst:<instance>       SET of the socket ids an instance has in rooms
//	instances             SET of the instances that have (had) members
//	alive:<instance>      STRING with a TTL: the instance's heartbeat
//
// Every operation is one Lua script, so each is atomic (two instances
// joining one room elect exactly one host) and every script first sweeps
// the instances whose heartbeat key has expired: their members are removed
// and rooms left empty deleted, so no read ever reports a dead instance's
// sockets. The braces make every key hash to one Redis Cluster slot, which
// scripts need.
type redisRegistry struct{ ks *cluster.Keyspace }

// newRedisRegistry returns the registry of cfg.Redis and starts this
// instance's heartbeat; Close stops it. cfg has its defaults applied.
func newRedisRegistry(cfg cluster.Config, log *slog.Logger) *redisRegistry {
	return &redisRegistry{ks: cluster.NewKeyspace(cfg, "tutorial", "rooms", log)}
}

// run runs script with the registry's keys: KEYS[1] is the rooms ZSET
// (it routes the call to the registry's slot), ARGV[1] the key base.
func (r *redisRegistry) run(ctx context.Context, s *redis.Script, args ...any) *redis.Cmd {
	return r.ks.Run(ctx, s, args...)
}

// redisRoom is a room as the scripts store it.
type redisRoom struct {
	Name  string `json:"name"`
	Host  User   `json:"host"`
	Users []struct {
		User User `json:"user"`
	} `json:"users"`
}

// decodeRoom parses a stored room.
func decodeRoom(raw string) (Room, error) {
	var rr redisRoom
	if err := json.Unmarshal([]byte(raw), &rr); err != nil {
		return Room{}, fmt.Errorf("tutorial: registry: decode room: %w", err)
	}
	room := Room{Name: rr.Name, Host: rr.Host, Users: make([]User, len(rr.Users))}
	for i, m := range rr.Users {
		room.Users[i] = m.User
	}
	return room, nil
}

// Join implements registry. It also refreshes this instance's heartbeat,
// so that a join made before the first heartbeat is not swept at once.
func (r *redisRegistry) Join(ctx context.Context, name string, u User) (Room, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return Room{}, err
	}
	res, err := r.run(ctx, joinScript, r.ks.Instance(), r.ks.TTL().Milliseconds(), name, b).StringSlice()
	if err != nil {
		return Room{}, fmt.Errorf("tutorial: registry: join: %w", err)
	}
	if res[0] == "taken" {
		return Room{}, errRegistryUserIDTaken
	}
	return decodeRoom(res[1])
}

// Leave implements registry.
func (r *redisRegistry) Leave(ctx context.Context, name, socketID string) (User, bool, error) {
	raw, err := r.run(ctx, leaveScript, name, socketID).Text()
	if err != nil {
		return User{}, false, fmt.Errorf("tutorial: registry: leave: %w", err)
	}
	if raw == "" {
		return User{}, false, nil
	}
	var u User
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		return User{}, false, fmt.Errorf("tutorial: registry: decode user: %w", err)
	}
	return u, true, nil
}

// LeaveAll implements registry.
func (r *redisRegistry) LeaveAll(ctx context.Context, socketID string) ([]string, error) {
	left, err := r.run(ctx, leaveAllScript, socketID).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("tutorial: registry: leave all: %w", err)
	}
	return left, nil
}

// Room implements registry.
func (r *redisRegistry) Room(ctx context.Context, name string) (Room, error) {
	raw, err := r.run(ctx, roomScript, name).Text()
	if err != nil {
		return Room{}, fmt.Errorf("tutorial: registry: room: %w", err)
	}
	if raw == "" {
		return Room{}, errRegistryNoRoom
	}
	return decodeRoom(raw)
}

// Rooms implements registry.
func (r *redisRegistry) Rooms(ctx context.Context) ([]Room, error) {
	raws, err := r.run(ctx, roomsScript).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("tutorial: registry: rooms: %w", err)
	}
	out := make([]Room, 0, len(raws))
	for _, raw := range raws {
		room, err := decodeRoom(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, room)
	}
	return out, nil
}

// Count implements registry.
func (r *redisRegistry) Count(ctx context.Context) (int, error) {
	n, err := r.run(ctx, countScript).Int()
	if err != nil {
		return 0, fmt.Errorf("tutorial: registry: count: %w", err)
	}
	return n, nil
}

// Close stops the heartbeat, then removes this instance's members (rooms
// left empty are deleted) and its heartbeat key, within ctx. Should that
// fail, the members expire by themselves once the key's TTL runs out.
// Idempotent.
func (r *redisRegistry) Close(ctx context.Context) error { return r.ks.Close(ctx, purgeScript) }
