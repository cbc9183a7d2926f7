package auth

import "errors"

var (
	// ErrNoToken means the request carried no token in any of the places
	// TokenFromRequest looks; on an optional-auth namespace that is an
	// anonymous client, not a failure.
	ErrNoToken = errors.New("auth: no token")
	// ErrInvalidToken means a token was presented but cannot be trusted:
	// malformed, wrong algorithm, bad signature, unknown key, wrong issuer or
	// audience, or a required claim (the user claim, exp) missing. Verify
	// returns it inside a *TokenError, whose Reason says which.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired means the token's exp (plus leeway) has passed.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotValidYet means the token's nbf (minus leeway) is still ahead.
	ErrNotValidYet = errors.New("auth: token not valid yet")
)

// TokenError is a refused token. Reason is what the client may be told
// ("Token expired", "Invalid token signature", "Token is missing claim
// userId", ...): it names the cause and the claim or algorithm concerned,
// never the secret, a key, or the token's content. It wraps one of
// ErrInvalidToken, ErrExpired and ErrNotValidYet (errors.Is works), and
// the library's detail for logs.
type TokenError struct {
	// Reason is the client-safe sentence; it has no trailing period.
	Reason string
	kind   error
	detail error // nil when Reason says it all
}

// Error implements error: the sentinel, the reason and the detail.
func (e *TokenError) Error() string {
	s := e.kind.Error() + ": " + e.Reason
	if e.detail != nil {
		s += ": " + e.detail.Error()
	}
	return s
}

// Unwrap returns the sentinel and the detail.
func (e *TokenError) Unwrap() []error {
	if e.detail == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.detail}
}

func invalid(reason string, detail error) error {
	return &TokenError{Reason: reason, kind: ErrInvalidToken, detail: detail}
}
