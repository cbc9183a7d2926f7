package redis

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testenv"
)

// streamsDeployment starts sockgate servers in streams mode on a private
// redis-server.
func streamsDeployment(t *testing.T) deployment {
	r := testenv.StartRedisServer(t)
	return deployment{
		mode: ModeStreams,
		urls: []string{r.URL()},
		start: func(t *testing.T, cfg Config) *node {
			cfg.Mode = ModeStreams
			return startNode(t, r, cfg)
		},
		mute: func(t *testing.T, a *Adapter) {
			muteOn(t, r.Client(t).Subscribe(context.Background(), a.w.(*sharded).mainCh))
		},
	}
}

func TestStreams_Broadcast(t *testing.T)        { testBroadcast(t, streamsDeployment(t)) }
func TestStreams_RoomOps(t *testing.T)          { testRoomOps(t, streamsDeployment(t)) }
func TestStreams_ServerSideEmit(t *testing.T)   { testServerSideEmit(t, streamsDeployment(t)) }
func TestStreams_BroadcastWithAck(t *testing.T) { testBroadcastWithAck(t, streamsDeployment(t)) }
func TestStreams_RequestTimeout(t *testing.T)   { testRequestTimeout(t, streamsDeployment(t)) }

// TestStreamsCluster: the streams mode on a three-master Redis Cluster,
// requests over sharded pub/sub (Node's useShardedPubSub), the stream on
// its key's master (the reader's connection and CLIENT UNBLOCK there).
func TestStreamsCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	d := deployment{
		mode: ModeStreams,
		start: func(t *testing.T, cfg Config) *node {
			cfg.Mode, cfg.Streams.ShardedPubSub = ModeStreams, true
			cfg.Key, cfg.Streams.Stream = t.Name(), t.Name()
			return startNodeOn(t, c.Client(t), cfg)
		},
	}
	t.Run("Broadcast", func(t *testing.T) { testBroadcast(t, d) })
	t.Run("RoomOps", func(t *testing.T) { testRoomOps(t, d) })
}

// TestStreams_MalformedIgnored: junk stream entries (bad type, data, base64,
// msgpack, packet) and junk pub/sub messages are counted and skipped; the
// reader goes on and broadcasts still cross.
func TestStreams_MalformedIgnored(t *testing.T) {
	r := testenv.StartRedisServer(t)
	cfg := testConfig()
	cfg.Mode = ModeStreams
	a, b := startNode(t, r, cfg), startNode(t, r, cfg)
	waitServers(t, "/", 2, a, b)
	cb := connect(t, b, "/", "b1", "r")
	raw, ctx := r.Client(t), testCtx(t)
	for _, v := range [][]any{
		{"uid", "x", "nsp", "/", "type", "three", "data", "{}"},
		{"uid", "x", "nsp", "/", "type", "3", "data", "{"},
		{"uid", "x", "nsp", "/", "type", "3", "data", "!!not base64"},
		{"uid", "x", "nsp", "/", "type", "3", "data", "wQ=="}, // msgpack 0xc1 (never used)
		{"uid", "x", "nsp", "/", "type", "3", "data", `{"packet":{"type":2,"data":"no array","nsp":"/"},"opts":{"rooms":[]}}`},
		{"uid", "x", "nsp", "/", "type", "3", "data", `{"packet":{"type":2,"data":["m"]}}`},
		{"uid", "x", "nsp", "/", "type", "99", "data", "{}"},
		{"nsp", "/"},
	} {
		if err := raw.XAdd(ctx, &goredis.XAddArgs{Stream: "socket.io", Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	main := b.adapter("/").w.(*sharded).mainCh
	for _, m := range []string{"", "\xc1", "{}", "\x81\xa4type\x07"} {
		if err := raw.Publish(ctx, main, m).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.srv.Of("/").To("r").Emit("m", "still works"); err != nil {
		t.Fatal(err)
	}
	cb.expect(t, "m", `"still works"`)
	if st := b.adapter("/").Stats(); st.Malformed < 8 {
		t.Fatalf("stats %+v: want the junk counted as malformed", st)
	}
}
