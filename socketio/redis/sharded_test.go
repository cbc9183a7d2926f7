package redis

import "testing"

// TestSharded runs the Go-only cluster tests in sharded mode on one
// private three-master Redis Cluster (each subtest under its own key
// prefix).
func TestSharded(t *testing.T) {
	d := shardedDeployment(t)
	t.Run("Broadcast", func(t *testing.T) { testBroadcast(t, d) })
	t.Run("RoomOps", func(t *testing.T) { testRoomOps(t, d) })
	t.Run("ServerSideEmit", func(t *testing.T) { testServerSideEmit(t, d) })
	t.Run("BroadcastWithAck", func(t *testing.T) { testBroadcastWithAck(t, d) })
	t.Run("RequestTimeout", func(t *testing.T) { testRequestTimeout(t, d) })
}
