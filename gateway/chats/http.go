package chats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
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
//	GET  /chats?page=1&limit=20[&archived=true]  200 page of restChat (with unreadCount)
//	POST /chats                                  201 restChat
//	GET  /chats/{id}/members                     200 []restMember (with online state and read mark)
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

// Online tells which users have a socket connected anywhere in the
// cluster (SPEC §3 presence, readable over REST). Chats implements it; nil
// means nobody is reported online.
type Online interface {
	Online(ctx context.Context, userIDs []string) (map[string]bool, error)
}

// APIConfig tunes the API. Zero values select the defaults.
type APIConfig struct {
	// MaxUpload caps an attachment's size in bytes. Zero means 10 MiB
	// (SPEC §6 "≤ 10 MB").
	MaxUpload int64
	// AllowedTypes lists the media types attachments may have, without
	// parameters ("image/png"). Nil means defaultAllowedTypes. See
	// attachments.go for how they are checked against the content.
	AllowedTypes []string
	// TrustedOrigins ("https://app.example.com") may send cookie-
	// authenticated POSTs cross-origin; normally the configured CORS origins
	// ("*" among them is ignored). Nil allows same-origin only.
	TrustedOrigins []string
}

// API serves the REST routes of stored chats. It is safe for concurrent
// use; it holds no per-request state.
type API struct {
	p         *event.Pipeline
	st        *store.Store
	blobs     Blobs
	verifier  *auth.Verifier
	presence  Online // nil: everyone offline
	csrf      *http.CrossOriginProtection
	maxUpload int64
	allowed   map[string]bool
}

// NewAPI builds the API on pipeline p. st, blobs (where attachment bytes
// live: store.Files or store.Blobs, see attachments.go) and v are
// required; presence may be nil. It fails on a malformed trusted origin or
// allowed type.
func NewAPI(p *event.Pipeline, st *store.Store, blobs Blobs, v *auth.Verifier, presence Online, cfg APIConfig) (*API, error) {
	if st == nil || v == nil || blobs == nil {
		return nil, errors.New("chats: api: store, blob store and verifier are required")
	}
	a := &API{
		p:         p,
		st:        st,
		blobs:     blobs,
		verifier:  v,
		presence:  presence,
		csrf:      http.NewCrossOriginProtection(),
		maxUpload: cfg.MaxUpload,
		allowed:   map[string]bool{},
	}
	if a.maxUpload <= 0 {
		a.maxUpload = defaultMaxUpload
	}
	if err := a.allowTypes(cfg.AllowedTypes); err != nil {
		return nil, err
	}
	for _, o := range cfg.TrustedOrigins {
		if o == "*" {
			// A wildcard CORS origin never carries cookies (browsers refuse
			// credentials with Access-Control-Allow-Origin: *), so it trusts
			// no origin with the cookie either.
			continue
		}
		if err := a.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("chats: api: trusted origin: %w", err)
		}
	}
	return a, nil
}

// allowTypes fills the attachment allow-list (nil: defaultAllowedTypes).
func (a *API) allowTypes(types []string) error {
	if types == nil {
		types = defaultAllowedTypes
	}
	for _, t := range types {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") {
			return fmt.Errorf("chats: api: allowed type %q: want a media type without parameters", t)
		}
		a.allowed[mt] = true
	}
	return nil
}

// route is one route of the API.
type route struct {
	pattern string // ServeMux pattern; the rate-limit rule is "http:" + pattern
	h       event.RouteFunc
}

func (a *API) routes() []route {
	return []route{
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

// Routes adds the chat routes to mux (Go 1.22 method patterns; GET routes
// answer HEAD too), each through the pipeline's Route: authenticated by
// identify, limited under "http:" + pattern. storeErr gives store failures
// the replies the socket events send (503 when the store is down, 409 for
// an archived chat, ...).
func (a *API) Routes(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		h := rt.h
		mux.Handle(rt.pattern, a.p.Route("http:"+rt.pattern, a.identify, func(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
			return storeErr(h(w, r, me))
		}))
	}
}

// IsAPIPath reports whether path is served by the API, so that the wiring
// gives it the REST treatment (CORS) like /api/.
func IsAPIPath(path string) bool {
	return path == "/chats" || strings.HasPrefix(path, "/chats/") || strings.HasPrefix(path, "/attachments/")
}

// apiRateRules are the default limits of the API's routes (SPEC §7 "sane
// ones elsewhere"), per user, else per IP: generous for reads a client
// polls or pages through, tighter for writes and uploads.
func apiRateRules() map[string]ratelimit.Rule {
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

// ---- chats ----

func (a *API) listChats(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	q := r.URL.Query()
	var c event.Check
	page := intParam(&c, q, "page", 1, maxPage, false)
	limit := intParam(&c, q, "limit", defaultChatsLimit, maxChatsLimit, true)
	archived := boolParam(&c, q, "archived")
	if err := c.Err(); err != nil {
		return err
	}
	chats, total, err := a.st.ChatsForUser(r.Context(), me.ID, store.ChatFilter{Archived: archived, Page: page, Limit: limit})
	if err != nil {
		return err
	}
	ids := make([]string, len(chats))
	for i, ch := range chats {
		ids[i] = ch.ID
	}
	unread, err := a.st.UnreadCounts(r.Context(), me.ID, ids)
	if err != nil {
		return err
	}
	out := restPage[restChat]{Data: make([]restChat, 0, len(chats)), Page: page, Limit: limit, Total: &total,
		HasMore: (page-1)*limit+len(chats) < total}
	for _, ch := range chats {
		v := restChatOf(ch)
		n := unread[ch.ID]
		v.UnreadCount = &n
		out.Data = append(out.Data, v)
	}
	event.WriteJSON(w, http.StatusOK, out)
	return nil
}

// createChatRequest is the body of POST /chats.
type createChatRequest struct {
	Kind      string   `json:"kind"`
	OrderID   string   `json:"orderId,omitempty"`
	Title     string   `json:"title,omitempty"`
	MemberIDs []string `json:"memberIds"`
}

// Validate implements event.Validator.
func (p createChatRequest) Validate() error {
	var c event.Check
	if c.Enum("kind", p.Kind, store.KindGeneral, store.KindOrder) {
		switch {
		case p.Kind == store.KindOrder && p.OrderID == "":
			c.Add("orderId", "Required when kind is 'order'.")
		case p.Kind == store.KindGeneral && p.OrderID != "":
			c.Add("orderId", "Must be empty when kind is 'general'.")
		}
	}
	if p.OrderID != "" {
		c.Text("orderId", p.OrderID, 1, maxOrderIDLen)
	}
	c.Text("title", p.Title, 0, maxTitleLen)
	if c.MaxItems("memberIds", len(p.MemberIDs), maxCreateMembers) {
		for i, id := range p.MemberIDs {
			c.Text("memberIds."+strconv.Itoa(i), id, 1, maxUserIDLen)
		}
	}
	return c.Err()
}

func (a *API) createChat(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
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
	event.WriteJSON(w, http.StatusCreated, restChatOf(ch))
	return nil
}

// memberOf returns the chat and the caller's membership: errChatNotFound
// for an unknown chat, errNotChatMember when the caller is not in it.
func (a *API) memberOf(ctx context.Context, chatID, userID string) (store.Chat, store.Membership, error) {
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
func (a *API) ownerOf(ctx context.Context, chatID, userID string) (store.Membership, error) {
	_, m, err := a.memberOf(ctx, chatID, userID)
	if err != nil {
		return store.Membership{}, err
	}
	if m.Role != store.RoleOwner {
		return store.Membership{}, errNotChatOwner
	}
	return m, nil
}

func (a *API) archiveChat(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
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
	event.WriteJSON(w, http.StatusOK, restChatOf(ch))
	return nil
}

// ---- members ----

// addMemberRequest is the body of POST /chats/{id}/members.
type addMemberRequest struct {
	UserID string `json:"userId"`
	Role   string `json:"role,omitempty"`
}

// Validate implements event.Validator.
func (p addMemberRequest) Validate() error {
	var c event.Check
	c.Text("userId", p.UserID, 1, maxUserIDLen)
	if p.Role != "" {
		c.Enum("role", p.Role, store.RoleOwner, store.RoleMember)
	}
	return c.Err()
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
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
	event.WriteJSON(w, http.StatusCreated, restMembership{
		ChatID: added.ChatID, UserID: added.UserID, Role: added.Role, JoinedAt: event.Time(added.JoinedAt),
	})
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
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
			a.p.Logger().Warn("presence lookup failed; members shown offline", "chat_id", m.ChatID, "err", err)
		} else {
			online = o
		}
	}
	marks, err := a.st.ReadMarks(ctx, m.ChatID)
	if err != nil {
		return err
	}
	lastRead := make(map[string]string, len(marks))
	for _, rm := range marks {
		lastRead[rm.UserID] = rm.MessageID
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
			JoinedAt: event.Time(mm.JoinedAt), Online: online[mm.UserID], LastReadMessageID: lastRead[mm.UserID],
		})
	}
	event.WriteJSON(w, http.StatusOK, out)
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
func (a *API) listMessages(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	_, m, err := a.memberOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var c event.Check
	page := intParam(&c, q, "page", 1, maxPage, false)
	limit := intParam(&c, q, "limit", defaultMessagesLimit, maxMessagesLimit, true)
	before, after := q.Get("before"), q.Get("after")
	if err := c.Err(); err != nil {
		return err
	}
	if before != "" && after != "" {
		return event.Invalid("after", "Cannot be combined with before.")
	}
	if (before != "" || after != "") && q.Has("page") {
		return event.Invalid("page", "Cannot be combined with before or after.")
	}

	var (
		msgs []store.Message
		out  = restPage[restMessage]{Limit: limit}
	)
	switch {
	case before != "":
		msgs, err = a.st.MessagesBefore(ctx, m.ChatID, before, limit+1)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return event.Invalid("before", "Unknown message id.")
		}
		if len(msgs) > limit {
			msgs, out.HasMore = msgs[:limit], true
		}
	case after != "":
		msgs, err = a.st.MessagesAfter(ctx, m.ChatID, after, limit+1)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return event.Invalid("after", "Unknown message id.")
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
	event.WriteJSON(w, http.StatusOK, out)
	return nil
}

// ---- decoding ----

// decodeRESTBody reads a JSON body of at most maxJSONBody bytes into v and
// validates it (event.Decode: field-named 400s).
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
		return &event.ValidationError{Issues: []event.Issue{{Message: "Invalid JSON"}}}
	}
	return event.Decode(raw, v)
}

// intParam parses query parameter name as an integer ≥ 1. Absent means def;
// above max it is clamped to max when clamp is set, else an issue.
func intParam(c *event.Check, q url.Values, name string, def, max int, clamp bool) int {
	s := q.Get(name)
	if !q.Has(name) {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		c.Add(name, fmt.Sprintf("Expected integer, received '%s'", s))
		return def
	case n < 1:
		c.Add(name, "Number must be greater than or equal to 1")
		return def
	case n > max && clamp:
		return max
	case n > max:
		c.Add(name, fmt.Sprintf("Number must be less than or equal to %d", max))
		return def
	}
	return n
}

// boolParam parses query parameter name as true/false (1/0); absent is false.
func boolParam(c *event.Check, q url.Values, name string) bool {
	if !q.Has(name) {
		return false
	}
	switch s := q.Get(name); s {
	case "true", "1":
		return true
	case "false", "0", "":
		return false
	default:
		c.Add(name, fmt.Sprintf("Expected boolean, received '%s'", s))
		return false
	}
}
