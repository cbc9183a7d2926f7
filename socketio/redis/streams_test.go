package redis

import (
	"context"
	"testing"

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
