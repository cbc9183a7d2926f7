package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/store"
)

// Stored chats on namespace "/chat" (SPEC §3; seeds chat-system-gateway.txt
// and api-with-nestjs-26): join, chat message, typing with a chatId, read
// receipts, presence, and missed messages on reconnect (recovery.go).
//
// Events, their rate-limit rules ("/chat:<event>") and acks; every failure
// is acked {success:false, error:{code, message}} plus an `exception` event
// (handle.go, errors.go):
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
// Messages have one shape everywhere, the REST API's restMessage: the seed's
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
//     `unavailable`. Nothing is broadcast unless the message was committed,
//     and a retry with the same clientMsgId gets the original message
//     without a second broadcast. The sender need not have joined the room.
//   - typing needs the socket to have joined the chat (membership is
//     checked once, at join, not per keystroke) and goes to the room except
//     every socket of the typing user.
//   - read marks never move backwards (store); marking an older message
//     acks the current mark and broadcasts nothing.
//   - presence is counted per authenticated socket of "/chat" only.

// Limits of chat payloads.
const (
	MaxChatContent     = 4000
	MaxChatAttachments = 10
	maxChatIDLen       = 64
	maxClientMsgIDLen  = 64
)

// chatRoom is the Socket.IO room of a stored chat's joined sockets.
func chatRoom(chatID string) string { return "chat:" + chatID }

// chatRateRules are the default limits of the stored-chat events (SPEC §7;
// the lobby seed's 10 messages per second per client for messages; typing
// has its own rule, "/chat:typing", shared with the lobby's typing).
func chatRateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"/chat:join":         {Limit: 30, Period: time.Minute},
		"/chat:chat message": {Limit: 10, Period: time.Second},
		"/chat:read":         {Limit: 30, Period: 10 * time.Second},
		"/chat:sync":         {Limit: 30, Period: time.Minute},
	}
}

// Refusals of the stored-chat events. Messages are sent to clients.
var (
	errNeedAuth       = &Error{CodeUnauthorized, "Authentication required"}
	errJoinForbidden  = &Error{CodeForbidden, "You are not a member of this chat."}
	errNotJoined      = &Error{CodeForbidden, "Join the chat first."}
	errChatArchived   = &Error{CodeConflict, "This chat is archived and read-only."}
	errStoreDown      = &Error{CodeUnavailable, "The chat store is unavailable; try again later."}
	errChatMissing    = &Error{CodeNotFound, "Chat or message not found."}
	errChatConflict   = &Error{CodeConflict, "Conflicts with an existing message or attachment."}
	errChatBadRequest = &Error{CodeInvalidPayload, "The store refused the request as invalid."}
)

// chatError wraps a store failure with what the client is told, keeping the
// detail for the log (replyOf finds the *Error, the log prints both).
type chatError struct {
	reply *Error
	err   error
}

func (e *chatError) Error() string   { return e.reply.Error() + ": " + e.err.Error() }
func (e *chatError) Unwrap() []error { return []error{e.reply, e.err} }

// storeErr maps a store error to the reply the socket events send.
func storeErr(err error) error {
	var reply *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &reply):
		return err // already decided
	case errors.Is(err, store.ErrUnavailable):
		reply = errStoreDown
	case errors.Is(err, store.ErrForbidden):
		reply = errJoinForbidden
	case errors.Is(err, store.ErrArchived):
		reply = errChatArchived
	case errors.Is(err, store.ErrNotFound):
		reply = errChatMissing
	case errors.Is(err, store.ErrConflict):
		reply = errChatConflict
	case errors.Is(err, store.ErrInvalid):
		reply = errChatBadRequest
	default:
		return err // internal (or a context error replyOf knows)
	}
	return &chatError{reply: reply, err: err}
}

// Refusals of "chat message" that name its causes more precisely than
// storeErr can.
var (
	errBadAttachment      = &Error{CodeInvalidPayload, "attachments: unknown, or not uploaded to this chat."}
	errAttachmentNotYours = &Error{CodeForbidden, "You are not a member of this chat, or an attachment was uploaded by someone else."}
	errSendConflict       = &Error{CodeConflict, "clientMsgId was used in another chat, or an attachment belongs to another message."}
)

// sendErr names the causes of CreateMessage's refusals (see its contract).
func sendErr(err error, withAttachments bool) error {
	var reply *Error
	switch {
	case errors.Is(err, store.ErrInvalid):
		reply = errBadAttachment // content was validated before
	case errors.Is(err, store.ErrForbidden) && withAttachments:
		reply = errAttachmentNotYours
	case errors.Is(err, store.ErrConflict):
		reply = errSendConflict
	default:
		return err
	}
	return &chatError{reply: reply, err: err}
}

// chats is the stored-chat part of "/chat".
type chats struct {
	srv  *Server
	n    *namespace
	st   *store.Store
	pres presence
	// maxReplay caps the messages replayed to one reconnecting socket.
	maxReplay int

	// sendMu orders commits against recovery: a send holds it shared from
	// its commit through its broadcast; recovery's last step holds it
	// exclusively (recovery.go).
	sendMu sync.RWMutex

	// closeAfter marks sockets to disconnect once their current reply has
	// been written (join by a non-member).
	closeAfter sync.Map // *Conn → struct{}
}

// newChats registers the stored-chat events, presence and recovery on n.
func newChats(srv *Server, n *namespace, st *store.Store, pres presence, maxReplay int) *chats {
	if pres == nil {
		pres = newMemoryPresence()
	}
	if maxReplay <= 0 {
		maxReplay = 1000
	}
	ch := &chats{srv: srv, n: n, st: st, pres: pres, maxReplay: maxReplay}
	on(n, "join", "/chat:join", ch.join)
	ch.closeAfterReply("join")
	on(n, "chat message", "/chat:chat message", ch.send)
	on(n, "read", "/chat:read", ch.read)
	on(n, "sync", "/chat:sync", ch.sync)
	n.onConnect = append(n.onConnect, ch.connected)
	n.onDisconnect = append(n.onDisconnect, ch.disconnected)
	return ch
}

// closeAfterReply wraps the binding of event so that a socket marked in
// closeAfter is disconnected after its reply went out (emits to one
// connection are written in call order).
func (ch *chats) closeAfterReply(event string) {
	for i := range ch.n.bindings {
		b := &ch.n.bindings[i]
		if b.event != event {
			continue
		}
		inner := b.fn
		b.fn = func(c *Conn, args socketio.Args, ack socketio.AckFunc) {
			inner(c, args, ack)
			if _, ok := ch.closeAfter.LoadAndDelete(c); ok {
				c.s.Disconnect(false)
			}
		}
	}
}

// identity returns the socket's user or errNeedAuth.
func identity(c *Conn) (auth.Identity, error) {
	id, ok := c.Identity()
	if !ok {
		return auth.Identity{}, errNeedAuth
	}
	return id, nil
}

// ---- payloads ----

type chatJoinReq struct {
	ChatID string `json:"chatId"`
}

func (p chatJoinReq) Validate() error { return checkChatID(nil, "chatId", p.ChatID).err() }

type chatJoinReply struct {
	Success bool   `json:"success"`
	ChatID  string `json:"chatId"`
}

type userJoinedEvent struct {
	UserID string `json:"userId"`
	ChatID string `json:"chatId"`
}

type chatSendReq struct {
	ChatID      string   `json:"chatId"`
	Content     string   `json:"content"`
	Attachments []string `json:"attachments,omitempty"`
	ClientMsgID string   `json:"clientMsgId,omitempty"`
}

func (p chatSendReq) Validate() error {
	is := checkChatID(nil, "chatId", p.ChatID)
	switch n := jsLength(p.Content); {
	case n > MaxChatContent:
		is = is.add("content", "String must contain at most 4000 character(s)")
	case strings.TrimSpace(p.Content) == "" && len(p.Attachments) == 0:
		is = is.add("content", "Must not be empty.")
	}
	if len(p.Attachments) > MaxChatAttachments {
		is = is.add("attachments", "Array must contain at most 10 element(s)")
	}
	for i, id := range p.Attachments {
		is = checkChatID(is, "attachments."+strconv.Itoa(i), id)
	}
	if len(p.ClientMsgID) > maxClientMsgIDLen || hasControlChar(p.ClientMsgID) {
		is = is.add("clientMsgId", "Must be at most 64 characters without control characters.")
	}
	return is.err()
}

type chatSendReply struct {
	Success bool        `json:"success"`
	Message restMessage `json:"message"`
}

type chatTypingEvent struct {
	ChatID   string `json:"chatId"`
	UserID   string `json:"userId"`
	IsTyping bool   `json:"isTyping"`
}

type chatReadReq struct {
	ChatID    string `json:"chatId"`
	MessageID string `json:"messageId"`
}

func (p chatReadReq) Validate() error {
	return checkChatID(checkChatID(nil, "chatId", p.ChatID), "messageId", p.MessageID).err()
}

type chatReadEvent struct {
	ChatID    string    `json:"chatId"`
	UserID    string    `json:"userId"`
	MessageID string    `json:"messageId"`
	ReadAt    wire.Time `json:"readAt"`
}

type chatReadReply struct {
	Success bool          `json:"success"`
	Read    chatReadEvent `json:"read"`
}

// issues collects validation failures (nil: none).
type issues []wire.Issue

func (is issues) add(path, msg string) issues {
	return append(is, wire.Issue{Path: path, Message: msg})
}

func (is issues) err() error {
	if len(is) == 0 {
		return nil
	}
	return &wire.Error{Issues: is}
}

// checkChatID checks an id field (chat, message or attachment id).
func checkChatID(is issues, path, v string) issues {
	switch {
	case v == "":
		return is.add(path, "String must contain at least 1 character(s)")
	case len(v) > maxChatIDLen:
		return is.add(path, "String must contain at most 64 character(s)")
	case hasControlChar(v):
		return is.add(path, "Must not contain control characters.")
	}
	return is
}

func hasControlChar(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// jsLength is a string's length as JavaScript counts it (UTF-16 units).
func jsLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// ---- handlers ----

func (ch *chats) join(ctx context.Context, c *Conn, req chatJoinReq) (chatJoinReply, error) {
	id, err := identity(c)
	if err != nil {
		return chatJoinReply{}, err
	}
	ok, err := ch.st.IsMember(ctx, req.ChatID, id.ID)
	if err != nil {
		return chatJoinReply{}, storeErr(err)
	}
	if !ok {
		ch.closeAfter.Store(c, struct{}{})
		return chatJoinReply{}, errJoinForbidden
	}
	room := chatRoom(req.ChatID)
	c.s.Join(room)
	ch.n.emit(ch.n.io.To(room), "user joined", userJoinedEvent{UserID: id.ID, ChatID: req.ChatID})
	return chatJoinReply{Success: true, ChatID: req.ChatID}, nil
}

func (ch *chats) send(ctx context.Context, c *Conn, req chatSendReq) (chatSendReply, error) {
	id, err := identity(c)
	if err != nil {
		return chatSendReply{}, err
	}
	ch.sendMu.RLock()
	defer ch.sendMu.RUnlock()
	m, created, err := ch.st.CreateMessage(ctx, store.NewMessage{
		ChatID: req.ChatID, SenderID: id.ID, Content: req.Content,
		ClientMsgID: req.ClientMsgID, AttachmentIDs: req.Attachments,
	})
	if err != nil {
		return chatSendReply{}, storeErr(sendErr(err, len(req.Attachments) > 0))
	}
	msg := restMessageOf(m, store.User{ID: id.ID, Name: id.Name})
	if created {
		// Sockets replaying missed messages get this one from the store.
		ch.n.emit(ch.n.io.To(chatRoom(m.ChatID)).Except(recoveringRoom), "message", msg)
	}
	return chatSendReply{Success: true, Message: msg}, nil
}

// typing is "typing" with a chatId (ns_chat.go dispatches: without one it
// is the lobby's indicator).
func (ch *chats) typing(_ context.Context, c *Conn, chatID string, isTyping bool) (successReply, error) {
	if err := checkChatID(nil, "chatId", chatID).err(); err != nil {
		return successReply{}, err
	}
	id, err := identity(c)
	if err != nil {
		return successReply{}, err
	}
	room := chatRoom(chatID)
	if !inRoom(c.s, room) {
		return successReply{}, errNotJoined
	}
	ch.n.emit(ch.n.io.To(room).Except(userRoom(id.ID)), "typing",
		chatTypingEvent{ChatID: chatID, UserID: id.ID, IsTyping: isTyping})
	return successReply{Success: true}, nil
}

func (ch *chats) read(ctx context.Context, c *Conn, req chatReadReq) (chatReadReply, error) {
	id, err := identity(c)
	if err != nil {
		return chatReadReply{}, err
	}
	mark, err := ch.st.SetReadMark(ctx, req.ChatID, id.ID, req.MessageID)
	if err != nil {
		return chatReadReply{}, storeErr(err)
	}
	ev := chatReadEvent{ChatID: mark.ChatID, UserID: id.ID, MessageID: mark.MessageID, ReadAt: wire.Time(mark.ReadAt)}
	if mark.MessageID == req.MessageID {
		ch.n.emit(ch.n.io.To(chatRoom(req.ChatID)), "read", ev)
	}
	return chatReadReply{Success: true, Read: ev}, nil
}

func inRoom(s *socketio.Socket, room string) bool {
	for _, r := range s.Rooms() {
		if r == room {
			return true
		}
	}
	return false
}

// ---- presence ----

// connected counts an authenticated socket and announces its user online
// on their first socket, then replays what it missed (recovery.go).
func (ch *chats) connected(c *Conn) {
	id, ok := c.Identity()
	if !ok || !c.s.Connected() {
		return
	}
	ctx, cancel := context.WithTimeout(ch.srv.ctx, ch.srv.cfg.EventTimeout)
	defer cancel()
	first, err := ch.pres.Connect(ctx, id.ID, c.ID())
	if err != nil {
		c.log.Error("presence connect failed", "user_id", id.ID, "err", err)
	} else if first {
		ch.announce(ctx, id.ID, statusOnline)
	}
	ch.recover(ctx, c, id)
}

// disconnected forgets the socket and announces its user offline when it
// was their last socket.
func (ch *chats) disconnected(ctx context.Context, c *Conn, _ string) {
	ch.closeAfter.Delete(c)
	id, ok := c.Identity()
	if !ok {
		return
	}
	last, err := ch.pres.Disconnect(ctx, id.ID, c.ID())
	if err != nil {
		c.log.Error("presence disconnect failed", "user_id", id.ID, "err", err)
		return
	}
	if last {
		ch.announce(ctx, id.ID, statusOffline)
	}
}

// announce sends `presence` to the rooms of every chat of userID, once
// (a socket in several of them gets it once).
func (ch *chats) announce(ctx context.Context, userID, status string) {
	ids, err := ch.st.ChatIDsForUser(ctx, userID)
	if err != nil {
		ch.srv.log.Warn("presence: listing chats failed", "user_id", userID, "err", err)
		return
	}
	if len(ids) == 0 {
		return
	}
	rooms := make([]string, len(ids))
	for i, id := range ids {
		rooms[i] = chatRoom(id)
	}
	ch.n.emit(ch.n.io.To(rooms...), "presence", presenceEvent{UserID: userID, Status: status})
}

// Online reports which of userIDs have a socket on "/chat" (the chat API's
// onlineChecker).
func (ch *chats) Online(ctx context.Context, userIDs []string) (map[string]bool, error) {
	return ch.pres.Online(ctx, userIDs)
}

// enableChats turns on JWT authentication on every namespace (v non-nil)
// and the stored chats of "/chat" (st non-nil as well). Without a store the
// stored-chat events are still registered and answer `unavailable`, so a
// client gets a reply rather than an ack timeout.
func (s *Server) enableChats(st *store.Store, v *auth.Verifier, modes map[string]AuthMode, maxReplay int) *chats {
	if v != nil {
		a := &authenticator{srv: s, v: v, st: st, modes: modes}
		for _, n := range []*namespace{s.tutorial, s.rooms, s.chat} {
			a.install(n)
		}
	}
	if st == nil || v == nil {
		off := func(context.Context, *Conn, struct{}) (successReply, error) {
			return successReply{}, errChatsDisabled
		}
		on(s.chat, "join", "/chat:join", off)
		on(s.chat, "chat message", "/chat:chat message", off)
		on(s.chat, "read", "/chat:read", off)
		on(s.chat, "sync", "/chat:sync", off)
		return nil
	}
	return newChats(s, s.chat, st, nil, maxReplay)
}

// checkChatsConfig refuses combinations New cannot serve.
func checkChatsConfig(st *store.Store, v *auth.Verifier, cfg Config) error {
	var errs []error
	if st != nil && v == nil {
		errs = append(errs, errors.New("gateway: a store needs a verifier: stored chats belong to authenticated users"))
	}
	if st != nil && cfg.Files.Dir == "" {
		errs = append(errs, errors.New("gateway: a store needs Config.Files.Dir for attachments"))
	}
	for ns, m := range cfg.Auth {
		switch ns {
		case "/", "/rooms", "/chat":
		default:
			errs = append(errs, fmt.Errorf("gateway: auth mode for unknown namespace %q", ns))
		}
		if _, err := ParseAuthMode(string(m)); err != nil {
			errs = append(errs, err)
		}
		if m == AuthRequired && v == nil {
			errs = append(errs, fmt.Errorf("gateway: namespace %q requires auth but no verifier is configured", ns))
		}
	}
	return errors.Join(errs...)
}

// trustedOrigins are the CORS origins the chat API's CSRF guard trusts
// for cookie-authenticated writes ("*" trusts nobody extra: a wildcard
// must not open cookie-authenticated writes to every site).
func trustedOrigins(cors []string) []string {
	var out []string
	for _, o := range cors {
		if o != "*" {
			out = append(out, o)
		}
	}
	return out
}
