package auth

import (
	"encoding/json"
	"net/http"
	"strings"
)

// CookieName is the cookie the NestJS series' cookie authentication sets
// (seed api-with-nestjs-26) and TokenFromRequest reads last.
const CookieName = "Authentication"

// TokenFromRequest returns the token a client presented, looking in the order
// SPEC §5 fixes: the Socket.IO handshake auth object's "token" (a string), the
// "token" query parameter, an "Authorization: Bearer" header, and the
// Authentication cookie. The first non-empty one wins, even if it later fails
// verification: a client that sends a bad token in auth.token is refused
// rather than silently authenticated by a stale cookie. None → ErrNoToken.
//
// handshakeAuth is the raw auth payload of the CONNECT packet (nil or empty for
// HTTP requests); a payload that is not an object, or a token that is not a
// string, counts as absent. A "Bearer " prefix in auth.token or ?token= is
// tolerated, since clients copy the header value around. r may be nil when
// only the handshake payload is at hand.
func TokenFromRequest(r *http.Request, handshakeAuth json.RawMessage) (string, error) {
	if tok := handshakeToken(handshakeAuth); tok != "" {
		return tok, nil
	}
	if r == nil {
		return "", ErrNoToken
	}
	if tok := stripBearer(r.URL.Query().Get("token")); tok != "" {
		return tok, nil
	}
	for _, h := range r.Header.Values("Authorization") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if tok := strings.TrimSpace(rest); tok != "" {
				return tok, nil
			}
		}
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if tok := strings.TrimSpace(c.Value); tok != "" {
			return tok, nil
		}
	}
	return "", ErrNoToken
}

// handshakeToken extracts auth.token from a CONNECT payload.
func handshakeToken(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var payload struct {
		Token json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		return ""
	}
	var tok string
	if err := json.Unmarshal(payload.Token, &tok); err != nil {
		return ""
	}
	return stripBearer(tok)
}

// stripBearer trims s and removes a leading case-insensitive "Bearer ".
func stripBearer(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	return s
}
