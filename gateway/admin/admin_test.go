package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/socketio"
	"golang.org/x/crypto/bcrypt"
)

func TestSessions(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := newSessions("$2a$10$hash", time.Hour, clock)
	id := s.mint()
	if len(id) != sessionLen || !s.valid(id) {
		t.Fatalf("fresh session %q not valid", id)
	}
	if s.mint() == id {
		t.Error("two sessions share an id")
	}
	other := newSessions("$2a$10$other", time.Hour, clock)
	tampered := []byte(id)
	tampered[20] ^= 1 // the expiry
	for name, tc := range map[string]struct {
		s  sessions
		id string
	}{
		"OtherPasswordHash": {other, id},
		"TamperedExpiry":    {s, string(tampered)},
		"NotHex":            {s, strings.Repeat("z", sessionLen)},
		"Short":             {s, id[:16]},
		"Empty":             {s, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.s.valid(tc.id) {
				t.Errorf("%q accepted", tc.id)
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		later := newSessions("$2a$10$hash", time.Hour, func() time.Time { return now.Add(time.Hour) })
		if later.valid(id) {
			t.Error("a session is valid after its TTL")
		}
	})
}

func TestConfig_Check(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"Valid":       {Config{User: "a", PasswordHash: string(h)}, ""},
		"Production":  {Config{User: "a", PasswordHash: string(h), Mode: Production}, ""},
		"NoUser":      {Config{PasswordHash: string(h)}, "user name is required"},
		"PlainText":   {Config{User: "a", PasswordHash: "secret"}, "valid bcrypt hash"},
		"UnknownMode": {Config{User: "a", PasswordHash: string(h), Mode: "prod"}, "development or production"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProtected(t *testing.T) {
	a := &Admin{}
	for room, want := range map[string]bool{
		"chat:42":              true,
		"user:alice":           true,
		"Pt1Z3NnfCvj2doGr8Xan": true, // a socket id
		"lobby":                false,
		"chatroom":             false,
		"Pt1Z3NnfCvj2doGr8Xa!": false,
		"":                     false,
	} {
		if got := a.protected(room); got != want {
			t.Errorf("protected(%q) = %v, want %v", room, got, want)
		}
	}
	a.cfg.AllowProtected = true
	if !a.allowed("chat:42") {
		t.Error("AllowProtected does not allow chat:42")
	}
}

func TestDecodeRequest(t *testing.T) {
	args := func(js string) socketio.Args {
		a, err := socketio.NewArgs(json.RawMessage(js), nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for name, tc := range map[string]struct {
		action, args string
		want         request
		refused      bool
	}{
		"DisconnectOne":      {"_disconnect", `["/chat",false,"id1"]`, request{Nsp: "/chat", Filter: "id1"}, false},
		"DisconnectAllNull":  {"_disconnect", `["/chat",true,null]`, request{Nsp: "/chat", Close: true}, false},
		"DisconnectNoFilter": {"_disconnect", `["/chat",false]`, request{Nsp: "/chat"}, false},
		"JoinFalsyFilter":    {"join", `["/","ops",false]`, request{Nsp: "/", Room: "ops"}, false},
		"JoinNoRoom":         {"join", `["/",null,"id"]`, request{}, true},
		"Emit":               {"emit", `["/","r","ev",1,{"a":2}]`, request{Nsp: "/", Filter: "r", Event: "ev"}, false},
		"EmitNoEvent":        {"emit", `["/","r"]`, request{}, true},
		"NoNamespace":        {"leave", `[1,"r"]`, request{}, true},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := decodeRequest(tc.action, args(tc.args))
			if tc.refused {
				if _, ok := err.(refusal); !ok {
					t.Fatalf("err = %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Nsp != tc.want.Nsp || r.Room != tc.want.Room || r.Filter != tc.want.Filter || r.Close != tc.want.Close || r.Event != tc.want.Event {
				t.Errorf("got %+v, want %+v", *r, tc.want)
			}
		})
	}
}

func TestSerialize(t *testing.T) {
	hs := socketio.Handshake{
		Headers: http.Header{"Authorization": {"Bearer S3CRET"}, "Cookie": {"token=S3CRET"}, "X-Forwarded-For": {"10.0.0.9"}, "User-Agent": {"ua"}},
		Query:   url.Values{"token": {"S3CRET"}, "EIO": {"4"}},
		Address: "127.0.0.1:5555", Time: time.UnixMilli(1700000000000), URL: "/socket.io/?EIO=4&token=S3CRET",
		Auth: json.RawMessage(`{"token":"S3CRET"}`),
	}
	si := socketio.SocketInfo{ID: "sid", Rooms: []string{"sid", "lobby"}, Handshake: hs,
		Data: json.RawMessage(`{"_admin":{"clientId":"abcdefabcdef","transport":"websocket"},"userId":"u1"}`)}
	b, err := json.Marshal(serialize("/chat", si, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if strings.Contains(got, "S3CRET") {
		t.Errorf("a credential leaks: %s", got)
	}
	for _, want := range []string{`"clientId":"abcdefabcdef"`, `"transport":"websocket"`, `"data":{"userId":"u1"}`, `"address":"10.0.0.9"`,
		`"issued":1700000000000`, `"nsp":"/chat"`, `"user-agent":"ua"`, `"rooms":["sid","lobby"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("serialized socket lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, `"auth"`) {
		t.Errorf("auth is not left out: %s", got)
	}
	// A socket of another Go instance: no _admin, no connection id.
	si.Data = nil
	s := serialize("/", si, nil)
	if s.ClientID != "sid" || string(s.Data) != "{}" {
		t.Errorf("remote Go socket: clientId %q data %s", s.ClientID, s.Data)
	}
}

func TestJSONDate(t *testing.T) {
	b, _ := json.Marshal(jsonDate(time.Date(2026, 12, 1, 13, 4, 5, 678900000, time.FixedZone("x", 3600))))
	if string(b) != `"2026-12-01T12:04:05.678Z"` {
		t.Errorf("got %s, want JavaScript's toJSON form", b)
	}
}
