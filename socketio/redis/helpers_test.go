package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/internal/sioclient"
)

// node is one sockgate server of a test cluster.
type node struct {
	srv *socketio.Server
	url string // .../socket.io/
	rdb goredis.UniversalClient
}

// adapter returns the Redis adapter of namespace ns.
func (n *node) adapter(ns string) *Adapter {
	if a, ok := n.srv.Of(ns).Adapter().(*StreamsAdapter); ok {
		return a.Adapter
	}
	return n.srv.Of(ns).Adapter().(*Adapter)
}

// testConfig is the adapter configuration of the tests: short timeouts.
func testConfig() Config {
	return Config{RequestsTimeout: 2 * time.Second, PublishTimeout: time.Second}
}

// startNode starts a sockgate server whose adapters use r. Its sockets
// join the rooms listed in their auth payload ({"rooms": [...]}) and
// their data is {"name": auth.name}.
func startNode(t *testing.T, r *testenv.RedisServer, cfg Config, namespaces ...string) *node {
	t.Helper()
	return startNodeOn(t, r.Client(t), cfg, namespaces...)
}

// startNodeOn is startNode on any client (a cluster's).
func startNodeOn(t *testing.T, rdb goredis.UniversalClient, cfg Config, namespaces ...string) *node {
	t.Helper()
	srv, err := socketio.Open(socketio.Config{Adapter: NewAdapter(rdb, cfg), AckTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{"/"}, namespaces...) {
		ns, err := srv.OfErr(name)
		if err != nil {
			t.Fatal(err)
		}
		ns.OnConnection(joinFromAuth)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &node{srv: srv, url: hs.URL + "/socket.io/", rdb: rdb}
}

func joinFromAuth(s *socketio.Socket) {
	var auth struct {
		Rooms []string `json:"rooms"`
		Name  string   `json:"name"`
	}
	_ = json.Unmarshal(s.Handshake().Auth, &auth)
	s.Join(auth.Rooms...)
	if auth.Name != "" {
		s.SetData(map[string]string{"name": auth.Name})
	}
}

// client is a test client connected to one namespace of one node.
type client struct {
	*sioclient.Client
	id string
	ns string
}

func connect(t *testing.T, n *node, ns, name string, rooms ...string) *client {
	t.Helper()
	ctx := testCtx(t)
	c, err := sioclient.Dial(ctx, n.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := c.Connect(ctx, ns, map[string]any{"rooms": rooms, "name": name})
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{Client: c, id: id, ns: ns}
	// Wait until OnConnection has joined this socket to its rooms on its
	// server (its own membership: a room another socket is already in has
	// a size before this one joins), and (sharded dynamic mode) for the
	// rooms' subscriptions.
	testenv.WaitFor(t, 2*time.Second, func() error {
		in := n.srv.Of(ns).Adapter().SocketRooms(id)
		for _, r := range rooms {
			if !slices.Contains(in, r) {
				return fmt.Errorf("%s not in room %s yet (in %v)", id, r, in)
			}
		}
		return roomsSubscribed(n.adapter(ns), rooms)
	})
	return cl
}

// roomsSubscribed reports whether a sharded adapter in a dynamic mode has
// subscribed the channels of rooms (always nil in the other modes).
func roomsSubscribed(a *Adapter, rooms []string) error {
	s, ok := a.w.(*sharded)
	if !ok || s.mode == SubscribeStatic {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rooms {
		if s.subs[s.mainCh+r+"#"] == nil {
			return fmt.Errorf("room channel of %s not subscribed yet", r)
		}
	}
	return nil
}

// deployment starts sockgate servers on one Redis deployment: a private
// redis-server (classic mode) or a private Redis Cluster (sharded mode).
type deployment struct {
	mode Mode
	// start starts a server; servers started under one test share their
	// channels (the key prefix is the test's name).
	start func(t *testing.T, cfg Config) *node
	// mute subscribes a connection that counts as a server for a but
	// never answers.
	mute func(t *testing.T, a *Adapter)
	// urls are the redis:// URLs of the server or of the cluster's nodes.
	urls []string
}

// servers starts n servers with cfg and waits until they count each other.
func (d deployment) servers(t *testing.T, cfg Config, n int) []*node {
	t.Helper()
	var out []*node
	for range n {
		out = append(out, d.start(t, cfg))
	}
	waitServers(t, "/", n, out...)
	return out
}

func classicDeployment(t *testing.T) deployment {
	r := testenv.StartRedisServer(t)
	return deployment{
		mode:  ModeClassic,
		urls:  []string{r.URL()},
		start: func(t *testing.T, cfg Config) *node { return startNode(t, r, cfg) },
		mute: func(t *testing.T, a *Adapter) {
			muteOn(t, r.Client(t).Subscribe(context.Background(), a.w.(*classic).requestCh))
		},
	}
}

func shardedDeployment(t *testing.T) deployment {
	c := testenv.StartRedisCluster(t)
	var urls []string
	for _, a := range c.Addrs {
		urls = append(urls, "redis://"+a)
	}
	return deployment{
		mode: ModeSharded,
		urls: urls,
		start: func(t *testing.T, cfg Config) *node {
			cfg.Mode = ModeSharded
			if cfg.Key == "" {
				cfg.Key = t.Name()
			}
			return startNodeOn(t, c.Client(t), cfg)
		},
		mute: func(t *testing.T, a *Adapter) {
			muteOn(t, c.Client(t).SSubscribe(context.Background(), a.w.(*sharded).mainCh))
		},
	}
}

func muteOn(t *testing.T, ps *goredis.PubSub) {
	t.Helper()
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil { // the confirmation
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expect reads the client's next event: it must be event with the JSON
// arguments want (joined by commas).
func (c *client) expect(t *testing.T, event, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, name, args, err := c.NextEvent(ctx, c.ns)
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v", c.id, event, err)
	}
	got := make([]string, len(args))
	for i, a := range args {
		got[i] = string(a)
	}
	if name != event || strings.Join(got, ",") != want {
		t.Fatalf("%s: got %s(%s), want %s(%s)", c.id, name, strings.Join(got, ","), event, want)
	}
}

// waitServers waits until every adapter of ns counts n servers.
func waitServers(t *testing.T, ns string, n int, nodes ...*node) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		for _, nd := range nodes {
			got, err := nd.adapter(ns).ServerCount(context.Background())
			if err != nil || got != n {
				return fmt.Errorf("server count %d (%v), want %d", got, err, n)
			}
		}
		return nil
	})
}
