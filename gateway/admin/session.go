package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
	"golang.org/x/crypto/bcrypt"
)

// errInvalidCredentials is the refusal the UI recognises by its exact
// text (it shows the login dialog again).
var errInvalidCredentials = errors.New("invalid credentials")

// sessions mints and checks session ids without shared state: an id is
// nonce (8 bytes) ‖ expiry (8 bytes, Unix seconds) ‖ HMAC-SHA256 of both
// (16 bytes), in hex, keyed by a digest of the password hash. Every
// instance configured with the same hash accepts the ids of the others
// (Node needs its RedisStore for that), and changing the password ends
// every session.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newSessions(hash string, ttl time.Duration, now func() time.Time) sessions {
	k := sha256.Sum256([]byte("sockgate admin session\x00" + hash))
	return sessions{key: k[:], ttl: ttl, now: now}
}

const sessionLen = 2 * (8 + 8 + 16)

func (s sessions) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)[:16]
}

// mint returns a new session id valid for the TTL.
func (s sessions) mint() string {
	b := make([]byte, 16, 32)
	_, _ = rand.Read(b[:8])
	binary.BigEndian.PutUint64(b[8:], uint64(s.now().Add(s.ttl).Unix()))
	return hex.EncodeToString(append(b, s.mac(b)...))
}

// valid reports whether id is a session this key minted that has not expired.
func (s sessions) valid(id string) bool {
	if len(id) != sessionLen {
		return false
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return false
	}
	if subtle.ConstantTimeCompare(s.mac(b[:16]), b[16:]) != 1 {
		return false
	}
	return s.now().Unix() < int64(binary.BigEndian.Uint64(b[8:16]))
}

// credentials is the handshake auth the UI sends: {username, password}
// at login, {sessionId} on a page reload.
type credentials struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	SessionID string `json:"sessionId"`
}

// newSession marks a socket that logged in with credentials: it gets a
// session id after its CONNECT.
type newSession struct{ id string }

// authenticate is the admin namespace's middleware: a valid session id, or
// the user name and a password matching the bcrypt hash. Refusals are
// CONNECT_ERROR "invalid credentials", logged (rate limited).
func (a *Admin) authenticate(s *socketio.Socket) error {
	var c credentials
	if len(s.Handshake().Auth) > 0 {
		_ = json.Unmarshal(s.Handshake().Auth, &c) // malformed: no credentials
	}
	ip := a.clientIP(s)
	if c.SessionID != "" && a.sessions.valid(c.SessionID) {
		a.log.Info("admin: login with a session", "socket", s.ID(), "ip", ip)
		return nil
	}
	ctx, cancel := context.WithTimeout(s.Context(), a.cfg.Timeout)
	defer cancel()
	if a.p != nil {
		if _, err := a.p.Allow(ctx, "/admin:login", ip); err != nil {
			var le *ratelimit.LimitedError
			if errors.As(err, &le) {
				a.p.LogRefusal("admin-login-limit|"+ip, "admin: login refused: too many attempts", "ip", ip)
				return errors.New("too many login attempts, retry later")
			}
			return err
		}
	}
	if c.Username == "" || !a.passwordMatches(ctx, c) {
		a.refused("admin: login refused: invalid credentials", "ip", ip, "user", truncate(c.Username))
		return errInvalidCredentials
	}
	a.log.Info("admin: login", "socket", s.ID(), "ip", ip, "user", c.Username)
	s.SetData(newSession{a.sessions.mint()})
	return nil
}

// passwordMatches compares in constant time for the user name and with
// bcrypt for the password, at most two comparisons at once (each takes
// tens of milliseconds of CPU).
func (a *Admin) passwordMatches(ctx context.Context, c credentials) bool {
	select {
	case a.login <- struct{}{}:
		defer func() { <-a.login }()
	case <-ctx.Done():
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(c.Username), []byte(a.cfg.User)) == 1
	pwOK := bcrypt.CompareHashAndPassword([]byte(a.cfg.PasswordHash), []byte(c.Password)) == nil
	return userOK && pwOK
}

func (a *Admin) clientIP(s *socketio.Socket) string {
	hs := s.Handshake()
	return ratelimit.ClientIP(hs.Address, hs.Headers, a.cfg.TrustedProxies)
}

func (a *Admin) refused(msg string, args ...any) {
	if a.p != nil {
		a.p.LogRefusal(msg+"|"+fmt.Sprint(args[1]), msg, args...)
		return
	}
	a.log.Info(msg, args...)
}

// truncate bounds a client-chosen string in the logs.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
