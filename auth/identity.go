package auth

import (
	"context"
	"time"
)

// Identity is the authenticated user a verified token speaks for.
type Identity struct {
	// ID is the token's user claim (sub by default, Config.UserClaim);
	// never empty in a verified Identity.
	ID string
	// Name is the first of Config.NameClaims present: "name", else
	// "fullName" (the NestJS seeds' spelling) by default.
	Name string
	// Username is the "username" claim, when present.
	Username string
	// Email is the "email" claim, when present.
	Email string
	// ExpiresAt is the token's exp: a socket authenticated with it is
	// disconnected then (SPEC §5).
	ExpiresAt time.Time
}

// contextKey is unexported so no other package can read or overwrite the
// identity except through NewContext/FromContext.
type contextKey struct{}

// NewContext returns a copy of ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, contextKey{}, id)
}

// FromContext returns the identity stored by NewContext; ok is false for an
// anonymous context.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(contextKey{}).(Identity)
	return id, ok
}
