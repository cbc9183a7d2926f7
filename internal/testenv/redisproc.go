package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server owned by one test, on a free
// loopback port, with no persistence: unlike Redis (the shared server under
// a key prefix), tests may flush it, stop it, pause it or restart it.
type RedisServer struct {
	*Process
	Addr string // 127.0.0.1:port

	bin, dir string
}

// StartRedisServer starts `redis-server --port N --save "" --appendonly no`
// on a free loopback port and waits until it answers PING. It is stopped
// when the test ends. A missing redis-server makes the test Unavailable.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	r := &RedisServer{bin: lookBinary(t, "redis-server", "redis-server"), dir: t.TempDir()}
	var port int
	r.Process, port = startOnFreePort(t, "redis-server", r.dir, r.command, redisReady)
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return r
}

// URL returns the server's redis:// URL (database 0).
func (r *RedisServer) URL() string { return "redis://" + r.Addr + "/0" }

// Restart stops the server and starts a new, empty one on the same port
// (a Redis that restarts: clients must reconnect by themselves). It waits
// until the new server answers PING.
func (r *RedisServer) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	r.Start(t)
}

// Client returns a client of the server that honours context deadlines;
// it is closed when the test ends.
func (r *RedisServer) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Start starts a new, empty server on the same port after Stop (Redis
// coming back after an outage) and waits until it answers PING.
func (r *RedisServer) Start(t testing.TB) {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(r.Addr)
	port, _ := strconv.Atoi(portStr)
	p, err := startProcess("redis-server", r.dir, r.command(port))
	if err != nil {
		t.Fatalf("testenv: restart redis-server: %v", err)
	}
	if err := p.waitReady(15*time.Second, func() error { return redisReady(p, port) }); err != nil {
		p.Kill()
		t.Fatalf("testenv: restart redis-server on %s: %v", r.Addr, err)
	}
	p.ownedBy(t)
	r.Process = p
}

func (r *RedisServer) command(port int) *exec.Cmd {
	return exec.Command(r.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no",
		"--dir", r.dir, "--protected-mode", "yes")
}

// redisReady reports whether the server on port answers and is p (not
// another server that took the port first).
func redisReady(p *Process, port int) error {
	c := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("127.0.0.1:%d", port),
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		MaxRetries: -1,
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := c.InfoMap(ctx, "server").Result()
	if err != nil {
		return err
	}
	if pid := info["Server"]["process_id"]; pid != strconv.Itoa(p.Pid()) {
		return fmt.Errorf("port %d is served by redis pid %s, not ours (%d)", port, pid, p.Pid())
	}
	return nil
}
