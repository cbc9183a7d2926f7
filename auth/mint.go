package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintConfig names the claims MintWith writes the identity into, so that a
// development token fits a Verifier configured with the same claim names.
type MintConfig struct {
	// UserClaim receives Identity.ID. Zero means "sub".
	UserClaim string
	// NameClaim receives Identity.Name (when set). Zero means "name".
	NameClaim string
}

// Mint signs a development token with HS256: sub, name, username, email (when
// set), iat = now and exp = now+ttl. It backs the `sockgate token` subcommand
// and tests; production tokens come from the real identity provider.
func Mint(secret []byte, id Identity, ttl time.Duration, now time.Time) (string, error) {
	return MintWith(secret, MintConfig{}, id, ttl, now)
}

// MintWith is Mint with the user id and the name in the claims cfg names.
func MintWith(secret []byte, cfg MintConfig, id Identity, ttl time.Duration, now time.Time) (string, error) {
	switch {
	case len(secret) < MinSecretLen:
		return "", fmt.Errorf("auth: mint: the secret is %d bytes; at least %d are needed", len(secret), MinSecretLen)
	case id.ID == "":
		return "", errors.New("auth: mint: empty subject")
	case ttl <= 0:
		return "", errors.New("auth: mint: ttl must be positive")
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = DefaultUserClaim
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "name"
	}
	c := jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range map[string]string{"username": id.Username, "email": id.Email, cfg.NameClaim: id.Name, cfg.UserClaim: id.ID} {
		if v != "" {
			c[k] = v
		}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return s, nil
}
