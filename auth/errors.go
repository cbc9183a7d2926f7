package auth

import "errors"

var (
	// ErrNoToken means the request carried no token in any of the places
	// TokenFromRequest looks; on an optional-auth namespace that is an
	// anonymous client, not a failure.
	ErrNoToken = errors.New("auth: no token")
	// ErrInvalidToken means a token was presented but cannot be trusted:
	// malformed, wrong algorithm, bad signature, unknown key, wrong issuer or
	// audience, or a required claim (sub, exp) missing. The wrapped detail is
	// for logs, not for clients.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired means the token's exp (plus leeway) has passed.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotValidYet means the token's nbf (minus leeway) is still ahead.
	ErrNotValidYet = errors.New("auth: token not valid yet")
)
