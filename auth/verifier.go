package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config selects the accepted algorithm, its key material and the claim checks.
type Config struct {
	// Algorithm is the only accepted "alg": "HS256" (zero value), "RS256" or
	// "ES256". Tokens with any other alg, "none" included, are refused.
	Algorithm string
	// Secret is the HS256 key; required (non-empty) for HS256, refused otherwise.
	Secret []byte
	// PublicKeyFile is a PEM file (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)
	// holding the RS256/ES256 verification key. Exactly one of PublicKeyFile
	// and JWKSFile is required for RS256/ES256.
	PublicKeyFile string
	// JWKSFile is a JSON Web Key Set file for RS256/ES256; the token's kid
	// selects the key (a token without kid is accepted only when the set holds
	// one usable key). Keys whose alg or type does not fit Algorithm are ignored.
	JWKSFile string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// Leeway is the clock skew tolerated on exp and nbf. Zero means 30s;
	// a negative value means none.
	Leeway time.Duration
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// MaxTokenLen bounds the token size Verify will parse: real JWTs are well
// under 2 KiB, and refusing a huge one costs nothing while decoding it costs
// memory and CPU an unauthenticated client should not command.
const MaxTokenLen = 8 << 10

// DefaultLeeway is the clock skew allowed when Config.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// Verifier checks tokens against one pinned algorithm and key set. It is
// immutable after NewVerifier and safe for concurrent use.
type Verifier struct {
	alg    string
	secret []byte
	key    crypto.PublicKey            // PublicKeyFile
	keys   map[string]crypto.PublicKey // JWKSFile, by kid
	parser *jwt.Parser
}

// NewVerifier loads the key material and returns a Verifier, or an error when
// the algorithm is unsupported or the key does not fit it (an RSA key for
// ES256, a secret for RS256, a P-384 key for ES256, ...). Key files are read
// once, here; rotating keys means building a new Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{alg: cfg.Algorithm}
	if v.alg == "" {
		v.alg = "HS256"
	}
	switch v.alg {
	case "HS256":
		if len(cfg.Secret) == 0 {
			return nil, errors.New("auth: HS256 needs a secret")
		}
		if cfg.PublicKeyFile != "" || cfg.JWKSFile != "" {
			return nil, errors.New("auth: HS256 takes a secret, not a public key or JWKS file")
		}
		v.secret = append([]byte(nil), cfg.Secret...)
	case "RS256", "ES256":
		if len(cfg.Secret) != 0 {
			return nil, fmt.Errorf("auth: %s takes a public key or JWKS file, not a secret", v.alg)
		}
		switch {
		case cfg.PublicKeyFile != "" && cfg.JWKSFile != "":
			return nil, errors.New("auth: set either a public key file or a JWKS file, not both")
		case cfg.PublicKeyFile != "":
			key, err := loadPEMKey(cfg.PublicKeyFile, v.alg)
			if err != nil {
				return nil, err
			}
			v.key = key
		case cfg.JWKSFile != "":
			keys, err := loadJWKS(cfg.JWKSFile, v.alg)
			if err != nil {
				return nil, err
			}
			v.keys = keys
		default:
			return nil, fmt.Errorf("auth: %s needs a public key file or a JWKS file", v.alg)
		}
	default:
		return nil, fmt.Errorf("auth: unsupported algorithm %q (want HS256, RS256 or ES256)", cfg.Algorithm)
	}

	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{v.alg}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// claims is what a token may carry; unknown claims are ignored.
type claims struct {
	jwt.RegisteredClaims
	Name     string `json:"name,omitempty"`
	FullName string `json:"fullName,omitempty"`
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
}

// Verify checks token's signature, algorithm and claims and returns the
// identity it carries. Errors: ErrExpired, ErrNotValidYet, or ErrInvalidToken
// (wrapping the reason) for everything else; an empty token is ErrNoToken.
// Verify does no I/O; ctx is honoured only for cancellation.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if err := ctx.Err(); err != nil {
		return Identity{}, err
	}
	if token == "" {
		return Identity{}, ErrNoToken
	}
	if len(token) > MaxTokenLen {
		return Identity{}, fmt.Errorf("%w: token of %d bytes exceeds %d", ErrInvalidToken, len(token), MaxTokenLen)
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, v.keyFunc)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return Identity{}, fmt.Errorf("%w: %w", ErrNotValidYet, err)
	default:
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	id := Identity{
		ID:        c.Subject,
		Name:      c.Name,
		Username:  c.Username,
		Email:     c.Email,
		ExpiresAt: c.ExpiresAt.Time,
	}
	if id.Name == "" {
		id.Name = c.FullName
	}
	return id, nil
}

// keyFunc returns the verification key. The parser has already refused any
// alg but the pinned one (WithValidMethods); the type checks here are a second
// lock against key confusion (an HMAC check keyed with a public key).
func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	if t.Method.Alg() != v.alg {
		return nil, fmt.Errorf("unexpected alg %q", t.Method.Alg())
	}
	switch {
	case v.secret != nil:
		return v.secret, nil
	case v.key != nil:
		return v.key, nil
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		if len(v.keys) == 1 {
			for _, k := range v.keys {
				return k, nil
			}
		}
		return nil, errors.New("token has no kid")
	}
	k, ok := v.keys[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return k, nil
}
