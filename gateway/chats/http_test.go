package chats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// apiSecret signs the chat API tests' tokens.
var apiSecret = []byte("chat-api-test-secret-0123456789abcdef")

// apiOnline is a fixed presence view for the members endpoint.
type apiOnline map[string]bool

func (o apiOnline) Online(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		if o[id] {
			out[id] = true
		}
	}
	return out, nil
}

// apiEnv is the chat API on a real store, served by httptest.
type apiEnv struct {
	t       *testing.T
	st      *store.Store
	blobs   Blobs
	api     *API
	metrics *event.Metrics
	url     string
	http    *http.Client
}

// newAPIEnv serves NewAPI over st with rules (nil: none) and cfg, on a
// pipeline of its own (no Socket.IO server: routes only), with attachment
// bytes in a directory of its own.
func newAPIEnv(t *testing.T, st *store.Store, rules map[string]ratelimit.Rule, online Online, cfg APIConfig) *apiEnv {
	t.Helper()
	return newAPIEnvOn(t, st, store.Files{Dir: t.TempDir()}, rules, online, cfg)
}

// newAPIEnvOn is newAPIEnv with attachment bytes in blobs.
func newAPIEnvOn(t *testing.T, st *store.Store, blobs Blobs, rules map[string]ratelimit.Rule, online Online, cfg APIConfig) *apiEnv {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := ratelimit.New(ratelimit.Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	m := event.NewMetrics()
	api, err := NewAPI(event.New(nil, lim, m, event.Config{}), st, blobs, v, online, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, st: st, blobs: blobs, api: api, metrics: m, url: srv.URL, http: srv.Client()}
}

// token mints a valid token for user id.
func (e *apiEnv) token(id string) string {
	e.t.Helper()
	tok, err := auth.Mint(apiSecret, auth.Identity{ID: id, Name: "Name of " + id, Username: id}, time.Hour, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// apiResp is a finished response with its body read.
type apiResp struct {
	status int
	header http.Header
	body   []byte
}

// request sends method path with the bearer token (none when empty) and
// body: a string or []byte as is, anything else as JSON. Extra headers are
// "Name: value" strings.
func (e *apiEnv) request(method, path, token string, body any, headers ...string) apiResp {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return apiResp{status: res.StatusCode, header: res.Header, body: raw}
}

// wantError checks an error reply: status and the exact NestJS body.
func (r apiResp) wantError(t *testing.T, status int, message, code string) {
	t.Helper()
	want, _ := json.Marshal(struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Error      string `json:"error,omitempty"`
	}{status, message, code})
	if r.status != status || strings.TrimSpace(string(r.body)) != string(want) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, want)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// wantLimited checks a rate-limit refusal of a 1h rule: 429, Retry-After
// within the hour's window, and the same wait in the NestJS body. (Rules in
// tests are per hour: windows are aligned to the clock, and a burst of test
// requests must not straddle two of them.)
func (r apiResp) wantLimited(t *testing.T) {
	t.Helper()
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 3600 {
		t.Fatalf("Retry-After %q, want 1..3600 (status %d)", r.header.Get("Retry-After"), r.status)
	}
	r.wantError(t, http.StatusTooManyRequests, fmt.Sprintf("Too many requests, retry in %ds.", ra), event.CodeRateLimited)
}

// decode checks the status and decodes the JSON body into v.
func (r apiResp) decode(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// mustChat creates a chat owned by owner with members.
func mustChat(t *testing.T, st *store.Store, owner string, members ...string) store.Chat {
	t.Helper()
	c, err := st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, CreatorID: owner, MemberIDs: members})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustMessages stores n messages "m1".."mn" from sender and returns them
// in order.
func mustMessages(t *testing.T, st *store.Store, chatID, sender string, n int) []store.Message {
	t.Helper()
	var out []store.Message
	for i := 1; i <= n; i++ {
		m, _, err := st.CreateMessage(context.Background(), store.NewMessage{ChatID: chatID, SenderID: sender, Content: "m" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// JSON mirrors of the reply views: event.Time only encodes, so the tests
// read times as strings (the outer field shadows the embedded one).
type (
	jsonChat struct {
		restChat
		ArchivedAt *string `json:"archivedAt"`
		ActivityAt string  `json:"activityAt"`
		CreatedAt  string  `json:"createdAt"`
	}
	jsonMessage struct {
		restMessage
		Timestamp string `json:"timestamp"`
	}
	jsonMember struct {
		restMember
		JoinedAt string `json:"joinedAt"`
	}
	jsonMembership struct {
		restMembership
		JoinedAt string `json:"joinedAt"`
	}
)

// isJSTime reports whether s is a JavaScript Date's JSON form.
func isJSTime(s string) bool {
	_, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	return err == nil
}

// apiPage is a decoded page envelope.
type apiPage[T any] struct {
	Data    []T  `json:"data"`
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Total   *int `json:"total"`
	HasMore bool `json:"hasMore"`
}

func TestChatAPI_CreateChat(t *testing.T) {
	e := newAPIEnv(t, storetest.Open(t, store.DialectSQLite), nil, nil, APIConfig{})
	alice := e.token("alice")

	t.Run("Order", func(t *testing.T) {
		var c jsonChat
		e.request("POST", "/chats", alice, map[string]any{
			"kind": "order", "orderId": "order-42", "title": "Order 42", "memberIds": []string{"bob", "bob", "alice"},
		}).decode(t, http.StatusCreated, &c)
		if c.ID == "" || c.Kind != "order" || c.OrderID != "order-42" || c.Title != "Order 42" || c.CreatorID != "alice" || c.Archived ||
			c.ArchivedAt != nil || !isJSTime(c.CreatedAt) || c.ActivityAt != c.CreatedAt || c.LastSeq != 0 {
			t.Fatalf("chat %+v", c)
		}
		members, err := e.st.Members(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 2 || members[0].UserID != "alice" || members[0].Role != store.RoleOwner ||
			members[1].UserID != "bob" || members[1].Role != store.RoleMember {
			t.Fatalf("members %+v", members)
		}
		u, err := e.st.UserByID(context.Background(), "alice")
		if err != nil || u.Name != "Name of alice" {
			t.Fatalf("creator recorded as %+v, %v", u, err)
		}
	})
	t.Run("GeneralEmptyMembers", func(t *testing.T) {
		var c jsonChat
		e.request("POST", "/chats", alice, `{"kind":"general","memberIds":[]}`).decode(t, http.StatusCreated, &c)
		if c.Kind != "general" || c.OrderID != "" {
			t.Fatalf("chat %+v", c)
		}
	})

	tooMany := make([]string, maxCreateMembers+1)
	for i := range tooMany {
		tooMany[i] = "u" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"NoBody", "", "Required"},
		{"InvalidJSON", `{"kind":`, "Invalid JSON"},
		{"NotObject", `[]`, "Expected object, received array"},
		{"KindMissing", `{"memberIds":[]}`, "kind: Required"},
		{"KindUnknown", `{"kind":"group","memberIds":[]}`, "kind: Invalid enum value. Expected 'general' | 'order', received 'group'"},
		{"KindNotString", `{"kind":1,"memberIds":[]}`, "kind: Expected string, received number"},
		{"MemberIDsMissing", `{"kind":"general"}`, "memberIds: Required"},
		{"MemberIDsNotArray", `{"kind":"general","memberIds":"bob"}`, "memberIds: Expected array, received string"},
		{"MemberIDNotString", `{"kind":"general","memberIds":["bob",7]}`, "memberIds.1: Expected string, received number"},
		{"MemberIDEmpty", `{"kind":"general","memberIds":["bob",""]}`, "memberIds.1: String must contain at least 1 character(s)"},
		{"MemberIDTooLong", map[string]any{"kind": "general", "memberIds": []string{strings.Repeat("x", maxUserIDLen+1)}},
			fmt.Sprintf("memberIds.0: String must contain at most %d character(s)", maxUserIDLen)},
		{"TooManyMembers", map[string]any{"kind": "general", "memberIds": tooMany},
			fmt.Sprintf("memberIds: Array must contain at most %d element(s)", maxCreateMembers)},
		{"OrderWithoutOrderID", `{"kind":"order","memberIds":[]}`, "orderId: Required when kind is 'order'."},
		{"GeneralWithOrderID", `{"kind":"general","orderId":"o1","memberIds":[]}`, "orderId: Must be empty when kind is 'general'."},
		{"OrderIDNull", `{"kind":"order","orderId":null,"memberIds":[]}`, "orderId: Expected string, received null"},
		{"TitleTooLong", map[string]any{"kind": "general", "title": strings.Repeat("é", maxTitleLen+1), "memberIds": []string{}},
			fmt.Sprintf("title: String must contain at most %d character(s)", maxTitleLen)},
		{"TitleControl", `{"kind":"general","title":"a\nb","memberIds":[]}`, "title: Must not contain control characters."},
		{"Several", `{"kind":"order","title":7}`, "title: Expected string, received number; memberIds: Required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.request("POST", "/chats", alice, tc.body).wantError(t, http.StatusBadRequest, tc.msg, event.CodeInvalidPayload)
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		e.request("POST", "/chats", alice, strings.NewReader(`{"kind":"general","memberIds":[]}`), "Content-Type: text/plain").
			wantError(t, http.StatusUnsupportedMediaType, "Content-Type must be application/json.", "unsupported_media_type")
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		big := `{"kind":"general","memberIds":[],"title":"` + strings.Repeat("x", maxJSONBody) + `"}`
		e.request("POST", "/chats", alice, big).
			wantError(t, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body exceeds %d bytes.", maxJSONBody), event.CodePayloadTooLarge)
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		e.request("POST", "/chats", "", `{"kind":"general","memberIds":[]}`).
			wantError(t, http.StatusUnauthorized, "Authentication required", event.CodeUnauthorized)
	})
}

func TestChatAPI_ListChats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPIEnv(t, st, nil, nil, APIConfig{})
		ctx := context.Background()
		alice := e.token("alice")

		var empty apiPage[jsonChat]
		e.request("GET", "/chats", alice, nil).decode(t, http.StatusOK, &empty)
		if empty.Data == nil || len(empty.Data) != 0 || empty.Total == nil || *empty.Total != 0 || empty.Page != 1 ||
			empty.Limit != defaultChatsLimit || empty.HasMore {
			t.Fatalf("empty list %+v (%s)", empty, e.request("GET", "/chats", alice, nil).body)
		}

		var ids []string // oldest first
		for range 5 {
			ids = append(ids, mustChat(t, st, "alice", "bob").ID)
		}
		mustChat(t, st, "carol") // not alice's
		// Activity reorders: a message in the oldest chat makes it newest.
		mustMessages(t, st, ids[0], "bob", 1)
		if _, err := st.ArchiveChat(ctx, ids[1], "alice"); err != nil {
			t.Fatal(err)
		}
		// Active chats, newest activity first: ids[0], ids[4], ids[3], ids[2].
		want := []string{ids[0], ids[4], ids[3], ids[2]}

		var p1, p2, p3 apiPage[jsonChat]
		e.request("GET", "/chats?page=1&limit=3", alice, nil).decode(t, http.StatusOK, &p1)
		e.request("GET", "/chats?page=2&limit=3", alice, nil).decode(t, http.StatusOK, &p2)
		e.request("GET", "/chats?page=3&limit=3", alice, nil).decode(t, http.StatusOK, &p3)
		got := append(chatIDs(p1.Data), chatIDs(p2.Data)...)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("pages %v, want %v", got, want)
		}
		if *p1.Total != 4 || !p1.HasMore || p1.Page != 1 || p1.Limit != 3 || *p2.Total != 4 || p2.HasMore || len(p3.Data) != 0 || p3.HasMore {
			t.Fatalf("envelopes %+v / %+v / %+v", p1, p2, p3)
		}
		if p1.Data[0].LastSeq != 1 || p1.Data[0].LastMessageID == "" {
			t.Fatalf("activity fields %+v", p1.Data[0])
		}

		var all apiPage[jsonChat]
		e.request("GET", "/chats?archived=true", alice, nil).decode(t, http.StatusOK, &all)
		if *all.Total != 5 || len(all.Data) != 5 {
			t.Fatalf("with archived: %+v", all)
		}
		for _, c := range all.Data {
			if c.ID == ids[1] && (!c.Archived || c.ArchivedAt == nil) {
				t.Fatalf("archived chat shown as %+v", c)
			}
		}

		var capped apiPage[jsonChat]
		e.request("GET", "/chats?limit=1000", alice, nil).decode(t, http.StatusOK, &capped)
		if capped.Limit != maxChatsLimit {
			t.Fatalf("limit 1000 applied as %d", capped.Limit)
		}

		for _, tc := range []struct{ query, msg string }{
			{"page=0", "page: Number must be greater than or equal to 1"},
			{"page=x", "page: Expected integer, received 'x'"},
			{"page=2000000", fmt.Sprintf("page: Number must be less than or equal to %d", maxPage)},
			{"limit=-1", "limit: Number must be greater than or equal to 1"},
			{"limit=", "limit: Expected integer, received ''"},
			{"archived=yes", "archived: Expected boolean, received 'yes'"},
			{"page=0&limit=a", "page: Number must be greater than or equal to 1; limit: Expected integer, received 'a'"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				e.request("GET", "/chats?"+tc.query, alice, nil).wantError(t, http.StatusBadRequest, tc.msg, event.CodeInvalidPayload)
			})
		}
	})
}

func chatIDs(cs []jsonChat) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestChatAPI_Members(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPIEnv(t, st, nil, apiOnline{"bob": true, "mallory": true}, APIConfig{})
		ctx := context.Background()
		if err := st.UpsertUser(ctx, store.User{ID: "bob", Name: "Bob B", Username: "bobby"}); err != nil {
			t.Fatal(err)
		}
		c := mustChat(t, st, "alice", "bob")
		alice, bob, mallory := e.token("alice"), e.token("bob"), e.token("mallory")
		path := "/chats/" + c.ID + "/members"

		t.Run("List", func(t *testing.T) {
			var ms []jsonMember
			e.request("GET", path, bob, nil).decode(t, http.StatusOK, &ms)
			if len(ms) != 2 || ms[0].UserID != "alice" || ms[0].Role != "owner" || ms[0].Online ||
				ms[1].UserID != "bob" || ms[1].Role != "member" || !ms[1].Online || ms[1].Name != "Bob B" || ms[1].Username != "bobby" {
				t.Fatalf("members %+v", ms)
			}
		})
		t.Run("ListNoPresence", func(t *testing.T) {
			e2 := newAPIEnv(t, st, nil, nil, APIConfig{})
			var ms []jsonMember
			e2.request("GET", path, e2.token("bob"), nil).decode(t, http.StatusOK, &ms)
			if len(ms) != 2 || ms[0].Online || ms[1].Online {
				t.Fatalf("members without presence %+v", ms)
			}
		})
		t.Run("ListNonMember", func(t *testing.T) {
			e.request("GET", path, mallory, nil).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		})
		t.Run("ListUnknownChat", func(t *testing.T) {
			e.request("GET", "/chats/nope/members", alice, nil).wantError(t, http.StatusNotFound, "Chat not found.", event.CodeNotFound)
		})
		t.Run("AddByOwner", func(t *testing.T) {
			var m jsonMembership
			e.request("POST", path, alice, `{"userId":"carol"}`).decode(t, http.StatusCreated, &m)
			if m.ChatID != c.ID || m.UserID != "carol" || m.Role != "member" || !isJSTime(m.JoinedAt) {
				t.Fatalf("added %+v", m)
			}
			e.request("POST", path, alice, `{"userId":"dave","role":"owner"}`).decode(t, http.StatusCreated, &m)
			if m.Role != "owner" {
				t.Fatalf("added %+v", m)
			}
			// A new owner may add members too.
			e.request("POST", path, e.token("dave"), `{"userId":"erin"}`).decode(t, http.StatusCreated, &m)
		})
		t.Run("AddTwice", func(t *testing.T) {
			e.request("POST", path, alice, `{"userId":"bob"}`).wantError(t, http.StatusConflict, "userId is already a member of this chat.", event.CodeConflict)
		})
		t.Run("AddByMember", func(t *testing.T) {
			e.request("POST", path, bob, `{"userId":"frank"}`).wantError(t, http.StatusForbidden, "Only an owner of this chat can do this.", event.CodeForbidden)
		})
		t.Run("AddByNonMember", func(t *testing.T) {
			e.request("POST", path, mallory, `{"userId":"mallory"}`).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		})
		t.Run("AddUnknownChat", func(t *testing.T) {
			e.request("POST", "/chats/nope/members", alice, `{"userId":"x"}`).wantError(t, http.StatusNotFound, "Chat not found.", event.CodeNotFound)
		})
		for _, tc := range []struct{ name, body, msg string }{
			{"NoUserID", `{}`, "userId: Required"},
			{"EmptyUserID", `{"userId":""}`, "userId: String must contain at least 1 character(s)"},
			{"BadRole", `{"userId":"x","role":"admin"}`, "role: Invalid enum value. Expected 'owner' | 'member', received 'admin'"},
		} {
			t.Run("Add"+tc.name, func(t *testing.T) {
				e.request("POST", path, alice, tc.body).wantError(t, http.StatusBadRequest, tc.msg, event.CodeInvalidPayload)
			})
		}
	})
}

// TestChatAPI_Messages runs history paging at its edges on both dialects.
func TestChatAPI_Messages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPIEnv(t, st, nil, nil, APIConfig{})
		ctx := context.Background()
		if err := st.UpsertUser(ctx, store.User{ID: "bob", Name: "Bob B"}); err != nil {
			t.Fatal(err)
		}
		c := mustChat(t, st, "alice", "bob")
		other := mustChat(t, st, "alice")
		alice := e.token("alice")
		base := "/chats/" + c.ID + "/messages"
		get := func(t *testing.T, query string) apiPage[jsonMessage] {
			t.Helper()
			var p apiPage[jsonMessage]
			e.request("GET", base+query, alice, nil).decode(t, http.StatusOK, &p)
			return p
		}
		contents := func(p apiPage[jsonMessage]) string {
			var s []string
			for _, m := range p.Data {
				s = append(s, m.Content)
			}
			return strings.Join(s, ",")
		}

		t.Run("EmptyChat", func(t *testing.T) {
			p := get(t, "")
			if p.Data == nil || len(p.Data) != 0 || *p.Total != 0 || p.HasMore || p.Page != 1 || p.Limit != defaultMessagesLimit {
				t.Fatalf("empty history %+v", p)
			}
		})

		ms := mustMessages(t, st, c.ID, "bob", 6)
		otherMsg := mustMessages(t, st, other.ID, "alice", 1)[0]

		t.Run("Shape", func(t *testing.T) {
			p := get(t, "?limit=1")
			m := p.Data[0]
			if m.ID != ms[5].ID || m.ChatID != c.ID || m.Seq != 6 || m.SenderID != "bob" || m.Content != "m6" ||
				m.Sender.ID != "bob" || m.Sender.FullName != "Bob B" || m.Attachments == nil || !isJSTime(m.Timestamp) {
				t.Fatalf("message %+v", m)
			}
		})
		for _, tc := range []struct {
			name, query, want string
			total             int // -1: cursor page (no total)
			more              bool
		}{
			{"Page1", "?limit=3", "m6,m5,m4", 6, true},
			{"Page2ExactBoundary", "?page=2&limit=3", "m3,m2,m1", 6, false},
			{"PastTheEnd", "?page=3&limit=3", "", 6, false},
			{"PartialLastPage", "?page=2&limit=4", "m2,m1", 6, false},
			{"WholeChat", "?limit=6", "m6,m5,m4,m3,m2,m1", 6, false},
			{"BeforeMore", "?before=" + ms[4].ID + "&limit=3", "m4,m3,m2", -1, true},
			{"BeforeExactBoundary", "?before=" + ms[3].ID + "&limit=3", "m3,m2,m1", -1, false},
			{"BeforeOldest", "?before=" + ms[0].ID, "", -1, false},
			{"AfterMore", "?after=" + ms[1].ID + "&limit=3", "m5,m4,m3", -1, true},
			{"AfterExactBoundary", "?after=" + ms[2].ID + "&limit=3", "m6,m5,m4", -1, false},
			{"AfterNewest", "?after=" + ms[5].ID, "", -1, false},
			{"AfterDefaultLimit", "?after=" + ms[0].ID, "m6,m5,m4,m3,m2", -1, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := get(t, tc.query)
				if got := contents(p); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				if p.HasMore != tc.more {
					t.Fatalf("hasMore %v, want %v", p.HasMore, tc.more)
				}
				if tc.total < 0 && (p.Total != nil || p.Page != 0) || tc.total >= 0 && (p.Total == nil || *p.Total != tc.total) {
					t.Fatalf("total %v page %d, want %d", p.Total, p.Page, tc.total)
				}
			})
		}
		t.Run("LimitCapped", func(t *testing.T) {
			if p := get(t, "?limit=5000"); p.Limit != maxMessagesLimit || len(p.Data) != 6 {
				t.Fatalf("limit 5000 → %d, %d messages", p.Limit, len(p.Data))
			}
		})
		for _, tc := range []struct{ name, query, msg string }{
			{"UnknownBefore", "?before=01ARZ3NDEKTSV4RRFFQ69G5FAV", "before: Unknown message id."},
			{"MalformedBefore", "?before=nope", "before: Unknown message id."},
			{"BeforeOfOtherChat", "?before=" + otherMsg.ID, "before: Unknown message id."},
			{"UnknownAfter", "?after=01ARZ3NDEKTSV4RRFFQ69G5FAV", "after: Unknown message id."},
			{"BeforeAndAfter", "?before=" + ms[4].ID + "&after=" + ms[1].ID, "after: Cannot be combined with before."},
			{"PageWithCursor", "?page=2&before=" + ms[4].ID, "page: Cannot be combined with before or after."},
			{"BadLimit", "?limit=0", "limit: Number must be greater than or equal to 1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.request("GET", base+tc.query, alice, nil).wantError(t, http.StatusBadRequest, tc.msg, event.CodeInvalidPayload)
			})
		}
		t.Run("NonMember", func(t *testing.T) {
			e.request("GET", base, e.token("mallory"), nil).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		})
		t.Run("UnknownChat", func(t *testing.T) {
			e.request("GET", "/chats/nope/messages", alice, nil).wantError(t, http.StatusNotFound, "Chat not found.", event.CodeNotFound)
		})
	})
}

func TestChatAPI_Archive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPIEnv(t, st, nil, nil, APIConfig{})
		c := mustChat(t, st, "alice", "bob")
		mustMessages(t, st, c.ID, "bob", 2)
		alice, bob := e.token("alice"), e.token("bob")
		path := "/chats/" + c.ID + "/archive"

		e.request("POST", path, bob, nil).wantError(t, http.StatusForbidden, "Only an owner of this chat can do this.", event.CodeForbidden)
		e.request("POST", path, e.token("mallory"), nil).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		e.request("POST", "/chats/nope/archive", alice, nil).wantError(t, http.StatusNotFound, "Chat not found.", event.CodeNotFound)

		var got jsonChat
		e.request("POST", path, alice, nil).decode(t, http.StatusOK, &got)
		if !got.Archived || got.ArchivedAt == nil || !isJSTime(*got.ArchivedAt) || got.ID != c.ID {
			t.Fatalf("archived chat %+v", got)
		}
		e.request("POST", path, alice, nil).decode(t, http.StatusOK, &got) // idempotent
		if !got.Archived {
			t.Fatalf("second archive %+v", got)
		}

		// Read-only: no members, no attachments; history still readable.
		e.request("POST", "/chats/"+c.ID+"/members", alice, `{"userId":"carol"}`).
			wantError(t, http.StatusConflict, "This chat is archived and read-only.", event.CodeConflict)
		body, ctype := multipartBody(t, "note.txt", "text/plain", []byte("hello"))
		e.request("POST", "/chats/"+c.ID+"/attachments", alice, body, "Content-Type: "+ctype).
			wantError(t, http.StatusConflict, "This chat is archived and read-only.", event.CodeConflict)
		var p apiPage[jsonMessage]
		e.request("GET", "/chats/"+c.ID+"/messages", bob, nil).decode(t, http.StatusOK, &p)
		if len(p.Data) != 2 {
			t.Fatalf("history of archived chat: %+v", p)
		}
		var list apiPage[jsonChat]
		e.request("GET", "/chats", alice, nil).decode(t, http.StatusOK, &list)
		if len(list.Data) != 0 {
			t.Fatalf("archived chat listed without archived=true: %+v", list)
		}
	})
}

func TestChatAPI_RateLimit(t *testing.T) {
	rules := map[string]ratelimit.Rule{
		"http:GET /chats":                   {Limit: 2, Period: time.Hour},
		"http:GET /chats/{id}/messages":     {Limit: 1, Period: time.Hour},
		"http:POST /chats/{id}/archive":     {Limit: 0}, // unlimited: no headers
		"http:POST /chats/{id}/members":     {Limit: 5, Period: time.Hour},
		"http:GET /attachments/{id}":        {Limit: 5, Period: time.Hour},
		"http:POST /chats/{id}/attachments": {Limit: 5, Period: time.Hour},
	}
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, rules, nil, APIConfig{})
	alice, bob := e.token("alice"), e.token("bob")

	for i, want := range []string{"1", "0"} {
		r := e.request("GET", "/chats", alice, nil)
		if r.status != http.StatusOK || r.header.Get("X-RateLimit-Limit") != "2" || r.header.Get("X-RateLimit-Remaining") != want ||
			r.header.Get("X-RateLimit-Reset") == "" || r.header.Get("Retry-After") != "" {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r := e.request("GET", "/chats", alice, nil)
	r.wantLimited(t)
	if r.header.Get("X-RateLimit-Limit") != "2" || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("429 headers %v", r.header)
	}

	// Per user: bob has his own window; per route: another route is not affected.
	if r := e.request("GET", "/chats", bob, nil); r.status != http.StatusOK {
		t.Fatalf("bob limited by alice's window: %d", r.status)
	}
	c := mustChat(t, st, "alice")
	if r := e.request("POST", "/chats/"+c.ID+"/archive", alice, nil); r.status != http.StatusOK || r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("unlimited route: %d %v", r.status, r.header)
	}

	// Unauthenticated requests count per IP, before they are refused.
	e.request("GET", "/chats/"+c.ID+"/messages", "", nil).wantError(t, http.StatusUnauthorized, "Authentication required", event.CodeUnauthorized)
	e.request("GET", "/chats/"+c.ID+"/messages", "bad.token.here", nil).wantLimited(t)
	// ...while a user's own key is separate from the IP's.
	if r := e.request("GET", "/chats/"+c.ID+"/messages", alice, nil); r.status != http.StatusOK {
		t.Fatalf("alice limited by the IP's window: %d %s", r.status, r.body)
	}
}

func TestChatAPI_New(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	v, err := auth.NewVerifier(auth.Config{Secret: apiSecret})
	if err != nil {
		t.Fatal(err)
	}
	files := store.Files{Dir: t.TempDir()}
	p := event.New(nil, nil, event.NewMetrics(), event.Config{})
	for _, tc := range []struct {
		name string
		cfg  APIConfig
		ok   bool
	}{
		{"Defaults", APIConfig{}, true},
		{"Types", APIConfig{AllowedTypes: []string{"application/json", "image/png"}}, true},
		{"TypeWithParams", APIConfig{AllowedTypes: []string{"text/plain; charset=utf-8"}}, false},
		{"TypeNoSlash", APIConfig{AllowedTypes: []string{"png"}}, false},
		{"Origin", APIConfig{TrustedOrigins: []string{"https://app.example.com"}}, true},
		{"BadOrigin", APIConfig{TrustedOrigins: []string{"app.example.com/x"}}, false},
		{"WildcardOriginIgnored", APIConfig{TrustedOrigins: []string{"*", "https://app.example.com"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAPI(p, st, files, v, nil, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err == nil && a.maxUpload != defaultMaxUpload {
				t.Fatalf("maxUpload %d", a.maxUpload)
			}
		})
	}
	if _, err := NewAPI(p, nil, files, v, nil, APIConfig{}); err == nil {
		t.Fatal("nil store accepted")
	}
	if _, err := NewAPI(p, st, nil, v, nil, APIConfig{}); err == nil {
		t.Fatal("nil blob store accepted")
	}
}

// TestChatAPI_RateRules checks that every route has a default rule named
// after its pattern, and no rule names a route that does not exist.
func TestChatAPI_RateRules(t *testing.T) {
	e := newAPIEnv(t, storetest.Open(t, store.DialectSQLite), nil, nil, APIConfig{})
	rules := apiRateRules()
	routes := e.api.routes()
	if len(rules) != len(routes) {
		t.Fatalf("%d rules for %d routes", len(rules), len(routes))
	}
	for _, rt := range routes {
		r, ok := rules["http:"+rt.pattern]
		if !ok || r.Limit <= 0 || r.Period <= 0 {
			t.Errorf("route %q: default rule %+v, %v", rt.pattern, r, ok)
		}
	}
}

// TestChatAPI_Metrics checks that refusals are counted in the gateway's
// series: errors by code (415 included) and rate-limit refusals by rule.
func TestChatAPI_Metrics(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, map[string]ratelimit.Rule{"http:GET /chats": {Limit: 1, Period: time.Hour}}, nil, APIConfig{})
	alice := e.token("alice")
	c := mustChat(t, st, "alice")
	e.request("GET", "/chats", alice, nil)
	e.request("GET", "/chats", alice, nil).wantLimited(t)
	e.request("POST", "/chats", "", `{}`).wantError(t, http.StatusUnauthorized, "Authentication required", event.CodeUnauthorized)
	e.upload(c.ID, alice, "x.html", "", sampleHTML).
		wantError(t, http.StatusUnsupportedMediaType, "Files of type text/html are not accepted.", "unsupported_media_type")

	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{
		`sockgate_errors_total{code="rate_limited"} 1`,
		`sockgate_errors_total{code="unauthorized"} 1`,
		`sockgate_errors_total{code="unsupported_media_type"} 1`,
		`sockgate_ratelimit_refusals_total{rule="http:GET /chats"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// TestChatAPI_StoreDown checks that a store that cannot answer is a 503,
// not a 500 with its detail.
func TestChatAPI_StoreDown(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, nil, nil, APIConfig{})
	alice := e.token("alice")
	c := mustChat(t, st, "alice")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e.request("GET", "/chats", alice, nil).wantError(t, http.StatusServiceUnavailable, "The chat store is unavailable; try again later.", event.CodeUnavailable)
	e.request("GET", "/chats/"+c.ID+"/messages", alice, nil).wantError(t, http.StatusServiceUnavailable, "The chat store is unavailable; try again later.", event.CodeUnavailable)
}

func TestIsAPIPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/chats": true, "/chats/": true, "/chats/x/messages": true, "/attachments/x": true,
		"/chatsx": false, "/attachments": false, "/api/rooms": false, "/": false, "/socket.io/": false,
	} {
		if got := IsAPIPath(path); got != want {
			t.Errorf("IsAPIPath(%q) = %v, want %v", path, got, want)
		}
	}
}
