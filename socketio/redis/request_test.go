package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

func ids(socks []socketio.SocketInfo) []string {
	out := make([]string, 0, len(socks))
	for _, s := range socks {
		out = append(out, s.ID)
	}
	sort.Strings(out)
	return out
}

func sorted(cs ...*client) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.id)
	}
	sort.Strings(out)
	return out
}

// TestAdapter_RoomOps: FetchSockets, SocketsJoin, SocketsLeave and
// DisconnectSockets from one server act on the sockets of every server.
func TestAdapter_RoomOps(t *testing.T) { testRoomOps(t, classicDeployment(t)) }

func testRoomOps(t *testing.T, d deployment) {
	nodes := d.servers(t, testConfig(), 2)
	a, b := nodes[0], nodes[1]
	a1, b1 := connect(t, a, "/", "a1", "r"), connect(t, b, "/", "b1", "r")
	b2 := connect(t, b, "/", "b2")
	io := a.srv.Of("/")
	ctx := testCtx(t)
	fetch := func(t *testing.T, room string) []socketio.SocketInfo {
		t.Helper()
		socks, err := io.In(room).FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return socks
	}
	t.Run("FetchSockets", func(t *testing.T) {
		socks := fetch(t, "r")
		if got, want := ids(socks), sorted(a1, b1); !slices.Equal(got, want) {
			t.Fatalf("fetched %v, want %v", got, want)
		}
		for _, s := range socks {
			if s.ID == b1.id {
				if !slices.Contains(s.Rooms, "r") || s.Handshake.Query.Get("EIO") != "4" || string(s.Data) != `{"name":"b1"}` ||
					!json.Valid(s.Handshake.Auth) || s.Handshake.Time.IsZero() {
					t.Fatalf("remote socket = %+v", s)
				}
			}
		}
		if socks := fetch(t, "nobody"); len(socks) != 0 {
			t.Fatalf("fetched %v from an empty room", ids(socks))
		}
	})
	t.Run("SocketsJoinLeave", func(t *testing.T) {
		if err := io.In("r").SocketsJoin(ctx, "joined"); err != nil {
			t.Fatal(err)
		}
		// Applied locally before the call returns.
		if a.srv.Of("/").Adapter().RoomSize("joined") != 1 {
			t.Fatal("local socket did not join at once")
		}
		testenv.WaitFor(t, 2*time.Second, func() error {
			if got := ids(fetch(t, "joined")); !slices.Equal(got, sorted(a1, b1)) {
				return fmt.Errorf("joined = %v", got)
			}
			return nil
		})
		if err := io.Except(a1.id).SocketsLeave(ctx, "joined"); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 2*time.Second, func() error {
			if got := ids(fetch(t, "joined")); !slices.Equal(got, sorted(a1)) {
				return fmt.Errorf("joined = %v", got)
			}
			return nil
		})
	})
	t.Run("DisconnectSockets", func(t *testing.T) {
		if err := io.In(b2.id).DisconnectSockets(ctx, false); err != nil {
			t.Fatal(err)
		}
		p, err := b2.Next(ctx)
		if err != nil || p.Type != parser.Disconnect {
			t.Fatalf("b2 got %v %v, want DISCONNECT", p, err)
		}
		testenv.WaitFor(t, 2*time.Second, func() error {
			if n := b.srv.Of("/").Len(); n != 1 {
				return fmt.Errorf("%d sockets on b", n)
			}
			return nil
		})
	})
	t.Run("AllRooms", func(t *testing.T) {
		if d.mode != ModeClassic {
			if _, err := a.adapter("/").AllRooms(ctx); !errors.Is(err, errNotSharded) {
				t.Fatalf("sharded AllRooms: %v, want errNotSharded", err)
			}
			return
		}
		rooms, err := a.adapter("/").AllRooms(ctx)
		if err != nil || !slices.Contains(rooms, "r") || !slices.Contains(rooms, b1.id) {
			t.Fatalf("all rooms = %v, %v", rooms, err)
		}
	})
}

// TestAdapter_ServerSideEmit: events with and without acks reach the other
// servers' handlers (never the sender's), and the acks come back.
func TestAdapter_ServerSideEmit(t *testing.T) { testServerSideEmit(t, classicDeployment(t)) }

func testServerSideEmit(t *testing.T, d deployment) {
	nodes := d.servers(t, testConfig(), 3)
	got := make(chan string, 10)
	for i, n := range nodes {
		n.srv.Of("/").OnServerSideEmit("hello", func(args socketio.Args, ack func(any)) {
			var s string
			_ = args.Decode(0, &s)
			got <- fmt.Sprintf("%d:%s", i, s)
			if ack != nil {
				ack(map[string]any{"from": i})
			}
		})
	}
	ctx := testCtx(t)
	t.Run("NoAck", func(t *testing.T) {
		if err := nodes[0].srv.Of("/").ServerSideEmit(ctx, "hello", "world"); err != nil {
			t.Fatal(err)
		}
		seen := []string{<-got, <-got}
		sort.Strings(seen)
		if !slices.Equal(seen, []string{"1:world", "2:world"}) {
			t.Fatalf("handlers saw %v", seen)
		}
	})
	t.Run("WithAck", func(t *testing.T) {
		replies, err := nodes[1].srv.Of("/").ServerSideEmitWithAck(ctx, "hello", "ack?")
		if err != nil {
			t.Fatal(err)
		}
		var from []string
		for _, a := range replies {
			from = append(from, string(a.Raw(0)))
		}
		sort.Strings(from)
		if !slices.Equal(from, []string{`{"from":0}`, `{"from":2}`}) {
			t.Fatalf("replies %v", from)
		}
		<-got
		<-got
	})
}

// TestAdapter_BroadcastWithAck: EmitWithAck collects the replies of every
// server's clients within the timeout, and ends at the timeout with the
// replies so far when a client does not answer.
func TestAdapter_BroadcastWithAck(t *testing.T) { testBroadcastWithAck(t, classicDeployment(t)) }

func testBroadcastWithAck(t *testing.T, d deployment) {
	nodes := d.servers(t, testConfig(), 2)
	a, b := nodes[0], nodes[1]
	clients := []*client{connect(t, a, "/", "a1", "r"), connect(t, b, "/", "b1", "r"), connect(t, b, "/", "b2", "r")}
	answer := func(c *client, reply any) {
		go func() {
			ctx := testCtx(t)
			p, _, _, err := c.NextEvent(ctx, "/")
			if err == nil && p.HasID {
				_ = c.Ack("/", p.ID, reply, "ignored second")
			}
		}()
	}
	t.Run("All", func(t *testing.T) {
		for i, c := range clients {
			answer(c, map[string]any{"n": i, "bin": []byte{byte(i)}})
		}
		replies, err := a.srv.Of("/").To("r").Timeout(3*time.Second).EmitWithAck(context.Background(), "q")
		if err != nil || len(replies) != 3 {
			t.Fatalf("%d replies, %v", len(replies), err)
		}
		var ns []int
		for _, rep := range replies {
			var v struct {
				N   int    `json:"n"`
				Bin []byte `json:"bin"`
			}
			if err := rep.Decode(0, &v); err != nil || len(v.Bin) != 1 || int(v.Bin[0]) != v.N {
				t.Fatalf("reply %s: %+v %v", rep.Raw(0), v, err)
			}
			ns = append(ns, v.N)
		}
		sort.Ints(ns)
		if !slices.Equal(ns, []int{0, 1, 2}) {
			t.Fatalf("replies from %v", ns)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		answer(clients[0], "a")
		answer(clients[1], "b") // clients[2] stays silent
		start := time.Now()
		replies, err := a.srv.Of("/").To("r").Timeout(500*time.Millisecond).EmitWithAck(context.Background(), "q")
		if !errors.Is(err, socketio.ErrAckTimeout) || len(replies) != 2 {
			t.Fatalf("%d replies, %v; want 2 and ErrAckTimeout", len(replies), err)
		}
		if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
			t.Fatalf("returned after %v, want the 500ms timeout", d)
		}
		clients[2].NextEvent(testCtx(t), "/") // the unanswered question
		// Each request id is forgotten at its broadcast's timeout (3 s for
		// the previous one), as in Node.
		testenv.WaitFor(t, 4*time.Second, func() error {
			if n := pendingAcks(a.adapter("/")); n != 0 {
				return fmt.Errorf("%d broadcast acks still pending", n)
			}
			return nil
		})
	})
}

func pendingAcks(a *Adapter) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ackReqs)
}

func pendingRequests(a *Adapter) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.requests)
}

// TestAdapter_RequestTimeout: a server that is subscribed but never
// answers makes requests fail after RequestsTimeout, leaving nothing
// pending.
func TestAdapter_RequestTimeout(t *testing.T) { testRequestTimeout(t, classicDeployment(t)) }

func testRequestTimeout(t *testing.T, d deployment) {
	cfg := testConfig()
	cfg.RequestsTimeout = 300 * time.Millisecond
	a := d.start(t, cfg)
	d.mute(t, a.adapter("/"))
	waitServers(t, "/", 2, a)
	io := a.srv.Of("/")
	ctx := testCtx(t)
	for range 3 {
		start := time.Now()
		if _, err := io.FetchSockets(ctx); !errors.Is(err, ErrTimeout) {
			t.Fatalf("FetchSockets err = %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("FetchSockets returned after %v", d)
		}
		replies, err := io.ServerSideEmitWithAck(ctx, "x")
		if !errors.Is(err, socketio.ErrAckTimeout) || len(replies) != 0 {
			t.Fatalf("ServerSideEmitWithAck = %v, %v", replies, err)
		}
		if _, err := a.adapter("/").AllRooms(ctx); d.mode == ModeClassic && !errors.Is(err, ErrTimeout) {
			t.Fatalf("AllRooms err = %v", err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := io.FetchSockets(short); !errors.Is(err, ErrTimeout) {
		t.Fatalf("FetchSockets with a short ctx: %v", err)
	}
	if n := pendingRequests(a.adapter("/")); n != 0 {
		t.Fatalf("%d requests pending after timeouts", n)
	}
	want := uint64(10) // fetch, serverSideEmit and allRooms 3 times, then fetch
	if d.mode != ModeClassic {
		want = 7 // no allRooms
	}
	if st := a.adapter("/").Stats(); st.RequestTimeouts != want {
		t.Fatalf("stats %+v, want %d request timeouts", st, want)
	}
}
