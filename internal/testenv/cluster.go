package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// ClusterConfig is how StartCluster builds the topology. Zero values are
// the defaults named on each field.
type ClusterConfig struct {
	// Instances is the number of sockgate instances; 0 means 2, as in
	// docker-compose.yml.
	Instances int
	// Env is more environment for every instance (see SockgateConfig.Env).
	Env []string
}

// Cluster is the docker-compose.yml topology without Docker, owned by one
// test: a private Redis, a throwaway PostgreSQL database, sockgate
// instances sharing both (each with its own data directory, as on separate
// hosts), and nginx running deploy/nginx.conf in front of them. Every
// process listens on loopback only and is stopped when the test ends.
type Cluster struct {
	Redis       *RedisServer
	DatabaseURL string
	JWTSecret   string
	Instances   []*Sockgate
	LB          *Nginx // the load balancer; LB.URL is the published URL
}

// StartCluster starts the topology and waits until every instance is
// ready and nginx answers. The instances start together on the same
// database (migrations serialise themselves) and trust nginx's
// X-Forwarded-For (-trusted-proxies 127.0.0.1). PostgreSQL, Redis's and
// nginx's binaries, or Go, missing: the test is Unavailable.
func StartCluster(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	if cfg.Instances == 0 {
		cfg.Instances = 2
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	c := &Cluster{JWTSecret: hex.EncodeToString(b[:])}
	// Skip early, before building anything, when a service is missing.
	lookBinary(t, "nginx", "nginx")
	c.DatabaseURL = Postgres(t)
	c.Redis = StartRedisServer(t)
	SockgateBinary(t)

	env := append([]string{"SOCKGATE_TRUSTED_PROXIES=127.0.0.1"}, cfg.Env...)
	c.Instances = make([]*Sockgate, cfg.Instances)
	// All start at once, as under compose (their migrations serialise
	// themselves on the database), then each is waited for.
	for i := range c.Instances {
		c.Instances[i] = launchSockgate(t, SockgateConfig{
			Name: fmt.Sprintf("sockgate-%d", i+1), DatabaseURL: c.DatabaseURL,
			RedisURL: c.Redis.URL(), JWTSecret: c.JWTSecret, Env: env,
		})
	}
	t.Cleanup(func() { // before each instance's own (idempotent) Stop: all at once
		var wg sync.WaitGroup
		for _, s := range c.Instances {
			wg.Go(s.Stop)
		}
		wg.Wait()
	})
	for _, s := range c.Instances {
		if err := s.waitStarted(); err != nil {
			t.Fatalf("testenv: cluster: %v", err)
		}
	}

	upstreams := make([]string, len(c.Instances))
	for i, s := range c.Instances {
		upstreams[i] = s.Addr
	}
	c.LB = StartNginx(t, upstreams)
	return c
}

// Instance returns the index of the instance at upstream address addr (as
// in NginxRequest.Upstream), or -1.
func (c *Cluster) Instance(addr string) int {
	for i, s := range c.Instances {
		if s.Addr == addr {
			return i
		}
	}
	return -1
}

// SourceFor returns a loopback address (127.0.X.1) from which nginx's
// ip_hash sends every request to instance i. It finds one by asking:
// GET /healthz through nginx from each candidate, then reading in the
// access log which instance served it. Linux routes all of 127.0.0.0/8 to
// the loopback interface, so a client may bind any of them.
func (c *Cluster) SourceFor(t testing.TB, i int) string {
	t.Helper()
	for x := 0; x < 64; x++ {
		src := fmt.Sprintf("127.0.%d.1", x)
		got, err := c.InstanceFrom(src)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if got == i {
			return src
		}
	}
	t.Fatalf("testenv: no source address 127.0.0-63.1 reaches instance %d through nginx", i)
	return ""
}

// InstanceFrom returns the instance that nginx sends requests from source
// address src to, asked as SourceFor does.
func (c *Cluster) InstanceFrom(src string) (int, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	uri := "/healthz?probe=" + hex.EncodeToString(b[:])
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)},
			Timeout:   2 * time.Second,
		}).DialContext, DisableKeepAlives: true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.LB.URL+uri, nil)
	if err != nil {
		return -1, err
	}
	res, err := client.Do(req)
	if err != nil {
		return -1, fmt.Errorf("GET %s from %s: %w", uri, src, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return -1, fmt.Errorf("GET %s from %s through nginx: %s", uri, src, res.Status)
	}
	// nginx logs a request after its response: poll for the line.
	deadline := time.Now().Add(2 * time.Second)
	for {
		reqs, err := c.LB.Requests()
		if err != nil {
			return -1, err
		}
		for _, r := range reqs {
			if r.URI == uri {
				if r.Remote != src {
					return -1, fmt.Errorf("nginx saw %s from %s, not %s", uri, r.Remote, src)
				}
				if i := c.Instance(r.Upstream); i >= 0 {
					return i, nil
				}
				return -1, fmt.Errorf("nginx sent %s to %q, no instance of the cluster", uri, r.Upstream)
			}
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("%s is not in nginx's access log", uri)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
