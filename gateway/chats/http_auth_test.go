package chats

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestHTTPToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		header     []string // Authorization values
		cookie     string
		query      string
		want       string
		fromCookie bool
		err        error
	}{
		{name: "Bearer", header: []string{"Bearer abc"}, want: "abc"},
		{name: "LowerCaseScheme", header: []string{"bearer  abc "}, want: "abc"},
		{name: "BasicIgnored", header: []string{"Basic dXNlcjpwdw=="}, err: auth.ErrNoToken},
		{name: "SecondHeader", header: []string{"Basic x", "Bearer abc"}, want: "abc"},
		{name: "EmptyBearerFallsToCookie", header: []string{"Bearer "}, cookie: "ck", want: "ck", fromCookie: true},
		{name: "Cookie", cookie: "ck", want: "ck", fromCookie: true},
		{name: "BearerBeatsCookie", header: []string{"Bearer abc"}, cookie: "ck", want: "abc"},
		{name: "QueryIgnored", query: "token=abc", err: auth.ErrNoToken},
		{name: "None", err: auth.ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/chats?"+tc.query, nil)
			for _, h := range tc.header {
				r.Header.Add("Authorization", h)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tc.cookie})
			}
			got, fromCookie, err := httpToken(r)
			if !errors.Is(err, tc.err) || got != tc.want || fromCookie != tc.fromCookie {
				t.Fatalf("got %q, %v, %v; want %q, %v, %v", got, fromCookie, err, tc.want, tc.fromCookie, tc.err)
			}
		})
	}
}

// TestChatAPI_Auth checks every way a REST request can fail to
// authenticate, and the CSRF guard on cookie-authenticated writes.
func TestChatAPI_Auth(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, nil, nil, APIConfig{TrustedOrigins: []string{"*", "https://app.example.com"}})
	now := time.Now()
	mint := func(secret []byte, ttl time.Duration, at time.Time) string {
		tok, err := auth.Mint(secret, auth.Identity{ID: "alice"}, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired := mint(apiSecret, time.Minute, now.Add(-time.Hour))
	forged := mint([]byte("another-secret-of-sufficient-length!!"), time.Hour, now)

	routes := []struct{ method, path string }{
		{"GET", "/chats"}, {"POST", "/chats"}, {"GET", "/chats/x/members"}, {"POST", "/chats/x/members"},
		{"GET", "/chats/x/messages"}, {"POST", "/chats/x/archive"}, {"POST", "/chats/x/attachments"},
		{"GET", "/attachments/x"},
	}
	for _, rt := range routes {
		t.Run(rt.method+rt.path, func(t *testing.T) {
			e.request(rt.method, rt.path, "", nil).wantError(t, http.StatusUnauthorized, "Authentication required", event.CodeUnauthorized)
			e.request(rt.method, rt.path, "not-a-jwt", nil).wantError(t, http.StatusUnauthorized, "Malformed token", event.CodeUnauthorized)
			e.request(rt.method, rt.path, forged, nil).wantError(t, http.StatusUnauthorized, "Invalid token signature", event.CodeUnauthorized)
			e.request(rt.method, rt.path, expired, nil).wantError(t, http.StatusUnauthorized, "Token expired", event.CodeUnauthorized)
		})
	}

	cookie := "Cookie: " + auth.CookieName + "=" + e.token("alice")
	body := `{"kind":"general","memberIds":[]}`
	t.Run("CookieRead", func(t *testing.T) {
		var p apiPage[jsonChat]
		e.request("GET", "/chats", "", nil, cookie, "Sec-Fetch-Site: cross-site").decode(t, http.StatusOK, &p)
	})
	t.Run("CookieBadToken", func(t *testing.T) {
		e.request("GET", "/chats", "", nil, "Cookie: "+auth.CookieName+"=garbage").
			wantError(t, http.StatusUnauthorized, "Malformed token", event.CodeUnauthorized)
	})
	t.Run("CookieWriteSameOrigin", func(t *testing.T) {
		var c jsonChat
		e.request("POST", "/chats", "", body, cookie, "Sec-Fetch-Site: same-origin").decode(t, http.StatusCreated, &c)
		if c.CreatorID != "alice" {
			t.Fatalf("created %+v", c)
		}
	})
	t.Run("CookieWriteNonBrowser", func(t *testing.T) {
		var c jsonChat
		e.request("POST", "/chats", "", body, cookie).decode(t, http.StatusCreated, &c)
	})
	t.Run("CookieWriteCrossSite", func(t *testing.T) {
		e.request("POST", "/chats", "", body, cookie, "Sec-Fetch-Site: cross-site").
			wantError(t, http.StatusForbidden, "Cross-origin request refused.", event.CodeForbidden)
		e.request("POST", "/chats", "", body, cookie, "Origin: https://evil.example").
			wantError(t, http.StatusForbidden, "Cross-origin request refused.", event.CodeForbidden)
	})
	t.Run("CookieWriteTrustedOrigin", func(t *testing.T) {
		var c jsonChat
		e.request("POST", "/chats", "", body, cookie, "Sec-Fetch-Site: cross-site", "Origin: https://app.example.com").
			decode(t, http.StatusCreated, &c)
	})
	t.Run("BearerWriteCrossSite", func(t *testing.T) {
		// A bearer token is never sent implicitly: no CSRF check.
		var c jsonChat
		e.request("POST", "/chats", e.token("alice"), body, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example").
			decode(t, http.StatusCreated, &c)
	})
}
