package chats

import (
	"context"
	"runtime"
	"time"

	"github.com/sockgate/sockgate/gateway/internal/cluster"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
)

// Stored chats on namespace "/chat" (SPEC §3; seeds chat-system-gateway.txt
// and api-with-nestjs-26): join, chat message, typing with a chatId, read
// receipts, presence, and missed messages on reconnect (recovery.go).
//
// Events, their rate-limit rules ("/chat:<event>") and acks; every failure
// is acked {success:false, error:{code, message}} plus an `exception` event
// (package event):
//
//	join {chatId}                        → room "user joined" {userId, chatId};
//	                                       ack {success:true, chatId}
//	chat message {chatId, content,       → store, then room "message" {...};
//	  attachments?, clientMsgId?}          ack {success:true, message:{...}}
//	typing {chatId, isTyping}            → room except the user's sockets:
//	                                       "typing" {chatId, userId, isTyping}; ack {success:true}
//	read {chatId, messageId}             → store, then room "read" {chatId, userId,
//	                                       messageId, readAt}; ack {success:true, read:{...}}
//	sync {lastMessageId}                 → ack {success:true, messages:[...], complete}
//	                                       (recovery.go)
//
// Messages have one shape everywhere, restMessage (views.go): the seed's
// {id, chatId, senderId, content, timestamp, attachments, sender:{id,
// fullName}} plus seq and clientMsgId.
//
// Decisions where the SPEC is silent:
//   - Every event here needs an authenticated socket (`unauthorized`
//     otherwise); anonymous sockets are not disconnected for trying, since
//     the lobby events remain theirs.
//   - join by a non-member (or for an unknown chat, which a non-member
//     cannot tell apart) is answered `forbidden` and the socket is then
//     disconnected (seed rule "disconnect unauthorized users"); the reply is
//     written before the disconnect.
//   - chat message: content is at most MaxChatContent UTF-16 units (as
//     JavaScript counts); content that is empty or only whitespace is
//     refused unless attachments are given; at most MaxChatAttachments
//     attachment ids. Non-members are `forbidden`, archived chats `conflict`
//     (the chat's state forbids the write, as the REST API answers), a
//     clientMsgId reused in another chat `conflict`, a store failure
//     `unavailable`. Nothing is broadcast unless the message was committed;
//     a message that committed is delivered to the room even when its
//     sender was answered `unavailable` (its COMMIT outlasted the event's
//     deadline: package event answers at the deadline, the store never
//     interrupts a COMMIT), and a retry with the same clientMsgId gets the
//     original message without a second broadcast. Messages of one chat
//     reach every socket in seq order (live.go). The sender need not have
//     joined the room.
//   - typing needs the socket to have joined the chat (membership is
//     checked once, at join, not per keystroke) and goes to the room except
//     every socket of the typing user.
//   - read marks never move backwards (store); marking an older message
//     acks the current mark and broadcasts nothing.
//   - presence is counted per authenticated socket of "/chat" only.

// chatRoom is the Socket.IO room of a stored chat's joined sockets.
func chatRoom(chatID string) string { return "chat:" + chatID }

// RateRules are the default limits of the stored-chat events (SPEC §7;
// the lobby seed's 10 messages per second per client for messages; typing
// shares the lobby's "/chat:typing") and of the REST API's routes.
func RateRules() map[string]ratelimit.Rule {
	r := map[string]ratelimit.Rule{
		"/chat:join":         {Limit: 30, Period: time.Minute},
		"/chat:chat message": {Limit: 10, Period: time.Second},
		"/chat:read":         {Limit: 30, Period: 10 * time.Second},
		syncRule:             {Limit: 30, Period: time.Minute},
	}
	for k, v := range apiRateRules() {
		r[k] = v
	}
	return r
}

// Config tunes Chats. Zero values select the defaults.
type Config struct {
	// MaxReplay caps the missed messages replayed to one reconnecting
	// socket (recovery.go). Zero means 1000. Keep it well below the
	// Engine.IO send queue (4096 messages), which a replay fills at once.
	MaxReplay int
	// ConnectConcurrency bounds the connection hooks of "/chat" (presence,
	// the online announcement and the replay of missed messages) running
	// at once on this instance, and as many user upserts apart (they answer
	// the CONNECT, so they must not queue behind other sockets' replays).
	// A hook waits for its slot while its socket is connected (an upsert at
	// most its own deadline) and gets the event Timeout from its admission.
	// Their store calls then hold at most this many of the store's
	// connections, so a reconnect storm does not queue hundreds of queries
	// ahead of the other sockets' sends, and each admitted hook pauses while
	// events flow (event.Pacer). Zero means half the Ps (GOMAXPROCS), at least
	// 1. It trades a storm's length for the senders' latency: bench's storm
	// (500 clients replaying 49 messages each, 20 senders in closed loop, 2
	// cores) took 3.2–3.6 s on SQLite with 1 (the senders' p99 1.45–1.49×
	// idle), and on PostgreSQL 17–26 s with 1 (1.31–1.38×), 4–5 s with 4
	// (2.0–4.4×).
	ConnectConcurrency int

	// Cluster says where presence lives: with Cluster.Redis in Redis,
	// shared by every instance (a user is online while they have a socket
	// on any instance), else in this process's memory.
	Cluster cluster.Config
}

// withDefaults applies the defaults documented on Config.
func (c Config) withDefaults() Config {
	if c.MaxReplay <= 0 {
		c.MaxReplay = 1000
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	c.Cluster = c.Cluster.WithDefaults()
	return c
}

// Chats is the stored-chat part of "/chat": its events, presence and
// recovery. The REST routes are API's.
type Chats struct {
	n    *event.Namespace
	st   *store.Store
	pres presence
	// slots admits Config.ConnectConcurrency connection hooks at a time;
	// upserts as many user upserts, apart: a CONNECT waits for the upserts
	// ahead of it, not for the replays of every reconnect before it.
	slots, upserts event.Slots
	// maxReplay caps the messages replayed to one reconnecting socket.
	maxReplay int

	// seq emits live messages in seq order per chat (live.go); rec holds
	// the sockets replaying missed messages (recovery.go).
	seq *sequencer
	rec recovering
}

// New registers the stored-chat events, presence and recovery on n
// ("/chat", StyleObject, authentication installed before). With
// cfg.Redis it starts presence's heartbeat, which Close stops.
func New(n *event.Namespace, st *store.Store, cfg Config) *Chats {
	cfg = cfg.withDefaults()
	var pres presence = newMemoryPresence()
	if cfg.Cluster.Redis != nil {
		pres = newRedisPresence(cfg.Cluster, n.Pipeline().Logger())
	}
	ch := &Chats{n: n, st: st, pres: pres, maxReplay: cfg.MaxReplay, slots: make(event.Slots, cfg.ConnectConcurrency),
		upserts: make(event.Slots, cfg.ConnectConcurrency), rec: recovering{byChat: map[string]map[*replay]struct{}{}}}
	ch.seq = newSequencer(ch.emitLive, ch.missing)
	n.IO().OnServerSideEmit(liveEvent, ch.remote)
	n.Use(ch.recordUser)
	event.On(n, "join", "/chat:join", ch.join)
	event.On(n, "chat message", "/chat:chat message", ch.send)
	event.On(n, "read", "/chat:read", ch.read)
	event.On(n, "sync", syncRule, ch.sync)
	n.OnConnect(ch.connected, false)
	n.OnDisconnect(ch.disconnected)
	return ch
}

// Close releases presence, within ctx: with Redis it stops the heartbeat
// and removes this instance's sockets (best effort: what it cannot remove
// stops counting after cluster.Config.TTL). Call it after the Socket.IO
// server has drained. Idempotent.
func (ch *Chats) Close(ctx context.Context) error {
	if c, ok := ch.pres.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}

// Disable registers the stored-chat events of a server without a store:
// each answers ErrDisabled, so a client gets a reply rather than an ack
// timeout.
func Disable(n *event.Namespace) {
	off := func(context.Context, *event.Client, struct{}) (event.OK, error) { return event.OK{}, ErrDisabled }
	for _, ev := range []string{"join", "chat message", "read", "sync"} {
		event.On(n, ev, "/chat:"+ev, off)
	}
}

// recordUser upserts the user of an authenticated socket from its token's
// claims, so that name, username and email stay current (the REST API does
// the same per write); "/" and "/rooms" cost no database write. A store
// failure is logged and does not refuse the socket: the identity is the
// token's, and events that need the store fail on their own.
func (ch *Chats) recordUser(ctx context.Context, c *event.Client) error {
	id, ok := c.Identity()
	if !ok {
		return nil
	}
	u := store.User{ID: id.ID, Name: id.Name, Username: id.Username, Email: id.Email}
	defer ch.upserts.Admit(ctx)()
	pace := ch.n.Pipeline().Pacer()
	pace.Yield()
	if err := ch.st.UpsertUser(ctx, u); err != nil {
		c.Logger().Error("recording user failed", "user_id", id.ID, "err", err)
	}
	pace.Pay() // holding the slot: the next upsert waits for the pause
	return nil
}

// ---- handlers ----

func (ch *Chats) join(ctx context.Context, c *event.Client, req joinReq) (joinReply, error) {
	id, err := c.User()
	if err != nil {
		return joinReply{}, err
	}
	ok, err := ch.st.IsMember(ctx, req.ChatID, id.ID)
	if err != nil {
		return joinReply{}, storeErr(err)
	}
	if !ok {
		return joinReply{}, event.DisconnectAfter(errJoinForbidden)
	}
	room := chatRoom(req.ChatID)
	c.Socket().Join(room)
	ch.n.Emit(ch.n.IO().To(room), "user joined", userJoinedEvent{UserID: id.ID, ChatID: req.ChatID})
	return joinReply{Success: true, ChatID: req.ChatID}, nil
}

func (ch *Chats) send(ctx context.Context, c *event.Client, req sendReq) (sendReply, error) {
	id, err := c.User()
	if err != nil {
		return sendReply{}, err
	}
	m, created, err := ch.st.CreateMessage(ctx, store.NewMessage{
		ChatID: req.ChatID, SenderID: id.ID, Content: req.Content,
		ClientMsgID: req.ClientMsgID, AttachmentIDs: req.Attachments,
	})
	if err != nil {
		return sendReply{}, storeErr(sendErr(err, len(req.Attachments) > 0))
	}
	msg := restMessageOf(m, store.User{ID: id.ID, Name: id.Name})
	if created {
		// Even past the event's deadline (the sender was told
		// unavailable): it committed, so its chat gets it; the retry
		// finds it and delivers nothing twice.
		ch.deliver(ctx, liveMsg{ChatID: m.ChatID, Seq: m.Seq, ID: m.ID, Message: msg})
	}
	return sendReply{Success: true, Message: msg}, nil
}

// Typing is "typing {chatId, isTyping}" (the wiring dispatches: without a
// chatId it is the lobby's indicator): to the chat's room except every
// socket of the typing user.
func (ch *Chats) Typing(_ context.Context, c *event.Client, chatID string, isTyping bool) (event.OK, error) {
	if err := validID("chatId", chatID); err != nil {
		return event.OK{}, err
	}
	id, err := c.User()
	if err != nil {
		return event.OK{}, err
	}
	room := chatRoom(chatID)
	if !c.InRoom(room) {
		return event.OK{}, errNotJoined
	}
	ch.n.Emit(ch.n.IO().To(room).Except(event.UserRoom(id.ID)), "typing",
		typingEvent{ChatID: chatID, UserID: id.ID, IsTyping: isTyping})
	return event.OK{Success: true}, nil
}

func (ch *Chats) read(ctx context.Context, c *event.Client, req readReq) (readReply, error) {
	id, err := c.User()
	if err != nil {
		return readReply{}, err
	}
	mark, err := ch.st.SetReadMark(ctx, req.ChatID, id.ID, req.MessageID)
	if err != nil {
		return readReply{}, storeErr(err)
	}
	ev := readEvent{ChatID: mark.ChatID, UserID: id.ID, MessageID: mark.MessageID, ReadAt: event.Time(mark.ReadAt)}
	if mark.MessageID == req.MessageID {
		ch.n.Emit(ch.n.IO().To(chatRoom(req.ChatID)), "read", ev)
	}
	return readReply{Success: true, Read: ev}, nil
}

// ---- presence ----

// connected counts an authenticated socket and announces its user online
// on their first socket, then replays what it missed (recovery.go). The
// user's chats are read once for both.
func (ch *Chats) connected(c *event.Client) {
	id, ok := c.Identity()
	if !ok || !c.Socket().Connected() {
		return
	}
	ctx, done := ch.admitted(c.Context(), ch.n.Pipeline().Timeout())
	defer done()
	if ctx.Err() != nil || !c.Socket().Connected() {
		return // it left while waiting for a slot: nothing to announce or replay
	}
	pace := ch.n.Pipeline().Pacer()
	defer pace.Pay() // before done releases the slot (deferred first)
	first, err := ch.pres.Connect(ctx, id.ID, c.ID())
	if err != nil {
		c.Logger().Error("presence connect failed", "user_id", id.ID, "err", err)
	}
	since := lastMessageID(c.Socket().Handshake().Auth)
	if !first && since == "" {
		return
	}
	pace.Yield()
	chatIDs, err := ch.st.ChatIDsForUser(ctx, id.ID)
	if first && err == nil {
		ch.announce(chatIDs, id.ID, statusOnline)
	} else if first {
		ch.n.Pipeline().Logger().Warn("presence: listing chats failed", "user_id", id.ID, "err", err)
	}
	if since != "" {
		ch.recover(ctx, c, pace, id, since, chatIDs, err)
	}
}

// admitted waits for one of ch.slots (Slots.Admit) until parent ends, then returns the
// hook's context, parent with a deadline work from then, and done, which
// cancels it and releases the slot. The wait has no deadline of its own:
// when it had one (the event timeout), every hook still queued at the end
// of a storm longer than that (PostgreSQL's take 11 s) ran at once,
// unadmitted, and the senders' p99 went from 20 to 220–460 ms. A hook that
// waits is a reconnect whose replay comes later; its socket gets live
// messages meanwhile. The deadline counts from admission, so a hook that
// waited long still has the time for its store calls.
func (ch *Chats) admitted(parent context.Context, work time.Duration) (ctx context.Context, done func()) {
	release := ch.slots.Admit(parent)
	ctx, cancel := context.WithTimeout(parent, work)
	return ctx, func() { cancel(); release() }
}

// disconnected forgets the socket and announces its user offline when it
// was their last socket.
func (ch *Chats) disconnected(ctx context.Context, c *event.Client, _ string) {
	id, ok := c.Identity()
	if !ok {
		return
	}
	last, err := ch.pres.Disconnect(ctx, id.ID, c.ID())
	if err != nil {
		c.Logger().Error("presence disconnect failed", "user_id", id.ID, "err", err)
		return
	}
	if !last {
		return
	}
	ids, err := ch.st.ChatIDsForUser(ctx, id.ID)
	if err != nil {
		ch.n.Pipeline().Logger().Warn("presence: listing chats failed", "user_id", id.ID, "err", err)
		return
	}
	ch.announce(ids, id.ID, statusOffline)
}

// announce sends `presence` to the rooms of chats ids (userID's), once (a
// socket in several of them gets it once).
func (ch *Chats) announce(ids []string, userID, status string) {
	if len(ids) == 0 {
		return
	}
	rooms := make([]string, len(ids))
	for i, id := range ids {
		rooms[i] = chatRoom(id)
	}
	ch.n.Emit(ch.n.IO().To(rooms...), "presence", presenceEvent{UserID: userID, Status: status})
}

// Online reports which of userIDs have a socket on "/chat" (the API's
// Online view).
func (ch *Chats) Online(ctx context.Context, userIDs []string) (map[string]bool, error) {
	return ch.pres.Online(ctx, userIDs)
}
