package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
)

// The REST API of stored chats (SPEC §6), for authenticated users.
//
// Routes, each rate-limited under the rule "http:" + its pattern
// ("http:GET /chats", "http:POST /chats/{id}/attachments", ...), keyed by
// the user, else by the client IP (an unauthenticated flood is limited too,
// before it is told 401):
//
//	GET  /chats?page=1&limit=20[&archived=true]  200 page of restChat
//	POST /chats                                  201 restChat
//	GET  /chats/{id}/members                     200 []restMember (with online state)
//	POST /chats/{id}/members                     201 restMembership
//	GET  /chats/{id}/messages?page=&limit=&before=&after=  200 page of restMessage
//	POST /chats/{id}/archive                     200 restChat
//	POST /chats/{id}/attachments                 201 restAttachment (http_attachments.go)
//	GET  /attachments/{id}                       200 the file (http_attachments.go)
//
// Pages are {"data":[...], "page", "limit", "total", "hasMore"}; cursor
// pages of messages omit page and total (see listMessages). Errors are
// NestJS's {"statusCode","message","error"} from errors.go's mapping.
//
// Identity: an "Authorization: Bearer" header, else the Authentication
// cookie (http_auth.go; never ?token=). Cookie-authenticated POSTs must come
// from the same origin or a trusted one (CSRF). A failed limiter is 503.
//
// Decisions where the SPEC is silent:
//   - Only a chat's members see it (its members, history, attachments):
//     an unknown chat is 404, a chat the caller is not in is 403.
//   - Only owners add members (and only owners archive, a store rule); the
//     creator is the first owner. Archived chats take no members and no
//     attachments (409 conflict).
//   - limit is capped (maxChatsLimit, maxMessagesLimit) rather than refused;
//     the page says which limit applied. A non-integer or non-positive page
//     or limit is 400 naming the parameter.
//   - Creation limits: title ≤ maxTitleLen, orderId ≤ maxOrderIDLen,
//     memberIds ≤ maxCreateMembers entries of user ids ≤ maxUserIDLen; a chat
//     takes at most maxChatMembers members through POST members (checked
//     before the insert, so concurrent adds may overshoot by a few).
//   - JSON bodies must say Content-Type: application/json (415 otherwise)
//     and are capped at maxJSONBody bytes (413).

// Limits of the REST API.
const (
	defaultChatsLimit    = 20
	maxChatsLimit        = 100
	defaultMessagesLimit = 50
	maxMessagesLimit     = 100
	maxPage              = 1_000_000
	maxTitleLen          = 200
	maxOrderIDLen        = 128
	maxUserIDLen         = 128
	maxCreateMembers     = 100
	maxChatMembers       = 1000
	maxJSONBody          = 64 << 10
)

// Refusals of the chat API. Messages are sent to clients.
var (
	errChatNotFound   = &Error{CodeNotFound, "Chat not found."}
	errNotChatMember  = errJoinForbidden // same words as the socket join
	errNotChatOwner   = &Error{CodeForbidden, "Only an owner of this chat can do this."}
	errChatFull       = &Error{CodeConflict, fmt.Sprintf("The chat already has %d members.", maxChatMembers)}
	errAlreadyMember  = &Error{CodeConflict, "userId is already a member of this chat."}
	errLimiterDown    = &Error{CodeUnavailable, "Rate limiting is unavailable; try again later."}
	errNotJSON        = &unsupportedMediaError{"Content-Type must be application/json."}
	errCursorConflict = &wire.Error{Issues: []wire.Issue{{Path: "after", Message: "Cannot be combined with before."}}}
)

// codeUnsupportedMedia is the "error" of 415 replies. SPEC §3's code list
// (socket acks) has no such code: only REST bodies have media types.
const codeUnsupportedMedia = "unsupported_media_type"

// unsupportedMediaError is a 415 refusal: a request body of a type the
// route does not take. renderError gives it its status and code.
type unsupportedMediaError struct{ msg string }

func (e *unsupportedMediaError) Error() string { return codeUnsupportedMedia + ": " + e.msg }

// onlineChecker tells which users have a socket connected anywhere in the
// cluster (SPEC §3 presence, readable over REST). The presence tracker
// implements it; nil means nobody is reported online.
type onlineChecker interface {
	Online(ctx context.Context, userIDs []string) (map[string]bool, error)
}

// chatAPIConfig tunes the chat API. Zero values select the defaults.
type chatAPIConfig struct {
	// MaxUpload caps an attachment's size in bytes. Zero means 10 MiB
	// (SPEC §6 "≤ 10 MB").
	MaxUpload int64
	// AllowedTypes lists the media types attachments may have, without
	// parameters ("image/png"). Nil means defaultAllowedTypes. See
	// http_attachments.go for how they are checked against the content.
	AllowedTypes []string
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// IP, the rate-limit key of unauthenticated requests. Nil trusts none.
	TrustedProxies []netip.Prefix
	// TrustedOrigins ("https://app.example.com") may send cookie-
	// authenticated POSTs cross-origin; normally the configured CORS origins
	// ("*" among them is ignored). Nil allows same-origin only.
	TrustedOrigins []string
	// Logger receives failures (Error) and refusals (Debug). Nil discards.
	Logger *slog.Logger
	// Metrics, when set, counts error replies by code and rate-limit
	// refusals by rule in the gateway's series. Nil counts nothing.
	Metrics *metrics
}

// chatAPI serves the REST routes of stored chats. It is safe for concurrent
// use; it holds no per-request state.
type chatAPI struct {
	st        *store.Store
	files     store.Files
	verifier  *auth.Verifier
	limiter   *ratelimit.Limiter // nil: no limits
	presence  onlineChecker      // nil: everyone offline
	csrf      *http.CrossOriginProtection
	log       *slog.Logger
	maxUpload int64
	allowed   map[string]bool
	trusted   []netip.Prefix
	metrics   *metrics // nil: not counted
}

// newChatAPI builds the chat API. st, files and v are required; lim and
// presence may be nil. It fails on a malformed trusted origin or allowed
// type.
func newChatAPI(st *store.Store, files store.Files, v *auth.Verifier, lim *ratelimit.Limiter, presence onlineChecker, cfg chatAPIConfig) (*chatAPI, error) {
	if st == nil || v == nil || files.Dir == "" {
		return nil, errors.New("gateway: chat api: store, files directory and verifier are required")
	}
	a := &chatAPI{
		st:        st,
		files:     files,
		verifier:  v,
		limiter:   lim,
		presence:  presence,
		csrf:      http.NewCrossOriginProtection(),
		log:       cfg.Logger,
		maxUpload: cfg.MaxUpload,
		allowed:   map[string]bool{},
		trusted:   cfg.TrustedProxies,
		metrics:   cfg.Metrics,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxUpload <= 0 {
		a.maxUpload = defaultMaxUpload
	}
	types := cfg.AllowedTypes
	if types == nil {
		types = defaultAllowedTypes
	}
	for _, t := range types {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") {
			return nil, fmt.Errorf("gateway: chat api: allowed type %q: want a media type without parameters", t)
		}
		a.allowed[mt] = true
	}
	for _, o := range cfg.TrustedOrigins {
		if o == "*" {
			// A wildcard CORS origin never carries cookies (browsers refuse
			// credentials with Access-Control-Allow-Origin: *), so it trusts
			// no origin with the cookie either.
			continue
		}
		if err := a.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("gateway: chat api: trusted origin: %w", err)
		}
	}
	return a, nil
}

// apiHandler is a REST handler: it writes its success reply itself and
// returns its failure, which renderError turns into the reply.
type apiHandler func(w http.ResponseWriter, r *http.Request, me auth.Identity) error

// chatRoute is one route of the chat API.
type chatRoute struct {
	pattern string // ServeMux pattern; the rate-limit rule is "http:" + pattern
	h       apiHandler
}

func (a *chatAPI) routes() []chatRoute {
	return []chatRoute{
		{"GET /chats", a.listChats},
		{"POST /chats", a.createChat},
		{"GET /chats/{id}/members", a.listMembers},
		{"POST /chats/{id}/members", a.addMember},
		{"GET /chats/{id}/messages", a.listMessages},
		{"POST /chats/{id}/archive", a.archiveChat},
		{"POST /chats/{id}/attachments", a.uploadAttachment},
		{"GET /attachments/{id}", a.getAttachment},
	}
}

// register adds the chat routes to mux (Go 1.22 method patterns; GET routes
// answer HEAD too).
func (a *chatAPI) register(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		a.handle(mux, rt.pattern, rt.h)
	}
}

// isChatAPIPath reports whether path is served by the chat API, so that
// the gateway's guard gives it the REST treatment (CORS) like /api/.
func isChatAPIPath(path string) bool {
	return path == "/chats" || strings.HasPrefix(path, "/chats/") || strings.HasPrefix(path, "/attachments/")
}

// chatAPIRateRules are the default limits of the chat API's routes (SPEC
// §7 "sane ones elsewhere"), per user, else per IP: generous for reads a
// client polls or pages through, tighter for writes and uploads.
func chatAPIRateRules() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{
		"http:GET /chats":                   {Limit: 120, Period: time.Minute},
		"http:POST /chats":                  {Limit: 30, Period: time.Minute},
		"http:GET /chats/{id}/members":      {Limit: 120, Period: time.Minute},
		"http:POST /chats/{id}/members":     {Limit: 60, Period: time.Minute},
		"http:GET /chats/{id}/messages":     {Limit: 300, Period: time.Minute},
		"http:POST /chats/{id}/archive":     {Limit: 30, Period: time.Minute},
		"http:POST /chats/{id}/attachments": {Limit: 30, Period: time.Minute},
		"http:GET /attachments/{id}":        {Limit: 600, Period: time.Minute},
	}
}

func (a *chatAPI) handle(mux *http.ServeMux, pattern string, h apiHandler) {
	rule := "http:" + pattern
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := a.serve(w, r, rule, h); err != nil {
			// storeErr (ns_chat_chats.go) gives store failures the replies
			// the socket events send: 503 when the store is down, 409 for
			// an archived chat, ...; other errors pass through unchanged.
			a.renderError(w, r, storeErr(err))
		}
	})
}

// serve authenticates, rate-limits and runs h. The limit is counted before
// the authentication result is acted on, so that requests with bad tokens
// are limited per IP like any other.
func (a *chatAPI) serve(w http.ResponseWriter, r *http.Request, rule string, h apiHandler) error {
	ctx := r.Context()
	me, authErr := httpIdentity(ctx, a.verifier, a.csrf, r)
	if err := a.allow(ctx, w.Header(), rule, ratelimit.Key(me.ID, ratelimit.ClientIP(r.RemoteAddr, r.Header, a.trusted))); err != nil {
		return err
	}
	if authErr != nil {
		return authErr
	}
	return h(w, r.WithContext(auth.NewContext(ctx, me)), me)
}

// allow counts the request under rule and sets the X-RateLimit-* headers:
// the window's state on an allowed request, Retry-After too on a refused
// one. A limiter failure (Redis down) fails closed with 503, like the
// socket events (Server.limitErr): limits that silently stop holding are
// worse than a visible outage.
func (a *chatAPI) allow(ctx context.Context, h http.Header, rule, key string) error {
	if a.limiter == nil {
		return nil
	}
	res, err := a.limiter.Allow(ctx, rule, key)
	var le *ratelimit.LimitedError
	switch {
	case errors.As(err, &le):
		ratelimit.SetLimitedHeaders(h, le)
		if a.metrics != nil {
			a.metrics.limited.WithLabelValues(rule).Inc()
		}
		return le
	case err != nil:
		a.log.Error("rate limiter failed", "rule", rule, "err", err)
		return errLimiterDown
	}
	ratelimit.SetHeaders(h, res)
	return nil
}

// renderError is the chat API's only error writer: NestJS's body from
// errors.go's mapping (replyOf, httpBodyOf), plus the 415 status that
// mapping has no code for.
func (a *chatAPI) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var ume *unsupportedMediaError
	if errors.As(err, &ume) {
		a.log.Debug("http request refused", "method", r.Method, "path", r.URL.Path, "err", err)
		a.countError(codeUnsupportedMedia)
		writeJSON(w, http.StatusUnsupportedMediaType, httpError{
			StatusCode: http.StatusUnsupportedMediaType, Message: ume.msg, Error: codeUnsupportedMedia,
		})
		return
	}
	e, known := replyOf(err)
	if known {
		a.log.Debug("http request refused", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
	} else {
		a.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	a.countError(e.Code)
	st, body := httpBodyOf(e)
	writeJSON(w, st, body)
}

func (a *chatAPI) countError(code string) {
	if a.metrics != nil {
		a.metrics.errors.WithLabelValues(code).Inc()
	}
}

// ---- views ----

// restChat is a chat as the REST API shows it.
type restChat struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	OrderID       string     `json:"orderId,omitempty"`
	Title         string     `json:"title"`
	CreatorID     string     `json:"creatorId"`
	Archived      bool       `json:"archived"`
	ArchivedAt    *wire.Time `json:"archivedAt,omitempty"`
	LastSeq       int64      `json:"lastSeq"`
	LastMessageID string     `json:"lastMessageId,omitempty"`
	ActivityAt    wire.Time  `json:"activityAt"`
	CreatedAt     wire.Time  `json:"createdAt"`
}

func restChatOf(c store.Chat) restChat {
	v := restChat{
		ID: c.ID, Kind: c.Kind, OrderID: c.OrderID, Title: c.Title, CreatorID: c.CreatorID,
		Archived: c.Archived, LastSeq: c.LastSeq, LastMessageID: c.LastMessageID,
		ActivityAt: wire.Time(c.ActivityAt), CreatedAt: wire.Time(c.CreatedAt),
	}
	if c.Archived {
		t := wire.Time(c.ArchivedAt)
		v.ArchivedAt = &t
	}
	return v
}

// restMembership is the reply of POST /chats/{id}/members.
type restMembership struct {
	ChatID   string    `json:"chatId"`
	UserID   string    `json:"userId"`
	Role     string    `json:"role"`
	JoinedAt wire.Time `json:"joinedAt"`
}

// restMember is one entry of GET /chats/{id}/members.
type restMember struct {
	UserID   string    `json:"userId"`
	Name     string    `json:"name"`
	Username string    `json:"username,omitempty"`
	Role     string    `json:"role"`
	JoinedAt wire.Time `json:"joinedAt"`
	Online   bool      `json:"online"`
}

// restSender is a message author, as in the socket "message" event.
type restSender struct {
	ID       string `json:"id"`
	FullName string `json:"fullName"`
}

// restMessage is a stored message in the shape of the /chat namespace's
// "message" event (SPEC §3) plus seq and clientMsgId.
type restMessage struct {
	ID          string           `json:"id"`
	ChatID      string           `json:"chatId"`
	Seq         int64            `json:"seq"`
	SenderID    string           `json:"senderId"`
	Content     string           `json:"content"`
	ClientMsgID string           `json:"clientMsgId,omitempty"`
	Timestamp   wire.Time        `json:"timestamp"`
	Attachments []restAttachment `json:"attachments"`
	Sender      restSender       `json:"sender"`
}

// restPage is the envelope of paged lists. Page and Total are omitted for
// cursor pages of messages.
type restPage[T any] struct {
	Data    []T  `json:"data"`
	Page    int  `json:"page,omitempty"`
	Limit   int  `json:"limit"`
	Total   *int `json:"total,omitempty"`
	HasMore bool `json:"hasMore"`
}

// ---- chats ----

func (a *chatAPI) listChats(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	q := r.URL.Query()
	var c restChecker
	page := c.intParam(q, "page", 1, maxPage, false)
	limit := c.intParam(q, "limit", defaultChatsLimit, maxChatsLimit, true)
	archived := c.boolParam(q, "archived")
	if err := c.err(); err != nil {
		return err
	}
	chats, total, err := a.st.ChatsForUser(r.Context(), me.ID, store.ChatFilter{Archived: archived, Page: page, Limit: limit})
	if err != nil {
		return err
	}
	out := restPage[restChat]{Data: make([]restChat, 0, len(chats)), Page: page, Limit: limit, Total: &total,
		HasMore: (page-1)*limit+len(chats) < total}
	for _, ch := range chats {
		out.Data = append(out.Data, restChatOf(ch))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createChatRequest is the body of POST /chats.
type createChatRequest struct {
	Kind      string   `json:"kind"`
	OrderID   string   `json:"orderId,omitempty"`
	Title     string   `json:"title,omitempty"`
	MemberIDs []string `json:"memberIds"`
}

// Validate implements wire.Validator.
func (p createChatRequest) Validate() error {
	var c restChecker
	if c.enum("kind", p.Kind, store.KindGeneral, store.KindOrder) {
		switch {
		case p.Kind == store.KindOrder && p.OrderID == "":
			c.add("orderId", "Required when kind is 'order'.")
		case p.Kind == store.KindGeneral && p.OrderID != "":
			c.add("orderId", "Must be empty when kind is 'general'.")
		}
	}
	if p.OrderID != "" {
		c.text("orderId", p.OrderID, 1, maxOrderIDLen)
	}
	c.text("title", p.Title, 0, maxTitleLen)
	if len(p.MemberIDs) > maxCreateMembers {
		c.add("memberIds", fmt.Sprintf("Array must contain at most %d element(s)", maxCreateMembers))
	} else {
		for i, id := range p.MemberIDs {
			c.text("memberIds."+strconv.Itoa(i), id, 1, maxUserIDLen)
		}
	}
	return c.err()
}

func (a *chatAPI) createChat(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	var req createChatRequest
	if err := decodeRESTBody(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	// The creator's display name comes from the token, so that member lists
	// show it even before their first socket connects.
	if err := a.st.UpsertUser(ctx, store.User{ID: me.ID, Name: me.Name, Username: me.Username, Email: me.Email}); err != nil {
		return err
	}
	ch, err := a.st.CreateChat(ctx, store.NewChat{
		Kind: req.Kind, OrderID: req.OrderID, Title: req.Title, CreatorID: me.ID, MemberIDs: req.MemberIDs,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, restChatOf(ch))
	return nil
}

// memberOf returns the chat and the caller's membership: errChatNotFound
// for an unknown chat, errNotChatMember when the caller is not in it.
func (a *chatAPI) memberOf(ctx context.Context, chatID, userID string) (store.Chat, store.Membership, error) {
	ch, err := a.st.ChatByID(ctx, chatID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Chat{}, store.Membership{}, errChatNotFound
	} else if err != nil {
		return store.Chat{}, store.Membership{}, err
	}
	m, err := a.st.Membership(ctx, chatID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Chat{}, store.Membership{}, errNotChatMember
	} else if err != nil {
		return store.Chat{}, store.Membership{}, err
	}
	return ch, m, nil
}

// ownerOf is memberOf for the owner-only routes: a member who is not an
// owner gets errNotChatOwner.
func (a *chatAPI) ownerOf(ctx context.Context, chatID, userID string) (store.Membership, error) {
	_, m, err := a.memberOf(ctx, chatID, userID)
	if err != nil {
		return store.Membership{}, err
	}
	if m.Role != store.RoleOwner {
		return store.Membership{}, errNotChatOwner
	}
	return m, nil
}

func (a *chatAPI) archiveChat(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	m, err := a.ownerOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	ch, err := a.st.ArchiveChat(ctx, m.ChatID, me.ID)
	if errors.Is(err, store.ErrForbidden) { // demoted meanwhile
		return errNotChatOwner
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, restChatOf(ch))
	return nil
}

// ---- members ----

// addMemberRequest is the body of POST /chats/{id}/members.
type addMemberRequest struct {
	UserID string `json:"userId"`
	Role   string `json:"role,omitempty"`
}

// Validate implements wire.Validator.
func (p addMemberRequest) Validate() error {
	var c restChecker
	c.text("userId", p.UserID, 1, maxUserIDLen)
	if p.Role != "" {
		c.enum("role", p.Role, store.RoleOwner, store.RoleMember)
	}
	return c.err()
}

func (a *chatAPI) addMember(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	// Membership first, so that a non-member learns nothing from the body's
	// validation.
	m, err := a.ownerOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	var req addMemberRequest
	if err := decodeRESTBody(w, r, &req); err != nil {
		return err
	}
	members, err := a.st.Members(ctx, m.ChatID)
	if err != nil {
		return err
	}
	if len(members) >= maxChatMembers {
		return errChatFull
	}
	added, err := a.st.AddMember(ctx, m.ChatID, req.UserID, req.Role)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errAlreadyMember
	case errors.Is(err, store.ErrArchived):
		return errChatArchived
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusCreated, restMembership{
		ChatID: added.ChatID, UserID: added.UserID, Role: added.Role, JoinedAt: wire.Time(added.JoinedAt),
	})
	return nil
}

func (a *chatAPI) listMembers(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	_, m, err := a.memberOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	members, err := a.st.Members(ctx, m.ChatID)
	if err != nil {
		return err
	}
	ids := make([]string, len(members))
	for i, mm := range members {
		ids[i] = mm.UserID
	}
	online := map[string]bool{}
	if a.presence != nil {
		// Presence is advisory: when it cannot be read, members are shown
		// offline rather than the list refused.
		if o, err := a.presence.Online(ctx, ids); err != nil {
			a.log.Warn("presence lookup failed; members shown offline", "chat_id", m.ChatID, "err", err)
		} else {
			online = o
		}
	}
	users := newRESTUsers(a.st)
	out := make([]restMember, 0, len(members))
	for _, mm := range members {
		u, err := users.get(ctx, mm.UserID)
		if err != nil {
			return err
		}
		out = append(out, restMember{
			UserID: mm.UserID, Name: u.Name, Username: u.Username, Role: mm.Role,
			JoinedAt: wire.Time(mm.JoinedAt), Online: online[mm.UserID],
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ---- messages ----

// listMessages serves history, newest first in every mode:
//   - ?page=N&limit=L: offset pages, with total (shifts when messages arrive
//     between requests);
//   - ?before=<id>&limit=L: the L messages just older than id (exact; go on
//     with before=<last id of data>);
//   - ?after=<id>&limit=L: the L messages just newer than id, still listed
//     newest first (go on with after=<first id of data>).
//
// hasMore says whether another page exists in the same direction. A cursor
// that is not a message of this chat is 400.
func (a *chatAPI) listMessages(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	_, m, err := a.memberOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var c restChecker
	page := c.intParam(q, "page", 1, maxPage, false)
	limit := c.intParam(q, "limit", defaultMessagesLimit, maxMessagesLimit, true)
	before, after := q.Get("before"), q.Get("after")
	if err := c.err(); err != nil {
		return err
	}
	if before != "" && after != "" {
		return errCursorConflict
	}
	if (before != "" || after != "") && q.Has("page") {
		return &wire.Error{Issues: []wire.Issue{{Path: "page", Message: "Cannot be combined with before or after."}}}
	}

	var (
		msgs []store.Message
		out  = restPage[restMessage]{Limit: limit}
	)
	switch {
	case before != "":
		msgs, err = a.st.MessagesBefore(ctx, m.ChatID, before, limit+1)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return &wire.Error{Issues: []wire.Issue{{Path: "before", Message: "Unknown message id."}}}
		}
		if len(msgs) > limit {
			msgs, out.HasMore = msgs[:limit], true
		}
	case after != "":
		msgs, err = a.st.MessagesAfter(ctx, m.ChatID, after, limit+1)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return &wire.Error{Issues: []wire.Issue{{Path: "after", Message: "Unknown message id."}}}
		}
		if len(msgs) > limit {
			msgs, out.HasMore = msgs[:limit], true
		}
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 { // oldest first → newest first
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	default:
		var total int
		msgs, total, err = a.st.MessagesPage(ctx, m.ChatID, page, limit)
		out.Page, out.Total, out.HasMore = page, &total, (page-1)*limit+len(msgs) < total
	}
	if err != nil {
		return err
	}
	users := newRESTUsers(a.st)
	out.Data = make([]restMessage, 0, len(msgs))
	for _, msg := range msgs {
		u, err := users.get(ctx, msg.SenderID)
		if err != nil {
			return err
		}
		out.Data = append(out.Data, restMessageOf(msg, u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func restMessageOf(m store.Message, sender store.User) restMessage {
	v := restMessage{
		ID: m.ID, ChatID: m.ChatID, Seq: m.Seq, SenderID: m.SenderID, Content: m.Content,
		ClientMsgID: m.ClientMsgID, Timestamp: wire.Time(m.CreatedAt),
		Attachments: make([]restAttachment, 0, len(m.Attachments)),
		Sender:      restSender{ID: m.SenderID, FullName: sender.Name},
	}
	for _, at := range m.Attachments {
		v.Attachments = append(v.Attachments, restAttachmentOf(at))
	}
	return v
}

// restUsers looks each user up once per request. A user the store does not
// know (never connected, never named) shows with an empty name.
type restUsers struct {
	st    *store.Store
	users map[string]store.User
}

func newRESTUsers(st *store.Store) *restUsers {
	return &restUsers{st: st, users: map[string]store.User{}}
}

func (c *restUsers) get(ctx context.Context, id string) (store.User, error) {
	if u, ok := c.users[id]; ok {
		return u, nil
	}
	u, err := c.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		u, err = store.User{ID: id}, nil
	}
	if err != nil {
		return store.User{}, err
	}
	c.users[id] = u
	return u, nil
}

// ---- decoding ----

// decodeRESTBody reads a JSON body of at most maxJSONBody bytes into v and
// validates it (wire.Decode: field-named 400s).
func decodeRESTBody(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errNotJSON
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return err
	}
	if len(raw) > 0 && !json.Valid(raw) {
		return &wire.Error{Issues: []wire.Issue{{Message: "Invalid JSON"}}}
	}
	return wire.Decode(raw, v)
}

// restChecker collects validation issues of REST inputs, in zod's words like
// the socket payloads of package wire.
type restChecker struct{ issues []wire.Issue }

func (c *restChecker) add(path, msg string) {
	c.issues = append(c.issues, wire.Issue{Path: path, Message: msg})
}

func (c *restChecker) err() error {
	if len(c.issues) == 0 {
		return nil
	}
	return &wire.Error{Issues: c.issues}
}

// enum checks v is one of values.
func (c *restChecker) enum(path, v string, values ...string) bool {
	for _, x := range values {
		if v == x {
			return true
		}
	}
	c.add(path, fmt.Sprintf("Invalid enum value. Expected '%s', received '%s'", strings.Join(values, "' | '"), v))
	return false
}

// text checks min ≤ length ≤ max (UTF-16 units, as JavaScript counts) and
// refuses control characters.
func (c *restChecker) text(path, v string, min, max int) {
	n := 0
	for _, r := range v {
		n += utf16.RuneLen(r)
	}
	switch {
	case n < min:
		c.add(path, fmt.Sprintf("String must contain at least %d character(s)", min))
	case n > max:
		c.add(path, fmt.Sprintf("String must contain at most %d character(s)", max))
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		c.add(path, "Must not contain control characters")
	}
}

// intParam parses query parameter name as an integer ≥ 1. Absent means def;
// above max it is clamped to max when clamp is set, else an issue.
func (c *restChecker) intParam(q url.Values, name string, def, max int, clamp bool) int {
	s := q.Get(name)
	if !q.Has(name) {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		c.add(name, fmt.Sprintf("Expected integer, received '%s'", s))
		return def
	case n < 1:
		c.add(name, "Number must be greater than or equal to 1")
		return def
	case n > max && clamp:
		return max
	case n > max:
		c.add(name, fmt.Sprintf("Number must be less than or equal to %d", max))
		return def
	}
	return n
}

// boolParam parses query parameter name as true/false (1/0); absent is false.
func (c *restChecker) boolParam(q url.Values, name string) bool {
	if !q.Has(name) {
		return false
	}
	switch s := q.Get(name); s {
	case "true", "1":
		return true
	case "false", "0", "":
		return false
	default:
		c.add(name, fmt.Sprintf("Expected boolean, received '%s'", s))
		return false
	}
}
