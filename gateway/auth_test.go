package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/socketio"
)

// TestAuth_Handshake is issue 4 acceptance 1 (socket part): on a namespace
// that requires auth, each of the four token sources is accepted at the
// handshake, and a missing, expired or forged token is refused with the
// exact connect_error.
// authUser is the user of the "authenticated" event.
type authUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

// authError is the seed's authError payload.
type authError struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

func TestAuth_Handshake(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{modes: map[string]AuthMode{"/chat": AuthRequired}})
	js := startJS(t, e.URL)
	good := mintToken(t, "alice", time.Hour)
	expired, err := auth.Mint(chatTestSecret, auth.Identity{ID: "alice"}, time.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.Mint([]byte("another-secret-of-enough-length-00"), auth.Identity{ID: "alice"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	accepted := []struct {
		name string
		opts map[string]any
	}{
		{"AuthToken", map[string]any{"auth": map[string]any{"token": good}}},
		{"QueryToken", map[string]any{"query": map[string]any{"token": good}}},
		{"BearerHeader", map[string]any{"extraHeaders": map[string]any{"Authorization": "Bearer " + good}}},
		{"Cookie", map[string]any{"extraHeaders": map[string]any{"Cookie": "Authentication=" + good}}},
		{"BearerHeaderWebSocketOnly", map[string]any{"transports": []string{"websocket"}, "extraHeaders": map[string]any{"Authorization": "Bearer " + good}}},
	}
	for i, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			c := fmt.Sprintf("ok%d", i)
			id := js.mustConnect(c, "/chat", tc.opts).ID
			// "authenticated" follows the join of the user room: wait for it
			// before looking at the room (the client sees "connect" first).
			var ev struct {
				User      authUser `json:"user"`
				Timestamp string   `json:"timestamp"`
			}
			js.expect(c, "authenticated").arg(t, 0, &ev)
			// The socket is in its user's room (every device of a user).
			socks, err := e.srv.chat.IO().In(event.UserRoom("alice")).FetchSockets(context.Background())
			if err != nil || !slices.ContainsFunc(socks, func(si socketio.SocketInfo) bool { return si.ID == id }) {
				t.Errorf("socket %s not in room user:alice (%d sockets, %v)", id, len(socks), err)
			}
			if ev.User != (authUser{ID: "alice", Email: "alice@example.com", Username: "alice"}) {
				t.Errorf("authenticated user = %+v", ev.User)
			}
			if _, err := time.Parse(time.RFC3339Nano, ev.Timestamp); err != nil {
				t.Errorf("authenticated timestamp: %v", err)
			}
			js.disconnect(c)
		})
	}

	refused := []struct {
		name, msg string
		opts      map[string]any
	}{
		{"NoToken", "Authentication required", map[string]any{}},
		{"Expired", "Token expired", map[string]any{"auth": map[string]any{"token": expired}}},
		{"Forged", "Invalid token signature", map[string]any{"auth": map[string]any{"token": forged}}},
		{"Garbage", "Malformed token", map[string]any{"query": map[string]any{"token": "not.a.jwt"}}},
		// The first source present wins: a bad auth.token is not rescued by a good cookie.
		{"BadTokenBeforeGoodCookie", "Invalid token signature", map[string]any{
			"auth":         map[string]any{"token": forged},
			"extraHeaders": map[string]any{"Cookie": "Authentication=" + good},
		}},
	}
	for i, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := js.connect(fmt.Sprintf("bad%d", i), "/chat", tc.opts)
			if r.Op != "connect_error" || r.Message != tc.msg {
				t.Fatalf("got %s %q, want connect_error %q", r.Op, r.Message, tc.msg)
			}
			var data event.Error
			if err := json.Unmarshal(r.Data, &data); err != nil || data != (event.Error{Code: event.CodeUnauthorized, Message: tc.msg}) {
				t.Fatalf("connect_error data = %s, want {code:%q, message:%q}", r.Data, event.CodeUnauthorized, tc.msg)
			}
		})
	}

	t.Run("UserRecorded", func(t *testing.T) {
		u, err := e.st.UserByID(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "alice Name" || u.Username != "alice" || u.Email != "alice@example.com" {
			t.Errorf("stored user = %+v", u)
		}
	})
}

// TestAuth_OptionalMode: anonymous sockets are admitted where auth is
// optional; a presented but invalid token is refused at the handshake on
// "/chat" and "/rooms", and gets the seed's authError then a disconnect on "/".
func TestAuth_OptionalMode(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	js := startJS(t, e.URL)
	forged, err := auth.Mint([]byte("another-secret-of-enough-length-00"), auth.Identity{ID: "x"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]any{"auth": map[string]any{"token": forged}}

	js.mustConnect("anon", "/chat", nil)
	js.expect("anon", "welcome")
	js.absent("anon", "authenticated", 100)
	// Identity-bound events refuse anonymous sockets without dropping them.
	ackFailed(t, js.emit("anon", "join", map[string]any{"chatId": "c1"}), event.CodeUnauthorized)
	js.absent("anon", "disconnect", 200)

	for _, ns := range []string{"/chat", "/rooms"} {
		r := js.connect("bad"+ns, ns, bad)
		if r.Op != "connect_error" || r.Message != "Invalid token signature" {
			t.Errorf("%s: got %s %q, want connect_error Invalid token signature", ns, r.Op, r.Message)
		}
	}

	js.mustConnect("root", "/", bad)
	var ae authError
	js.expect("root", "authError").arg(t, 0, &ae)
	if ae != (authError{Message: "Authentication failed", Error: "Invalid token signature"}) {
		t.Errorf("authError = %+v", ae)
	}
	var reason string
	js.expect("root", "disconnect").arg(t, 0, &reason)
	if reason != "io server disconnect" {
		t.Errorf("disconnect reason = %q", reason)
	}

	js.mustConnect("rootOK", "/", map[string]any{"auth": map[string]any{"token": mintToken(t, "bob", time.Hour)}})
	js.expect("rootOK", "authenticated")
}

// TestAuth_Expiry: a socket is dropped when its token expires.
func TestAuth_Expiry(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{modes: map[string]AuthMode{"/chat": AuthRequired}})
	js := startJS(t, e.URL)
	start := time.Now()
	js.mustConnect("short", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "alice", 2*time.Second)}})
	js.mustConnect("long", "/chat", map[string]any{"auth": map[string]any{"token": mintToken(t, "bob", time.Hour)}})
	var ae authError
	r := js.do(map[string]any{"op": "expect", "c": "short", "event": "authError", "timeout": 6000})
	if r.Op != "event" {
		t.Fatal("no authError at expiry")
	}
	r.arg(t, 0, &ae)
	if ae.Error != "Token expired" {
		t.Errorf("authError = %+v", ae)
	}
	var reason string
	js.expect("short", "disconnect").arg(t, 0, &reason)
	if reason != "io server disconnect" {
		t.Errorf("disconnect reason = %q", reason)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("dropped after %v, before the token expired", el)
	}
	js.absent("long", "disconnect", 100)
}

func TestParseAuthMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AuthMode
		err  bool
	}{
		{"", AuthOptional, false},
		{"optional", AuthOptional, false},
		{"required", AuthRequired, false},
		{"Required", "", true},
		{"none", "", true},
	} {
		got, err := ParseAuthMode(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseAuthMode(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "optional or required") {
			t.Errorf("error %q does not name the choices", err)
		}
	}
}
