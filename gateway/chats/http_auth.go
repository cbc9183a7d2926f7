package chats

import (
	"net/http"
	"strings"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
)

// errCrossOrigin refuses a state-changing request authenticated by the
// Authentication cookie that a browser sent from another origin (CSRF).
var errCrossOrigin = &event.Error{Code: event.CodeForbidden, Message: "Cross-origin request refused."}

// httpToken returns the token of a REST request and whether it came from
// the Authentication cookie. REST reads, in order, an "Authorization:
// Bearer" header and the Authentication cookie (SPEC §6; seed
// api-with-nestjs-26's cookie authentication). Unlike the Socket.IO
// handshake it ignores ?token=: a token in a URL ends up in access logs,
// browser history and Referer headers, and REST clients can always send a
// header. As in auth.TokenFromRequest, the first source present wins even if
// it later fails verification; an Authorization header of another scheme
// (Basic) counts as absent.
func httpToken(r *http.Request) (token string, fromCookie bool, err error) {
	for _, h := range r.Header.Values("Authorization") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if tok := strings.TrimSpace(rest); tok != "" {
				return tok, false, nil
			}
		}
	}
	if c, err := r.Cookie(auth.CookieName); err == nil {
		if tok := strings.TrimSpace(c.Value); tok != "" {
			return tok, true, nil
		}
	}
	return "", false, auth.ErrNoToken
}

// identify verifies the token of a REST request and returns the identity
// it speaks for (the API's event.Authenticator). Errors are auth's
// sentinels (ErrNoToken, ErrInvalidToken, ErrExpired, ErrNotValidYet),
// which event.ReplyOf maps to 401 unauthorized.
//
// A cookie is an ambient credential: a browser attaches it to a form posted
// from any site. A request authenticated by the cookie with an unsafe method
// must therefore pass csrf (net/http's CrossOriginProtection: Sec-Fetch-Site,
// else Origin against Host, plus the configured trusted origins); a
// cross-origin one fails with errCrossOrigin (403). Bearer tokens are never
// sent implicitly, so they need no such check.
func (a *API) identify(r *http.Request) (auth.Identity, error) {
	tok, fromCookie, err := httpToken(r)
	if err != nil {
		return auth.Identity{}, err
	}
	id, err := a.verifier.Verify(r.Context(), tok)
	if err != nil {
		return auth.Identity{}, err
	}
	if fromCookie {
		if err := a.csrf.Check(r); err != nil {
			return auth.Identity{}, errCrossOrigin
		}
	}
	return id, nil
}
