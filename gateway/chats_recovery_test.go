package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store/storetest"
)

// messageIDs decodes the "message" events of an inbox, in order, and the
// `recovered` event's position (-1 when absent).
// recoveredEvent is the "recovered" event as the tests decode it.
type recoveredEvent struct {
	Count         int    `json:"count"`
	LastMessageID string `json:"lastMessageId"`
	Complete      bool   `json:"complete"`
}

func messageIDs(t *testing.T, evs []jsEvent) (ids []string, recoveredAt int, rec recoveredEvent) {
	t.Helper()
	recoveredAt = -1
	for _, e := range evs {
		switch e.Event {
		case "message":
			var m wireMessage
			if err := json.Unmarshal(e.Args[0], &m); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		case "recovered":
			recoveredAt = len(ids)
			if err := json.Unmarshal(e.Args[0], &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids, recoveredAt, rec
}

// TestRecovery_MissedMessages is issue 4 acceptance 5: a client that
// reconnects with the id of the last message it saw gets what it missed in
// its chats, in order, without duplicates, then live traffic.
func TestRecovery_MissedMessages(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		e := newChatEnv(t, chatEnvConfig{dialect: dialect})
		x := e.chat(t, "alice", "bob")
		y := e.chat(t, "alice", "bob")
		other := e.chat(t, "alice") // bob is not a member: never replayed to him
		js := startJS(t, e.URL)
		alice := mintToken(t, "alice", time.Hour)
		bob := mintToken(t, "bob", time.Hour)

		js.mustConnect("alice", "/chat", authOpts(alice))
		js.mustConnect("bob", "/chat", authOpts(bob))
		js.emit("bob", "join", map[string]any{"chatId": x.ID})
		send := func(chatID, content string) string {
			t.Helper()
			var ack wireSendAck
			js.emit("alice", "chat message", map[string]any{"chatId": chatID, "content": content}).arg(t, 0, &ack)
			if !ack.Success {
				t.Fatalf("send %s: %+v", content, ack)
			}
			return ack.Message.ID
		}
		seen := send(x.ID, "m1")
		js.expect("bob", "message")
		js.disconnect("bob")

		var missed []string
		missed = append(missed, send(x.ID, "m2"))
		send(other.ID, "secret")
		missed = append(missed, send(y.ID, "m3"))
		missed = append(missed, send(x.ID, "m4"))

		js.mustConnect("bob2", "/chat", map[string]any{"auth": map[string]any{"token": bob, "lastMessageId": seen}})
		js.expect("bob2", "recovered")
		live := send(y.ID, "m5")          // joined to y by the recovery, no join needed
		js.absent("bob2", "nothing", 300) // let m5 (and any duplicate) arrive
		// expect consumed "recovered" only: the inbox holds the replay, then m5.
		if ids, _, _ := messageIDs(t, js.drain("bob2")); fmt.Sprint(ids) != fmt.Sprint(append(append([]string{}, missed...), live)) {
			t.Errorf("bob2 got %v, want %v then %s", ids, missed, live)
		}

		// Another reconnect from the same point gets m5 from the store too.
		js.mustConnect("bob3", "/chat", map[string]any{"auth": map[string]any{"token": bob, "lastMessageId": seen}})
		js.expect("bob3", "recovered")
		js.absent("bob3", "nothing", 200)
		all := append(append([]string{}, missed...), live)
		js.mustConnect("bob4", "/chat", map[string]any{"auth": map[string]any{"token": bob, "lastMessageId": seen}})
		var rec recoveredEvent
		js.expect("bob4", "recovered").arg(t, 0, &rec)
		if rec != (recoveredEvent{Count: len(all), LastMessageID: live, Complete: true}) {
			t.Errorf("recovered = %+v, want count %d last %s", rec, len(all), live)
		}
		if ids, _, _ := messageIDs(t, js.drain("bob3")); fmt.Sprint(ids) != fmt.Sprint(all) {
			t.Errorf("replayed %v, want %v", ids, all)
		}
	})
}

// TestRecovery_ConcurrentSends: messages sent while a client recovers reach
// it exactly once each, in order (the hand-over from replay to live).
func TestRecovery_ConcurrentSends(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	x := e.chat(t, "alice", "bob")
	js := startJS(t, e.URL)
	js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	var first wireSendAck
	js.emit("alice", "chat message", map[string]any{"chatId": x.ID, "content": "start"}).arg(t, 0, &first)

	const n = 60
	for i := range n { // no waiting for acks: they race the reconnect below
		js.do(map[string]any{"op": "emit", "c": "alice", "event": "chat message",
			"args": []any{map[string]any{"chatId": x.ID, "content": fmt.Sprint(i)}}})
	}
	js.mustConnect("bob", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "bob", time.Hour), "lastMessageId": first.Message.ID}})
	testenv.WaitFor(t, 10*time.Second, func() error {
		msgs, err := e.st.MessagesAfter(t.Context(), x.ID, first.Message.ID, 200)
		if err != nil || len(msgs) < n {
			return fmt.Errorf("%d stored, %v", len(msgs), err)
		}
		return nil
	})
	js.absent("bob", "nothing", 500) // let the last broadcasts arrive
	msgs, err := e.st.MessagesAfter(t.Context(), x.ID, first.Message.ID, 200)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range msgs {
		want = append(want, m.ID)
	}
	ids, at, rec := messageIDs(t, js.drain("bob"))
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("bob got %d messages %v\nwant %d %v", len(ids), ids, len(want), want)
	}
	if at < 0 || at != rec.Count {
		t.Errorf("recovered after %d messages, count %d", at, rec.Count)
	}
}

// TestRecovery_BadLastMessageID: a malformed id is reported, the socket
// stays connected and joined to its chats.
func TestRecovery_BadLastMessageID(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	x := e.chat(t, "alice", "bob")
	js := startJS(t, e.URL)
	js.mustConnect("bob", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "bob", time.Hour), "lastMessageId": "not-an-id"}})
	var ex exception
	js.expect("bob", "exception").arg(t, 0, &ex)
	if ex.Message != "auth.lastMessageId is not a message id." {
		t.Errorf("exception = %+v", ex)
	}
	var rec recoveredEvent
	js.expect("bob", "recovered").arg(t, 0, &rec)
	if rec != (recoveredEvent{LastMessageID: "not-an-id"}) {
		t.Errorf("recovered = %+v", rec)
	}
	js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	js.emit("alice", "chat message", map[string]any{"chatId": x.ID, "content": "hi"})
	js.expect("bob", "message")
}

// TestRecovery_Sync: the pull variant acks the missed messages in order.
func TestRecovery_Sync(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	x := e.chat(t, "alice", "bob")
	js := startJS(t, e.URL)
	js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	var ids []string
	for i := range 3 {
		var ack wireSendAck
		js.emit("alice", "chat message", map[string]any{"chatId": x.ID, "content": fmt.Sprint(i)}).arg(t, 0, &ack)
		ids = append(ids, ack.Message.ID)
	}
	js.mustConnect("bob", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
	var rep struct {
		Success  bool          `json:"success"`
		Messages []wireMessage `json:"messages"`
		Complete bool          `json:"complete"`
	}
	js.emit("bob", "sync", map[string]any{"lastMessageId": ids[0]}).arg(t, 0, &rep)
	if !rep.Success || !rep.Complete || len(rep.Messages) != 2 || rep.Messages[0].ID != ids[1] || rep.Messages[1].ID != ids[2] ||
		rep.Messages[0].Sender.FullName != "alice Name" {
		t.Errorf("sync = %+v", rep)
	}
	ackFailed(t, js.emit("bob", "sync", map[string]any{"lastMessageId": "bogus"}), event.CodeInvalidPayload)
}

// TestRecovery_ReplayCountsAgainstSync: a reconnect's replay reads history
// under the user's "/chat:sync" budget, so re-CONNECTs with lastMessageId
// cannot read more than `sync` may: with 2 pages a minute, the third
// reconnect gets rate_limited and recovered {complete:false} with nothing
// replayed, and `sync` is refused from the same budget.
func TestRecovery_ReplayCountsAgainstSync(t *testing.T) {
	rules := map[string]ratelimit.Rule{"/chat:sync": {Limit: 2, Period: time.Hour}}
	e := newChatEnv(t, chatEnvConfig{rules: rules})
	x := e.chat(t, "alice", "bob")
	js := startJS(t, e.URL)
	js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	var first, second wireSendAck
	js.emit("alice", "chat message", map[string]any{"chatId": x.ID, "content": "1"}).arg(t, 0, &first)
	js.emit("alice", "chat message", map[string]any{"chatId": x.ID, "content": "2"}).arg(t, 0, &second)

	bob := mintToken(t, "bob", time.Hour)
	for i, name := range []string{"bob1", "bob2"} {
		js.mustConnect(name, "/chat", map[string]any{"auth": map[string]any{"token": bob, "lastMessageId": first.Message.ID}})
		var rec recoveredEvent
		js.expect(name, "recovered").arg(t, 0, &rec)
		if rec != (recoveredEvent{Count: 1, LastMessageID: second.Message.ID, Complete: true}) {
			t.Fatalf("reconnect %d: recovered = %+v", i+1, rec)
		}
	}
	js.mustConnect("bob3", "/chat", map[string]any{"auth": map[string]any{"token": bob, "lastMessageId": first.Message.ID}})
	var ex exception
	js.expect("bob3", "exception").arg(t, 0, &ex)
	if ex.Status != "error" || !strings.HasPrefix(ex.Message, "Too many requests") {
		t.Errorf("exception = %+v, want rate_limited", ex)
	}
	var rec recoveredEvent
	js.expect("bob3", "recovered").arg(t, 0, &rec)
	if rec != (recoveredEvent{LastMessageID: first.Message.ID}) {
		t.Errorf("recovered = %+v, want nothing replayed, incomplete", rec)
	}
	if ids, _, _ := messageIDs(t, js.drain("bob3")); len(ids) != 0 {
		t.Errorf("bob3 was replayed %v past the limit", ids)
	}
	ackFailed(t, js.emit("bob3", "sync", map[string]any{"lastMessageId": first.Message.ID}), event.CodeRateLimited)
}
