package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a private three-master Redis Cluster owned by one test
// (no replicas, no persistence), for the sharded pub/sub adapter: three
// `redis-server --cluster-enabled yes` processes on free loopback ports,
// joined by `redis-cli --cluster create`.
type RedisCluster struct {
	Nodes []*Process
	Addrs []string // 127.0.0.1:port of each master
}

// clusterNodes is how many masters StartRedisCluster starts.
const clusterNodes = 3

// StartRedisCluster starts the cluster and waits until every node reports
// cluster_state:ok and knows the three masters. The processes are stopped
// (by PID) when the test ends. Missing redis-server or redis-cli binaries
// make the test Unavailable.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	server := lookBinary(t, "redis-server", "redis-server")
	cli := lookBinary(t, "redis-cli", "redis-tools")
	c := &RedisCluster{}
	for i := 0; i < clusterNodes; i++ {
		dir := t.TempDir()
		p, port := startOnFreePort(t, fmt.Sprintf("redis-cluster-%d", i), dir,
			func(port int) *exec.Cmd { return clusterNodeCommand(server, dir, port) }, redisReady)
		c.Nodes = append(c.Nodes, p)
		c.Addrs = append(c.Addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	WaitFor(t, 20*time.Second, c.ready)
	return c
}

// clusterNodeCommand runs one cluster node on port; its cluster bus gets
// a free port of its own (port+10000 may not exist or be taken).
func clusterNodeCommand(bin, dir string, port int) *exec.Cmd {
	bus, err := freePort()
	if err != nil {
		bus = port + 10000
	}
	return exec.Command(bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
		"--cluster-config-file", "nodes-"+strconv.Itoa(port)+".conf",
		"--cluster-node-timeout", "5000",
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes")
}

// ready reports whether every node says cluster_state:ok with all slots
// assigned and every master known.
func (c *RedisCluster) ready() error {
	for _, addr := range c.Addrs {
		info, err := clusterInfo(addr)
		if err != nil {
			return err
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:" + strconv.Itoa(clusterNodes)} {
			if !strings.Contains(info, want) {
				return fmt.Errorf("%s: CLUSTER INFO lacks %s:\n%s", addr, want, info)
			}
		}
	}
	return nil
}

func clusterInfo(addr string) (string, error) {
	n := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return n.ClusterInfo(ctx).Result()
}

// Client returns a cluster client of the nodes that honours context
// deadlines; it is closed when the test ends.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true, DialTimeout: time.Second})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
