package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/tutorial"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// shutdown shuts servers down now (their cleanup's Shutdown is then a
// no-op).
func shutdown(t *testing.T, servers ...*Server) {
	t.Helper()
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
	}
}

// TestCluster_TutorialRegistry: with Config.Redis two instances share the
// tutorial's rooms: a join on A is in B's GET /api/rooms/:room, the room
// created on A is deleted when its last member, on B, leaves, and
// Shutdown leaves nothing of either instance in Redis.
func TestCluster_TutorialRegistry(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	rc, prefix := space.Client, space.Prefix
	cfg := Config{Redis: rc, RedisPrefix: prefix, AdapterKey: prefix}
	a, b := newTestServer(t, unlimited(), cfg), newTestServer(t, unlimited(), cfg)
	onB := func(s step) step { s.Base = b.URL; return s }
	rs := run(t, a.URL,
		connect("a", "/"), onB(connect("b", "/")),
		joinAs("a", "u-a", "Alice", "room1"),
		joinAs("b", "u-b", "Bob", "room1"),
		onB(httpGet("/api/rooms/room1")),
		disconnect("a"),
		onB(httpGetWithout("/api/rooms/room1", "$id:a")),
		disconnect("b"),
		httpGetWithout("/api/rooms/room1", "$id:b"),
	)
	user := func(c, uid, name string) string {
		return fmt.Sprintf(`{"userId":%q,"userName":%q,"socketId":%q}`, uid, name, find(t, rs, c, "connect", 0).ID)
	}
	ua, ub := user("a", "u-a", "Alice"), user("b", "u-b", "Bob")
	for _, c := range []string{"a", "b"} {
		wantAck(t, find(t, rs, c, "ack", 0), `[true]`)
	}
	got := func(i int) string {
		r := find(t, rs, "", "http", i)
		return fmt.Sprint(r.Status, " ", compact(r.Body))
	}
	want(t, "B's view of the room joined on A and B", got(0), fmt.Sprintf(`200 {"name":"room1","host":%s,"users":[%s,%s]}`, ua, ua, ub))
	want(t, "B's view after A's member left", got(1), fmt.Sprintf(`200 {"name":"room1","host":%s,"users":[%s]}`, ua, ub))
	want(t, "A's view after B's member left", got(2), `404 {"statusCode":404,"message":"Not Found"}`)

	shutdown(t, a.Server, b.Server)
	if keys := space.Keys(t, ""); !slices.Equal(keys, []string{":{tutorial}:seq"}) {
		t.Errorf("keys after shutdown: %v", keys)
	}
}

// clusterChat starts an instance with stored chats on st, sharing state
// through rc.
func clusterChat(t *testing.T, st *store.Store, rc redis.UniversalClient, prefix string, mode ...string) (*Server, string) {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, v, nil, Config{Files: store.Files{Dir: t.TempDir()}, Redis: rc, RedisPrefix: prefix, AdapterKey: prefix, AdapterMode: strings.Join(mode, "")})
	if err != nil {
		t.Fatal(err)
	}
	return s, serve(t, s)
}

// membersOnline returns GET /chats/{id}/members' online flags on url.
func membersOnline(t *testing.T, url, chatID, token string) (map[string]bool, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/chats/"+chatID+"/members", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var members []struct {
		UserID string `json:"userId"`
		Online bool   `json:"online"`
	}
	if err := json.NewDecoder(res.Body).Decode(&members); err != nil {
		return nil, fmt.Errorf("members: %d: %w", res.StatusCode, err)
	}
	out := map[string]bool{}
	for _, m := range members {
		out[m.UserID] = m.Online
	}
	return out, nil
}

// TestCluster_Presence: with Config.Redis a user is online on every
// instance's REST view while they have a socket on any instance, and
// offline once their last socket anywhere has gone.
func TestCluster_Presence(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	rc, prefix := space.Client, space.Prefix
	st := storetest.Open(t, store.DialectSQLite)
	a, urlA := clusterChat(t, st, rc, prefix)
	b, urlB := clusterChat(t, st, rc, prefix)
	c, err := st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: "bob", MemberIDs: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := mintToken(t, "alice", time.Hour), mintToken(t, "bob", time.Hour)
	aliceOnline := func(url string, want bool) func() error {
		return func() error {
			on, err := membersOnline(t, url, c.ID, bob)
			if err != nil || on["alice"] != want || on["bob"] {
				return fmt.Errorf("online on %s = %v, %v; want alice %v", url, on, err, want)
			}
			return nil
		}
	}
	jsA, jsB := startJS(t, urlA), startJS(t, urlB)
	jsA.mustConnect("a1", "/chat", authOpts(alice))
	testenv.WaitFor(t, 5*time.Second, aliceOnline(urlB, true))
	jsB.mustConnect("a2", "/chat", authOpts(alice))
	jsA.disconnect("a1")
	// Once A has forgotten a1, alice is still online through a2 on B.
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := rc.HLen(context.Background(), prefix+":{presence}:user:alice").Val(); n != 1 {
			return fmt.Errorf("%d sockets", n)
		}
		return nil
	})
	if err := aliceOnline(urlA, true)(); err != nil {
		t.Error(err)
	}
	jsB.disconnect("a2")
	testenv.WaitFor(t, 5*time.Second, aliceOnline(urlA, false))

	shutdown(t, a, b)
	if keys := space.Keys(t, ""); len(keys) != 0 {
		t.Errorf("keys after shutdown: %v", keys)
	}
}

// TestNew_ClusterTTL: a TTL that a heartbeat cannot beat is refused.
func TestNew_ClusterTTL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		beat, ttl time.Duration
		ok        bool
	}{
		{"Defaults", 0, 0, true},
		{"Short", 100 * time.Millisecond, time.Second, true},
		{"TTLOnlyAboveDefault", 0, 6 * time.Second, true},
		{"TTLBelowDefaultHeartbeat", 0, 5 * time.Second, false},
		{"TTLEqualsHeartbeat", time.Second, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(nil, nil, nil, Config{ClusterHeartbeat: tc.beat, ClusterTTL: tc.ttl})
			if s != nil {
				t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			}
			if (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestCluster_AcrossInstances: with Config.Redis (the Redis adapter and the
// shared registry) the products behave as one server over two instances:
// a tutorial chat and a kick by a host on A of a user on B, /rooms member
// counts, the lobby's online users, and a stored /chat message sent on B
// to a member on A.
func TestCluster_AcrossInstances(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	rc, prefix := space.Client, space.Prefix
	acrossInstances(t, rc, prefix)
}

// TestCluster_Sharded is TestCluster_AcrossInstances on a real three-node
// Redis Cluster of the test's own, with the sharded adapter (Node's
// createShardedAdapter format) and the products' state on the cluster.
func TestCluster_Sharded(t *testing.T) {
	rc := testenv.StartRedisCluster(t).Client(t)
	acrossInstances(t, rc, "sockgate-sharded", "sharded")
}

func acrossInstances(t *testing.T, rc redis.UniversalClient, prefix string, mode ...string) {
	st := storetest.Open(t, store.DialectSQLite)
	_, urlA := clusterChat(t, st, rc, prefix, mode...)
	_, urlB := clusterChat(t, st, rc, prefix, mode...)
	jsA, jsB := startJS(t, urlA), startJS(t, urlB)
	// In the sharded adapter's dynamic mode an instance subscribes a room's
	// channel when a socket of its joins the room, asynchronously (as
	// Node's): a broadcast published before that is not seen there.
	joined := func(t *testing.T, room string, instances int64) {
		if len(mode) > 0 {
			awaitShardSubscribers(t, rc, prefix+"#/#"+room+"#", instances)
		}
	}
	t.Run("TutorialKick", func(t *testing.T) { clusterKick(t, jsA, jsB, joined) })
	t.Run("RoomsAndLobby", func(t *testing.T) { clusterRoomsAndLobby(t, jsA, jsB) })
	t.Run("StoredMessage", func(t *testing.T) { clusterStoredMessage(t, st, jsA, jsB) })
}

// awaitShardSubscribers waits until channel has n subscribers on the Redis
// Cluster (PUBSUB SHARDNUMSUB on every master; the channel's shard answers).
func awaitShardSubscribers(t *testing.T, rc redis.UniversalClient, channel string, n int64) {
	t.Helper()
	cc, ok := rc.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("sharded mode on a %T, want a cluster client", rc)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var mu sync.Mutex
		var got int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubShardNumSub(ctx, channel).Result()
			mu.Lock()
			got += m[channel]
			mu.Unlock()
			return err
		})
		if err == nil && got < n {
			err = fmt.Errorf("%s has %d subscribers, want %d", channel, got, n)
		}
		return err
	})
}

func clusterKick(t *testing.T, jsA, jsB *jsClient, joined func(t *testing.T, room string, instances int64)) {
	host := tutorial.User{UserID: "u-h", UserName: "Hana", SocketID: jsA.mustConnect("h", "/", nil).ID}
	guest := tutorial.User{UserID: "u-g", UserName: "Gus", SocketID: jsB.mustConnect("g", "/", nil).ID}
	jsA.emit("h", "join_room", tutorial.JoinRoom{User: host, RoomName: "kickroom", EventName: "join_room"})
	jsB.emit("g", "join_room", tutorial.JoinRoom{User: guest, RoomName: "kickroom", EventName: "join_room"})
	joined(t, "room:kickroom", 2) // the tutorial's Socket.IO room of "kickroom"
	jsA.emit("h", "chat", tutorial.ChatMessage{User: host, TimeSent: 1, Message: "hi Gus", RoomName: "kickroom", EventName: "chat"})
	var msg tutorial.ChatMessage
	jsB.expect("g", "chat").arg(t, 0, &msg)
	if msg.Message != "hi Gus" || msg.User != host {
		t.Fatalf("chat on B = %+v", msg)
	}
	jsA.emit("h", "kick_user", tutorial.KickUser{User: host, UserToKick: guest, RoomName: "kickroom", EventName: "kick_user"})
	var kick tutorial.KickUser
	jsB.expect("g", "kick_user").arg(t, 0, &kick)
	if kick.UserToKick != guest {
		t.Fatalf("kick_user on B = %+v", kick)
	}
	jsA.expect("h", "chat") // its own "hi Gus"
	var sys struct{ Message string }
	jsA.expect("h", "chat").arg(t, 0, &sys)
	if sys.Message != "Gus was kicked." {
		t.Fatalf("system message on A = %+v", sys)
	}
	// The kicked socket on B left the Socket.IO room before the system
	// message: it never gets it.
	jsB.absent("g", "chat", 300)
}

func clusterRoomsAndLobby(t *testing.T, jsA, jsB *jsClient) {
	jsA.mustConnect("x", "/rooms", nil)
	jsB.mustConnect("y", "/rooms", nil)
	jsA.emit("x", "joinRoom", map[string]any{"room": "r1", "username": "xena"})
	var joined struct{ Members int }
	jsB.emit("y", "joinRoom", map[string]any{"room": "r1", "username": "yan"}).arg(t, 0, &joined)
	var members struct{ MemberCount int }
	jsA.emit("x", "getRoomMembers", map[string]any{"room": "r1"}).arg(t, 0, &members)
	if joined.Members != 2 || members.MemberCount != 2 {
		t.Errorf("members across instances: join ack %d, getRoomMembers %d; want 2 and 2", joined.Members, members.MemberCount)
	}
	jsA.mustConnect("p", "/chat", nil)
	jsB.mustConnect("q", "/chat", nil)
	jsA.emit("p", "joinChat", map[string]any{"username": "pat"})
	jsB.emit("q", "joinChat", map[string]any{"username": "quinn"})
	var online struct{ Users []string }
	jsB.expect("q", "onlineUsers").arg(t, 0, &online)
	if !slices.Equal(online.Users, []string{"pat", "quinn"}) {
		t.Errorf("onlineUsers on B = %v, want [pat quinn]", online.Users)
	}
}

func clusterStoredMessage(t *testing.T, st *store.Store, jsA, jsB *jsClient) {
	c, err := st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: "carol", MemberIDs: []string{"dave"}})
	if err != nil {
		t.Fatal(err)
	}
	jsA.mustConnect("carol", "/chat", authOpts(mintToken(t, "carol", time.Hour)))
	jsB.mustConnect("dave", "/chat", authOpts(mintToken(t, "dave", time.Hour)))
	jsA.emit("carol", "join", map[string]any{"chatId": c.ID})
	jsB.emit("dave", "join", map[string]any{"chatId": c.ID})
	jsB.emit("dave", "chat message", map[string]any{"chatId": c.ID, "content": "sent on B"})
	var m struct {
		Content  string `json:"content"`
		SenderID string `json:"senderId"`
	}
	jsA.expect("carol", "message").arg(t, 0, &m)
	if m.Content != "sent on B" || m.SenderID != "dave" {
		t.Errorf("message on A = %+v", m)
	}
}

// TestCluster_SharedLimitAndRecovery: the "/:chat" limit counts a client's
// chats on every instance (the limiter's Redis store), and a client that
// reconnects to B with auth.lastMessageId gets what was sent on A while it
// was away.
func TestCluster_SharedLimitAndRecovery(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	rc, prefix := space.Client, space.Prefix
	st := storetest.Open(t, store.DialectSQLite)
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for range 2 { // each instance with a limiter of its own, on one Redis
		lim, err := ratelimit.New(ratelimit.Config{Rules: map[string]ratelimit.Rule{"/:chat": {Limit: 2, Period: time.Hour}},
			Redis: rc, Prefix: prefix + ":rl"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(st, v, lim, Config{Files: store.Files{Dir: t.TempDir()}, Redis: rc, RedisPrefix: prefix, AdapterKey: prefix})
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, serve(t, s))
	}
	jsA, jsB := startJS(t, urls[0]), startJS(t, urls[1])

	// Two chats on A, the third (same client address) on B is refused.
	for i, js := range []*jsClient{jsA, jsA, jsB} {
		c := fmt.Sprint("t", i)
		u := tutorial.User{UserID: c, UserName: c, SocketID: js.mustConnect(c, "/", nil).ID}
		js.emit(c, "join_room", tutorial.JoinRoom{User: u, RoomName: "limited", EventName: "join_room"})
		r := js.do(map[string]any{"op": "emit", "c": c, "event": "chat", "ack": true,
			"args": []any{tutorial.ChatMessage{User: u, TimeSent: 1, Message: "m", RoomName: "limited", EventName: "chat"}}})
		if i < 2 && r.Op != "ack" {
			t.Fatalf("chat %d within the limit: %s", i, r.Op)
		}
		if i == 2 {
			var ex exception
			js.expect(c, "exception").arg(t, 0, &ex)
			if !strings.HasPrefix(ex.Message, "Too many requests") {
				t.Fatalf("third chat across instances: exception %+v, want rate limited", ex)
			}
		}
	}

	c, err := st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: "erin", MemberIDs: []string{"finn"}})
	if err != nil {
		t.Fatal(err)
	}
	jsA.mustConnect("erin", "/chat", authOpts(mintToken(t, "erin", time.Hour)))
	var first struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	jsA.emit("erin", "chat message", map[string]any{"chatId": c.ID, "content": "before"}).arg(t, 0, &first)
	jsA.emit("erin", "chat message", map[string]any{"chatId": c.ID, "content": "missed on A"})
	jsB.mustConnect("finn", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "finn", time.Hour), "lastMessageId": first.Message.ID}})
	var m struct{ Content string }
	jsB.expect("finn", "message").arg(t, 0, &m)
	var rec recoveredEvent
	jsB.expect("finn", "recovered").arg(t, 0, &rec)
	if m.Content != "missed on A" || rec.Count != 1 || !rec.Complete {
		t.Errorf("recovery on B: message %q, recovered %+v; want the one sent on A", m.Content, rec)
	}
}
