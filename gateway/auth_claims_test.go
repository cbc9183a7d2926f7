package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
)

// signHS256 signs claims with chatTestSecret; exp is an hour ahead unless
// claims set it (nil deletes it).
func signHS256(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(chatTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// getChats is GET /chats with token as Bearer: the status and the body.
func getChats(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/chats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

// TestAuth_NestJSTokens is issue 10 acceptance 3 (accepted part): the
// tokens NestJS apps sign — {sub: 42}, JwtService.sign({userId: 1}) and
// {id: "u1"} — authenticate with the matching user claim, on a real
// socket.io-client handshake and over REST; numbers become their digits.
func TestAuth_NestJSTokens(t *testing.T) {
	tests := []struct {
		name   string
		claim  string // Config.UserClaim
		claims jwt.MapClaims
		want   string
	}{
		{"NumericSub", "", jwt.MapClaims{"sub": 42, "fullName": "Forty Two"}, "42"},
		{"UserID", "userId", jwt.MapClaims{"userId": 1, "email": "one@example.com"}, "1"},
		{"ID", "id", jwt.MapClaims{"id": "u1", "username": "u1"}, "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChatEnv(t, chatEnvConfig{modes: map[string]AuthMode{"/chat": AuthRequired}, auth: auth.Config{UserClaim: tt.claim}})
			js := startJS(t, e.URL)
			tok := signHS256(t, tt.claims)
			js.mustConnect("c", "/chat", map[string]any{"auth": map[string]any{"token": tok}})
			var ev struct {
				User authUser `json:"user"`
			}
			js.expect("c", "authenticated").arg(t, 0, &ev)
			if ev.User.ID != tt.want {
				t.Errorf("socket user id %q, want %q", ev.User.ID, tt.want)
			}
			if st, body := getChats(t, e.URL, tok); st != http.StatusOK {
				t.Errorf("GET /chats = %d %s, want 200", st, body)
			}
			if _, err := e.st.UserByID(t.Context(), tt.want); err != nil {
				t.Errorf("user %q not recorded: %v", tt.want, err)
			}
		})
	}
}

// TestAuth_RefusalReasons is issue 10 acceptance 3 (refused part): each
// refusal says why, in the socket's connect_error (message and data) and
// in the REST 401 body, without the secret; the operator sees it at Info,
// once per reason and minute however often the client retries.
func TestAuth_RefusalReasons(t *testing.T) {
	logs := &lockedBuffer{}
	e := newChatEnv(t, chatEnvConfig{modes: map[string]AuthMode{"/chat": AuthRequired}, auth: auth.Config{UserClaim: "userId"}, log: logs})
	js := startJS(t, e.URL)
	key, err := rsa.GenerateKey(rand.Reader, 1024) // never verified: its alg is refused first
	if err != nil {
		t.Fatal(err)
	}
	rs256, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"userId": 1, "exp": time.Now().Add(time.Hour).Unix()}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": 1, "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString([]byte("another-secret-of-enough-length-0123"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, token, reason string }{
		{"Expired", signHS256(t, jwt.MapClaims{"userId": 1, "exp": time.Now().Add(-time.Hour).Unix()}), "Token expired"},
		{"BadSignature", forged, "Invalid token signature"},
		{"MissingClaim", signHS256(t, jwt.MapClaims{"sub": "1"}), "Token is missing claim userId"},
		{"WrongAlgorithm", rs256, "Token algorithm RS256 is not accepted (expected HS256)"},
		{"Malformed", "not.a.jwt", "Malformed token"},
		{"NotValidYet", signHS256(t, jwt.MapClaims{"userId": 1, "nbf": time.Now().Add(time.Hour).Unix()}), "Token not valid yet"},
		{"MissingExp", signHS256(t, jwt.MapClaims{"userId": 1, "exp": nil}), "Token is missing claim exp"},
		{"FractionalID", signHS256(t, jwt.MapClaims{"userId": 1.5}), "Token claim userId must be a string or an integer"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for try := range 2 { // the second refusal is not logged again
				r := js.connect(fmt.Sprintf("c%d-%d", i, try), "/chat", map[string]any{"auth": map[string]any{"token": tt.token}})
				var data event.Error
				if r.Op != "connect_error" || r.Message != tt.reason || json.Unmarshal(r.Data, &data) != nil ||
					data != (event.Error{Code: event.CodeUnauthorized, Message: tt.reason}) {
					t.Fatalf("got %s %q data %s, want connect_error %q with code unauthorized", r.Op, r.Message, r.Data, tt.reason)
				}
			}
			st, body := getChats(t, e.URL, tt.token)
			want := fmt.Sprintf(`{"statusCode":401,"message":%q,"error":"unauthorized"}`, tt.reason)
			if st != http.StatusUnauthorized || body != want {
				t.Errorf("GET /chats = %d %s, want 401 %s", st, body, want)
			}
			if !strings.Contains(logs.String(), `level=INFO msg="socket handshake refused: unauthorized" ns=/chat`) {
				t.Errorf("no handshake refusal logged at Info:\n%s", logs)
			}
			if n := strings.Count(logs.String(), fmt.Sprintf("reason=%q", tt.reason)); n != 2 {
				t.Errorf("reason %q logged %d times, want twice (socket once, REST once):\n%s", tt.reason, n, logs)
			}
		})
	}
	if strings.Contains(logs.String(), string(chatTestSecret)) {
		t.Error("the log reveals the secret")
	}
}
