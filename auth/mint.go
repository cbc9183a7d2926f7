package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs a development token with HS256: sub, name, username, email (when
// set), iat = now and exp = now+ttl. It backs the `sockgate token` subcommand
// and tests; production tokens come from the real identity provider.
func Mint(secret []byte, id Identity, ttl time.Duration, now time.Time) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("auth: mint: empty secret")
	case id.ID == "":
		return "", errors.New("auth: mint: empty subject")
	case ttl <= 0:
		return "", errors.New("auth: mint: ttl must be positive")
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name:     id.Name,
		Username: id.Username,
		Email:    id.Email,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}
