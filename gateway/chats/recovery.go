package chats

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
)

// Missed messages on reconnect (SPEC §3; issue 4 acceptance 5, issue 9
// item 2).
//
// Mechanism: a client that reconnects to "/chat" puts the id of the last
// message it saw in its handshake auth, next to the token:
//
//	io(url + "/chat", { auth: { token, lastMessageId } })
//
// (socket.io-client resends the auth object on every reconnection; an app
// keeps it current with `socket.auth.lastMessageId = msg.id`, or passes
// auth as a function). For an authenticated socket that presents one, the
// server, before any event of that socket is handled:
//
//  1. registers the socket as recovering in each chat of its user
//     (archived ones included) and, at the same instant, joins it to those
//     chats' rooms and to recoveringRoom, which live "message" emits
//     exclude: from then on every live message of those chats delivered on
//     this instance (its own commits and other instances', live.go) is
//     buffered for the socket instead;
//  2. replays store.MissedMessages (every message of those chats with a
//     greater id, in id order) as ordinary "message" events, page by page,
//     remembering the greatest seq sent per chat;
//  3. sends the buffered live messages whose seq is greater than that
//     (seq dedupe), then, under recovering's lock taken exclusively for no
//     more than that last drain (no I/O), leaves recoveringRoom: later live
//     messages reach it as they reach everyone;
//  4. emits `recovered {count, lastMessageId, complete}`: count messages
//     sent, lastMessageId the newest one (or the one presented), and
//     complete false when more than the replay cap (Config.MaxReplay,
//     default 1000) were missed or buffered — the client then pages the
//     rest over REST (GET /chats/:id/messages?after=).
//
// Every message of the user's chats reaches the socket exactly once: one
// committed before step 1 is in the store when step 2 reads it (its live
// emit, if it happened before step 1, did not reach the socket; if after,
// it was buffered and is dropped by the seq dedupe; if after step 3, as a
// message its line held or its sender had not pushed yet, the line skips
// the socket: finish tells it how far the replay went, live.go); one
// committed later is emitted live after step 1, so buffered (before step
// 3) or live (after).
// No lock is shared with senders beyond a read lock held for an in-memory
// emit: a reconnect never waits for a send nor a send for a store read of
// a reconnect, and it holds across instances, since other instances'
// messages reach the buffer through the same sequencer. Within a chat the
// socket gets messages in seq order. Limits: MissedMessages compares ids
// across chats (see its caveat), so a message committed in another chat
// with an older id than the last one replayed in step 2 (PostgreSQL,
// concurrent commits in the same millisecond) is not replayed; and
// complete false means messages were skipped, which REST pages from
// lastMessageId (some may then repeat: ignore ids you have).
//
// Pull variant: `sync {lastMessageId}` acks {success:true, messages:[...],
// complete} with at most store.MaxLimit (200) missed messages in id order;
// complete is false when more remain (call again with the last id). It
// joins no room and takes no lock: a client using it while live traffic
// flows must ignore message ids it already has.
//
// An unknown or malformed lastMessageId, or a store failure, is reported
// with an `exception` event (`invalid_payload` / `unavailable` message) and
// `recovered {complete:false}`; the socket stays connected and joined.

// syncRule rate-limits the pages of missed messages a user reads: each
// `sync` event, and each page (store.MaxLimit messages) of a reconnect's
// replay, so that re-CONNECTs with lastMessageId (allowed by "nsconnect")
// cannot read more history than `sync` may. A replay refused by it stops
// with an `exception` (rate_limited, with its retry time) and `recovered
// {complete:false}`; the client pages the rest over REST or later.
const syncRule = "/chat:sync"

// recoveringRoom holds the "/chat" sockets that are replaying missed
// messages; live message broadcasts skip it.
const recoveringRoom = "sockgate:recovering"

// recoveredEvent ends a replay.
type recoveredEvent struct {
	Count         int    `json:"count"`
	LastMessageID string `json:"lastMessageId"`
	Complete      bool   `json:"complete"`
}

// lastMessageID reads auth.lastMessageId from a handshake ("" when absent
// or not a string).
func lastMessageID(hsAuth json.RawMessage) string {
	if len(hsAuth) == 0 {
		return ""
	}
	var a struct {
		LastMessageID json.RawMessage `json:"lastMessageId"`
	}
	if json.Unmarshal(hsAuth, &a) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(a.LastMessageID, &id) != nil {
		return ""
	}
	return id
}

// recover replays what c's user missed since the handshake's
// auth.lastMessageId, since (see above), in chatIDs, the user's chats (or
// listErr, the failure to read them), pacing its steps with pace. It runs
// on c's worker before any event.
func (ch *Chats) recover(ctx context.Context, c *event.Client, pace *event.Pacer, id auth.Identity, since string, chatIDs []string, listErr error) {
	r := &replay{ch: ch, c: c, pace: pace, userID: id.ID, users: newRESTUsers(ch.st),
		sent: map[string]int64{}, done: recoveredEvent{LastMessageID: since}}
	err := r.run(ctx, chatIDs, listErr)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			err = event.Refuse(errBadLastMessageID, err)
		}
		c.Fail(storeErr(err))
		r.done.Complete = false
	}
	r.finish()
	c.Logger().Debug("recovered missed messages", "count", r.done.Count, "complete", r.done.Complete, "err", err)
}

// recovering is the registry of the replays in progress on this instance,
// by chat: the sequencer hands them the live messages of their chats.
type recovering struct {
	mu     sync.RWMutex
	byChat map[string]map[*replay]struct{}
}

// replay is one socket's recovery in progress.
type replay struct {
	ch     *Chats
	c      *event.Client
	pace   *event.Pacer
	userID string
	users  *restUsers
	done   recoveredEvent
	chats  []string
	// sent is the greatest seq sent per chat (the dedupe of buffered
	// messages against the store's); only the replay's goroutine uses it.
	sent map[string]int64

	// mu guards buf and overflow, filled by the sequencer.
	mu       sync.Mutex
	buf      []liveMsg
	overflow bool
}

// buffer keeps a live message for the replay (called under rec.mu's read
// lock by the sequencer).
func (r *replay) buffer(m liveMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) >= r.ch.maxReplay {
		r.overflow = true
		return
	}
	r.buf = append(r.buf, m)
}

// run is steps 1-3 but the last drain (finish).
func (r *replay) run(ctx context.Context, chatIDs []string, listErr error) error {
	if err := validID("lastMessageId", r.done.LastMessageID); err != nil {
		return event.Refuse(errBadLastMessageID, err)
	}
	if listErr != nil {
		return listErr
	}
	r.register(chatIDs)
	if err := r.all(ctx); err != nil {
		return err
	}
	r.done.Complete = r.done.Count < r.ch.maxReplay
	for r.drain() > 0 {
	}
	return nil
}

// register is step 1: the socket joins its chats' rooms and
// recoveringRoom, registered in recovering in the same critical section.
func (r *replay) register(chatIDs []string) {
	rooms := make([]string, 0, len(chatIDs)+1)
	for _, cid := range chatIDs {
		rooms = append(rooms, chatRoom(cid))
	}
	rec := &r.ch.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, cid := range chatIDs {
		if rec.byChat[cid] == nil {
			rec.byChat[cid] = map[*replay]struct{}{}
		}
		rec.byChat[cid][r] = struct{}{}
	}
	r.chats = chatIDs
	r.c.Socket().Join(append(rooms, recoveringRoom)...)
}

// drain sends the buffered messages the store replay did not, and returns
// how many it took from the buffer.
func (r *replay) drain() int {
	r.mu.Lock()
	buf, overflow := r.buf, r.overflow
	r.buf = nil
	r.mu.Unlock()
	if overflow {
		r.done.Complete = false
	}
	for _, m := range buf {
		r.send(m.ChatID, m.Seq, m.ID, m.Message)
	}
	return len(buf)
}

// finish is the end of step 3 and step 4: the last drain, `recovered`,
// and the socket's leaving recoveringRoom, with no live emit in between
// (rec.mu exclusively), so `recovered` separates the replay from live
// traffic.
func (r *replay) finish() {
	// Before going live: what the store gave may still be on its way live
	// (live.go); not under rec.mu, which emits take inside a line's lock.
	for chatID, seq := range r.sent {
		r.ch.seq.seen(chatID, r.c.ID(), seq)
	}
	rec := &r.ch.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r.drain()
	r.c.Emit("recovered", r.done)
	r.c.Socket().Leave(recoveringRoom)
	for _, cid := range r.chats {
		delete(rec.byChat[cid], r)
		if len(rec.byChat[cid]) == 0 {
			delete(rec.byChat, cid)
		}
	}
}

// send emits one message unless a message of its chat with this seq or a
// greater one was sent.
func (r *replay) send(chatID string, seq int64, id string, msg any) {
	if seq <= r.sent[chatID] {
		return
	}
	r.sent[chatID] = seq
	r.pace.Yield()
	r.c.Emit("message", msg)
	r.done.Count++
	if id > r.done.LastMessageID {
		r.done.LastMessageID = id
	}
}

// all replays pages until the store has no more or the cap is reached.
func (r *replay) all(ctx context.Context) error {
	for after, more := r.done.LastMessageID, true; more; {
		var err error
		if after, more, err = r.page(ctx, after); err != nil {
			return err
		}
	}
	return nil
}

// page sends one page of messages after id after; it returns the last id
// of the page and whether a full page came back.
func (r *replay) page(ctx context.Context, after string) (last string, more bool, err error) {
	limit := min(store.MaxLimit, r.ch.maxReplay-r.done.Count)
	if limit <= 0 || !r.c.Socket().Connected() {
		return after, false, nil // cap reached, or nobody left to replay to
	}
	if _, err := r.ch.n.Pipeline().Allow(ctx, syncRule, ratelimit.Key(r.userID, "")); err != nil {
		r.ch.n.Pipeline().LogRefusal("replay:"+r.userID, "reconnect replay refused by its rate limit", "user_id", r.userID, "rule", syncRule, "err", err)
		return after, false, err
	}
	r.pace.Yield()
	msgs, err := r.ch.st.MissedMessages(ctx, r.userID, after, limit)
	if err != nil {
		return after, false, err
	}
	for _, m := range msgs {
		u, err := r.users.get(ctx, m.SenderID)
		if err != nil {
			return after, false, err
		}
		r.send(m.ChatID, m.Seq, m.ID, restMessageOf(m, u))
		after = m.ID
	}
	return after, len(msgs) == limit, nil
}

// syncReq is the `sync` payload.
type syncReq struct {
	LastMessageID string `json:"lastMessageId"`
}

func (p syncReq) Validate() error { return validID("lastMessageId", p.LastMessageID) }

// syncReply acks `sync`.
type syncReply struct {
	Success  bool          `json:"success"`
	Messages []restMessage `json:"messages"`
	Complete bool          `json:"complete"`
}

// sync returns one page of what the user missed since req.LastMessageID.
func (ch *Chats) sync(ctx context.Context, c *event.Client, req syncReq) (syncReply, error) {
	id, err := c.User()
	if err != nil {
		return syncReply{}, err
	}
	msgs, err := ch.st.MissedMessages(ctx, id.ID, req.LastMessageID, store.MaxLimit)
	if errors.Is(err, store.ErrInvalid) {
		return syncReply{}, event.Refuse(errBadSyncID, err)
	}
	if err != nil {
		return syncReply{}, storeErr(err)
	}
	users := newRESTUsers(ch.st)
	out := syncReply{Success: true, Messages: make([]restMessage, 0, len(msgs)), Complete: len(msgs) < store.MaxLimit}
	for _, m := range msgs {
		u, err := users.get(ctx, m.SenderID)
		if err != nil {
			return syncReply{}, storeErr(err)
		}
		out.Messages = append(out.Messages, restMessageOf(m, u))
	}
	return out, nil
}
