package chats

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
)

// Missed messages on reconnect (SPEC §3; issue 4 acceptance 5).
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
//  1. joins the socket to the room of every chat of its user (archived
//     ones included) — a reconnecting client was in its chats, and joining
//     first is what makes the hand-over to live traffic gapless — and to
//     recoveringRoom, which live "message" broadcasts exclude;
//  2. replays store.MissedMessages (every message of those chats with a
//     greater id, in id order) as ordinary "message" events, page by page;
//  3. takes the send lock exclusively (no commit-and-broadcast of this
//     instance in flight), replays what was committed meanwhile, and
//     leaves recoveringRoom — from then on live broadcasts reach it;
//  4. emits `recovered {count, lastMessageId, complete}`: count messages
//     replayed, lastMessageId the newest one (or the one presented), and
//     complete false when more than the replay cap (Config.MaxReplay,
//     default 1000) were missed — the client then pages the rest over REST
//     (GET /chats/:id/messages?after=).
//
// A message committed and broadcast by this instance reaches the socket
// exactly once: live if it was broadcast after step 3, else from the store
// (step 2 or 3). The replay is in id order, before any live message.
// Limits, documented rather than hidden: with several instances, a send on
// another instance is not ordered by this instance's lock, so a message it
// commits during step 3 may arrive twice (replayed and live) — clients
// should ignore a message id they already have; and MissedMessages compares
// ids across chats (see its caveat), so a message committed in another
// chat with an older id than the last one replayed in step 2 (PostgreSQL,
// concurrent commits in the same millisecond) is not replayed.
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
// auth.lastMessageId (see above). It runs on c's worker before any event.
func (ch *Chats) recover(ctx context.Context, c *event.Client, id auth.Identity) {
	since := lastMessageID(c.Socket().Handshake().Auth)
	if since == "" {
		return
	}
	r := &replay{ch: ch, c: c, userID: id.ID, users: newRESTUsers(ch.st), done: recoveredEvent{LastMessageID: since}}
	if err := r.run(ctx); err != nil {
		c.Socket().Leave(recoveringRoom)
		if errors.Is(err, store.ErrInvalid) {
			err = event.Refuse(errBadLastMessageID, err)
		}
		c.Fail(storeErr(err))
		c.Emit("recovered", r.done)
		return
	}
	c.Emit("recovered", r.done)
	c.Logger().Debug("recovered missed messages", "count", r.done.Count, "complete", r.done.Complete)
}

// replay is one socket's recovery in progress.
type replay struct {
	ch     *Chats
	c      *event.Client
	userID string
	users  *restUsers
	done   recoveredEvent
}

// run is steps 1-3: join, replay, then replay again under the send lock and
// go live.
func (r *replay) run(ctx context.Context) error {
	if err := validID("lastMessageId", r.done.LastMessageID); err != nil {
		return event.Refuse(errBadLastMessageID, err)
	}
	if err := r.join(ctx); err != nil {
		return err
	}
	if err := r.all(ctx); err != nil {
		return err
	}
	r.ch.sendMu.Lock()
	defer r.ch.sendMu.Unlock()
	if err := r.all(ctx); err != nil {
		return err
	}
	r.c.Socket().Leave(recoveringRoom)
	r.done.Complete = r.done.Count < r.ch.maxReplay
	return nil
}

// join puts the socket in the room of every chat of its user, and in
// recoveringRoom.
func (r *replay) join(ctx context.Context) error {
	chatIDs, err := r.ch.st.ChatIDsForUser(ctx, r.userID)
	if err != nil {
		return err
	}
	rooms := make([]string, 0, len(chatIDs)+1)
	for _, cid := range chatIDs {
		rooms = append(rooms, chatRoom(cid))
	}
	r.c.Socket().Join(append(rooms, recoveringRoom)...)
	return nil
}

// all replays pages until the store has no more or the cap is reached.
func (r *replay) all(ctx context.Context) error {
	for more := true; more; {
		var err error
		if more, err = r.page(ctx); err != nil {
			return err
		}
	}
	return nil
}

// page sends one page; more reports whether a full page came back.
func (r *replay) page(ctx context.Context) (more bool, err error) {
	limit := min(store.MaxLimit, r.ch.maxReplay-r.done.Count)
	if limit <= 0 || !r.c.Socket().Connected() {
		return false, nil // cap reached, or nobody left to replay to
	}
	msgs, err := r.ch.st.MissedMessages(ctx, r.userID, r.done.LastMessageID, limit)
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		u, err := r.users.get(ctx, m.SenderID)
		if err != nil {
			return false, err
		}
		r.c.Emit("message", restMessageOf(m, u))
		r.done.LastMessageID = m.ID
		r.done.Count++
	}
	return len(msgs) == limit, nil
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
