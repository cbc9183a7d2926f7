package gateway

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver of the readiness test's other process

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// Issue 9 "never lose, never lie", items 2 and 3, with real socket.io
// clients.

// seqsOf returns the seqs of the "message" events of evs, in arrival order.
func seqsOf(t *testing.T, evs []jsEvent) []int64 {
	t.Helper()
	var out []int64
	for _, e := range evs {
		if e.Event != "message" {
			continue
		}
		var m wireMessage
		if err := json.Unmarshal(e.Args[0], &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Seq)
	}
	return out
}

// collect drains c's inbox until it holds n "message" events and returns
// every event drained.
func collect(t *testing.T, js *jsClient, c string, n int) []jsEvent {
	t.Helper()
	var evs []jsEvent
	testenv.WaitFor(t, 20*time.Second, func() error {
		evs = append(evs, js.drain(c)...)
		if got := len(seqsOf(t, evs)); got < n {
			return fmt.Errorf("%s has %d messages of %d", c, got, n)
		}
		return nil
	})
	return evs
}

// TestChats_LiveOrderTwoSenders: two users send at once in one chat (each a
// burst of 200 without waiting for acks); another member receives every message once, in seq (commit) order. Before
// the sequencer, broadcasts left in the order the handlers finished and the
// receiver saw inversions ("seq 277 after 291"): in every run on
// PostgreSQL, and on SQLite (whose commits the store's writer queue
// serialises) in every run under -race, one in four without.
func TestChats_LiveOrderTwoSenders(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		e := newChatEnv(t, chatEnvConfig{dialect: dialect})
		x := e.chat(t, "alice", "bob", "carol", "dave")
		js := startJS(t, e.URL)
		senders := []string{"alice", "bob"}
		for _, u := range append([]string{"carol"}, senders...) {
			js.mustConnect(u, "/chat", authOpts(mintToken(t, u, time.Hour)))
		}
		js.emit("carol", "join", map[string]any{"chatId": x.ID})
		const n = 200
		if r := js.do(map[string]any{"op": "burst", "cs": senders, "event": "chat message", "n": n,
			"arg": map[string]any{"chatId": x.ID}, "timeout": 20000}); r.Op != "sent" {
			t.Fatalf("burst: %s", r.line)
		}
		total := len(senders) * n
		seqs := seqsOf(t, collect(t, js, "carol", total))
		if len(seqs) != total {
			t.Fatalf("carol got %d messages, want %d", len(seqs), total)
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("carol's message %d has seq %d (after %v): want seqs 1..%d in order", i, s, seqs[max(0, i-3):i], total)
			}
		}
		for _, u := range senders {
			for _, a := range collectAcks(t, js, u, n) {
				if !a.Success {
					t.Fatalf("%s: failed ack %+v", u, a)
				}
			}
		}
	})
}

// taggedAck is an "ack" inbox event of emitAsync: [tag, ack].
type taggedAck struct {
	Tag     string
	Success bool
	Error   event.Error
	Message wireMessage
}

func ackOf(t *testing.T, e jsEvent) taggedAck {
	t.Helper()
	var a taggedAck
	if err := json.Unmarshal(e.Args[0], &a.Tag); err != nil {
		t.Fatal(err)
	}
	if len(e.Args) < 2 {
		t.Fatalf("ack %s without a reply", a.Tag)
	}
	var body struct {
		Success bool        `json:"success"`
		Error   event.Error `json:"error"`
		Message wireMessage `json:"message"`
	}
	if err := json.Unmarshal(e.Args[1], &body); err != nil {
		t.Fatalf("ack %s: %s: %v", a.Tag, e.Args[1], err)
	}
	a.Success, a.Error, a.Message = body.Success, body.Error, body.Message
	return a
}

// collectAcks waits for n "ack" events of c.
func collectAcks(t *testing.T, js *jsClient, c string, n int) []taggedAck {
	t.Helper()
	var acks []taggedAck
	for len(acks) < n {
		acks = append(acks, ackOf(t, jsEvent(js.expect(c, "ack").eventOf())))
	}
	return acks
}

// eventOf turns an expect reply into the event it consumed.
func (r jsReply) eventOf() jsEvent { return jsEvent{Event: "event", Args: r.Args} }

// slowCommits makes the COMMIT of a message whose content starts with
// "slow" wait for advisory lock 4242 (a deferred constraint trigger), and
// takes that lock on a connection of its own: release lets the commits
// finish.
func slowCommits(t *testing.T, dsn string) (release func()) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, q := range []string{
		`CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON messages
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.content LIKE 'slow%')
		 EXECUTE FUNCTION test_slow_commit()`,
		`SELECT pg_advisory_lock(4242)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return func() {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(4242)"); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCommitBlocked waits until a backend of dsn's database waits on an
// advisory lock (a COMMIT inside slowCommits' trigger).
func waitCommitBlocked(t *testing.T, dsn string, n int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	testenv.WaitFor(t, 10*time.Second, func() error {
		var got int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&got); err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%d commits blocked, want %d", got, n)
		}
		return nil
	})
}

// TestChats_CommitAfterDeadline: the event deadline fires while the
// message's COMMIT is in flight (a trigger makes it wait for a lock the
// test holds). The sender is answered `unavailable` at the deadline —
// before the message is even committed —, the commit completes and the
// room gets the message once, and the retry with the same clientMsgId
// returns it without a second broadcast. Before, the deadline interrupted
// the COMMIT (rolled back, or committed and never broadcast).
//
// It also checks the inbox rule: an event that waited behind the slow one
// until its own deadline passed is answered `unavailable` without running
// (nothing stored, nothing broadcast), and that a sender leaving does not
// cancel its commit in flight.
func TestChats_CommitAfterDeadline(t *testing.T) {
	const timeout = time.Second
	e := newChatEnv(t, chatEnvConfig{dialect: store.DialectPostgres, timeout: timeout})
	x := e.chat(t, "alice", "bob")
	release := slowCommits(t, e.dsn)
	js := startJS(t, e.URL)
	js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	js.mustConnect("bob", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
	js.emit("bob", "join", map[string]any{"chatId": x.ID})

	slow := map[string]any{"chatId": x.ID, "content": "slow one", "clientMsgId": "c-slow"}
	js.emitAsync("alice", "chat message", "slow", slow)
	js.emitAsync("alice", "chat message", "queued", map[string]any{"chatId": x.ID, "content": "queued", "clientMsgId": "c-queued"})
	waitCommitBlocked(t, e.dsn, 1)

	// Both deadlines (arrival + timeout, microseconds apart) pass while the
	// slow send's COMMIT is held: the slow one is answered unavailable by
	// its timer, the queued one expired, without waiting for its turn. The
	// two answers may come in either order.
	acks := map[string]taggedAck{}
	for range 2 {
		a := ackOf(t, js.expect("alice", "ack").eventOf())
		acks[a.Tag] = a
	}
	if a := acks["slow"]; a.Success || a.Error.Code != event.CodeUnavailable {
		t.Fatalf("slow ack %+v: want the slow send answered unavailable", a)
	}
	if q := acks["queued"]; q.Success || q.Error.Code != event.CodeUnavailable || q.Error.Message != event.ErrExpired.Message {
		t.Fatalf("queued ack %+v: want it expired (%q)", q, event.ErrExpired.Message)
	}
	// The answers came while the COMMIT still waits: nothing reached bob.
	if seqs := seqsOf(t, js.drain("bob")); len(seqs) != 0 {
		t.Fatalf("bob got %v before the commit", seqs)
	}
	release()

	got := js.expect("bob", "message")
	var m wireMessage
	got.arg(t, 0, &m)
	if m.Content != "slow one" || m.ClientMsgID != "c-slow" {
		t.Fatalf("bob got %+v, want the slow message", m)
	}

	var retry wireSendAck
	js.emit("alice", "chat message", slow).arg(t, 0, &retry)
	if !retry.Success || retry.Message.ID != m.ID {
		t.Fatalf("retry %+v: want the stored message %s", retry, m.ID)
	}
	js.absent("bob", "message", 300) // no second broadcast, no queued message
	if _, total, err := e.st.MessagesPage(t.Context(), x.ID, 1, 10); err != nil || total != 1 {
		t.Fatalf("stored %d messages (%v), want 1: the queued event must not have run", total, err)
	}

	// A sender that leaves while its COMMIT is in flight: the commit
	// completes and the room gets the message.
	release = relock(t, e.dsn)
	js.emitAsync("alice", "chat message", "left", map[string]any{"chatId": x.ID, "content": "slow two", "clientMsgId": "c-left"})
	waitCommitBlocked(t, e.dsn, 1)
	js.disconnect("alice")
	release()
	js.expect("bob", "message").arg(t, 0, &m)
	if m.ClientMsgID != "c-left" {
		t.Fatalf("bob got %+v, want the message of the sender who left", m)
	}
}

// relock takes advisory lock 4242 again (slowCommits' trigger waits for it).
func relock(t *testing.T, dsn string) (release func()) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_unlock(4242)"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHTTP_ReadyzStoreWrite: /readyz answers 503 with the reason while no
// write can succeed — another process holds the SQLite write lock (BEGIN
// IMMEDIATE), so SELECT 1, the old check, still answers — and 200 once the
// lock is released.
func TestHTTP_ReadyzStoreWrite(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	e.srv.cfg.ReadyChecks = map[string]func(context.Context) error{"store": e.st.Ping}
	status, _, body := httpGetJSON(t, e.URL+"/readyz")
	if status != 200 {
		t.Fatalf("readyz %d %s", status, body)
	}
	other, err := sql.Open("sqlite", e.dsn+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	status, _, body = httpGetJSON(t, e.URL+"/readyz")
	if status != 503 || !strings.Contains(body, "store unavailable (store: write probe") {
		t.Fatalf("readyz while the database is write-locked: %d %s, want 503 naming the store's write", status, body)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	status, _, body = httpGetJSON(t, e.URL+"/readyz")
	if status != 200 {
		t.Fatalf("readyz after the lock was released: %d %s", status, body)
	}
}

// TestCluster_LiveOrderAndRecovery: two instances on one PostgreSQL and
// one Redis. Senders on each burst into one chat; a member on each
// instance receives every message once in seq order (each instance's
// sequencer orders its own commits and the other's, which come by
// ServerSideEmit). Meanwhile a member reconnects to B with
// auth.lastMessageId and, without any lock shared with the senders, gets
// every message once, in order: the replay then the live ones it buffered.
func TestCluster_LiveOrderAndRecovery(t *testing.T) {
	space := testenv.NewRedisSpace(t)
	dsn := storetest.DSN(t, store.DialectPostgres)
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	var st *store.Store
	for range 2 { // a Store each, as two processes
		st = storetest.OpenConfig(t, store.Config{DSN: dsn})
		s, err := New(st, v, nil, Config{Files: store.Files{Dir: t.TempDir()}, Redis: space.Client, RedisPrefix: space.Prefix, AdapterKey: space.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, serve(t, s))
	}
	c, err := st.CreateChat(t.Context(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: "alice", MemberIDs: []string{"bob", "carol", "dave", "erin"}})
	if err != nil {
		t.Fatal(err)
	}
	jsA, jsB := startJS(t, urls[0]), startJS(t, urls[1])
	for _, u := range []string{"alice", "carol", "erin"} {
		jsA.mustConnect(u, "/chat", authOpts(mintToken(t, u, time.Hour)))
	}
	for _, u := range []string{"bob", "dave"} {
		jsB.mustConnect(u, "/chat", authOpts(mintToken(t, u, time.Hour)))
	}
	jsA.emit("carol", "join", map[string]any{"chatId": c.ID})
	jsB.emit("dave", "join", map[string]any{"chatId": c.ID})
	var first wireSendAck
	jsA.emit("erin", "chat message", map[string]any{"chatId": c.ID, "content": "first"}).arg(t, 0, &first)
	jsA.disconnect("erin")

	const n = 100
	for _, b := range []struct {
		js *jsClient
		c  string
	}{{jsA, "alice"}, {jsB, "bob"}} {
		if r := b.js.do(map[string]any{"op": "burst", "cs": []string{b.c}, "event": "chat message", "n": n,
			"arg": map[string]any{"chatId": c.ID}, "timeout": 20000}); r.Op != "sent" {
			t.Fatalf("burst: %s", r.line)
		}
	}
	jsB.mustConnect("erin", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "erin", time.Hour), "lastMessageId": first.Message.ID}})

	total := 1 + 2*n
	for _, r := range []struct {
		js *jsClient
		c  string
	}{{jsA, "carol"}, {jsB, "dave"}} {
		seqs := seqsOf(t, collect(t, r.js, r.c, total))
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("%s's message %d has seq %d (after %v): want 1..%d in order", r.c, i, s, seqs[max(0, i-3):i], total)
			}
		}
	}
	evs := collect(t, jsB, "erin", total-1)
	seqs := seqsOf(t, evs)
	for i, s := range seqs {
		if s != int64(i+2) {
			t.Fatalf("erin's message %d has seq %d (after %v): want 2..%d in order, once each", i, s, seqs[max(0, i-3):i], total)
		}
	}
	if _, at, rec := messageIDs(t, evs); at < 0 || at != rec.Count {
		t.Errorf("recovered after %d messages, count %d", at, rec.Count)
	}
}
