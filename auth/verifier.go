package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config selects the accepted algorithm, its key material and the claim checks.
type Config struct {
	// Algorithm is the only accepted "alg": "HS256" (zero value), "RS256" or
	// "ES256". Tokens with any other alg, "none" included, are refused.
	Algorithm string
	// Secret is the HS256 key: required for HS256 (at least MinSecretLen
	// bytes), refused otherwise.
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
	// UserClaim names the claim holding the user id (Identity.ID). Zero
	// means "sub"; NestJS apps often sign {userId: 1} or {id: "u1"}. Its
	// value must be a non-empty string or an integer (a JSON number without
	// fraction: 42 → "42").
	UserClaim string
	// NameClaims are the claims tried in order for the display name
	// (Identity.Name); the first non-empty string wins. Nil means "name",
	// then "fullName" (the NestJS seeds' spelling).
	NameClaims []string
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

// MinSecretLen is the shortest HS256 secret NewVerifier and Mint accept,
// in bytes: RFC 7518 §3.2 requires a key at least as long as the hash
// (256 bits); a shorter one can be brute-forced from any token it signed.
const MinSecretLen = 32

// DefaultUserClaim and DefaultNameClaims are the claims read when
// Config.UserClaim and Config.NameClaims are zero.
const DefaultUserClaim = "sub"

// DefaultNameClaims lists the display-name claims tried by default.
var DefaultNameClaims = []string{"name", "fullName"}

// Verifier checks tokens against one pinned algorithm and key set. It is
// immutable after NewVerifier and safe for concurrent use.
type Verifier struct {
	alg    string
	secret []byte
	key    crypto.PublicKey            // PublicKeyFile
	keys   map[string]crypto.PublicKey // JWKSFile, by kid
	parser *jwt.Parser

	userClaim  string
	nameClaims []string
}

// NewVerifier loads the key material and returns a Verifier, or an error when
// the algorithm is unsupported or the key does not fit it (an RSA key for
// ES256, a secret for RS256, a P-384 key for ES256, ...). Key files are read
// once, here; rotating keys means building a new Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{alg: cfg.Algorithm, userClaim: cfg.UserClaim, nameClaims: cfg.NameClaims}
	if v.alg == "" {
		v.alg = "HS256"
	}
	if v.userClaim == "" {
		v.userClaim = DefaultUserClaim
	}
	if v.nameClaims == nil {
		v.nameClaims = DefaultNameClaims
	}
	if err := v.loadKeys(cfg); err != nil {
		return nil, err
	}
	v.parser = newParser(cfg)
	return v, nil
}

// loadKeys checks the algorithm against the key material and loads it.
func (v *Verifier) loadKeys(cfg Config) error {
	switch v.alg {
	case "HS256":
		if len(cfg.Secret) == 0 {
			return errors.New("auth: HS256 needs a secret")
		}
		if len(cfg.Secret) < MinSecretLen {
			return fmt.Errorf("auth: the HS256 secret is %d bytes; at least %d are needed (RFC 7518 §3.2)", len(cfg.Secret), MinSecretLen)
		}
		if cfg.PublicKeyFile != "" || cfg.JWKSFile != "" {
			return errors.New("auth: HS256 takes a secret, not a public key or JWKS file")
		}
		v.secret = append([]byte(nil), cfg.Secret...)
	case "RS256", "ES256":
		if len(cfg.Secret) != 0 {
			return fmt.Errorf("auth: %s takes a public key or JWKS file, not a secret", v.alg)
		}
		switch {
		case cfg.PublicKeyFile != "" && cfg.JWKSFile != "":
			return errors.New("auth: set either a public key file or a JWKS file, not both")
		case cfg.PublicKeyFile != "":
			key, err := loadPEMKey(cfg.PublicKeyFile, v.alg)
			if err != nil {
				return err
			}
			v.key = key
		case cfg.JWKSFile != "":
			keys, err := loadJWKS(cfg.JWKSFile, v.alg)
			if err != nil {
				return err
			}
			v.keys = keys
		default:
			return fmt.Errorf("auth: %s needs a public key file or a JWKS file", v.alg)
		}
	default:
		return fmt.Errorf("auth: unsupported algorithm %q (want HS256, RS256 or ES256)", cfg.Algorithm)
	}

	return nil
}

// newParser builds the parser of cfg's claim checks. Numbers are decoded
// as json.Number so that an integer user id keeps its exact digits.
func newParser(cfg Config) *jwt.Parser {
	alg := cfg.Algorithm
	if alg == "" {
		alg = "HS256"
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
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithJSONNumber(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return jwt.NewParser(opts...)
}

// Verify checks token's signature, algorithm and claims and returns the
// identity it carries. A refusal is a *TokenError wrapping ErrExpired,
// ErrNotValidYet or ErrInvalidToken, its Reason naming the cause; an empty
// token is ErrNoToken. Verify does no I/O; ctx is honoured only for
// cancellation.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if err := ctx.Err(); err != nil {
		return Identity{}, err
	}
	if token == "" {
		return Identity{}, ErrNoToken
	}
	if len(token) > MaxTokenLen {
		return Identity{}, invalid("Token too large", fmt.Errorf("%d bytes exceed %d", len(token), MaxTokenLen))
	}
	c := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, c, v.keyFunc)
	if err != nil {
		return Identity{}, v.refusal(tok, c, err)
	}
	return v.identity(c)
}

// Errors of keyFunc, told apart by refusal.
var (
	errNoKid      = errors.New("token has no kid and the key set has several keys")
	errUnknownKid = errors.New("unknown kid")
)

// refusal turns a parser error into a TokenError whose Reason says why.
// The order matters where the parser reports several problems at once:
// the algorithm before the signature, expiry before the other claims.
func (v *Verifier) refusal(tok *jwt.Token, c jwt.MapClaims, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("Malformed token", err)
	case tok != nil && headerAlg(tok) != v.alg:
		return invalid(algReason(headerAlg(tok), v.alg), err)
	case errors.Is(err, errNoKid):
		return invalid("Token has no key id (kid)", err)
	case errors.Is(err, errUnknownKid):
		return invalid("Token key id (kid) is unknown", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("Invalid token signature", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return &TokenError{Reason: "Token expired", kind: ErrExpired, detail: err}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return &TokenError{Reason: "Token not valid yet", kind: ErrNotValidYet, detail: err}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		for _, name := range []string{"exp", "iss", "aud"} { // what the parser may require
			if _, ok := c[name]; !ok {
				return invalid("Token is missing claim "+name, err)
			}
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid("Token issuer is not accepted", err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid("Token audience is not accepted", err)
	}
	return invalid("Invalid token claims", err)
}

// headerAlg is the token header's alg ("" when absent or not a string).
func headerAlg(tok *jwt.Token) string {
	alg, _ := tok.Header["alg"].(string)
	return alg
}

// algReason names a refused algorithm; a header value that does not look
// like an algorithm name is not echoed.
func algReason(alg, want string) string {
	if alg == "" {
		return "Token has no algorithm (alg)"
	}
	ok := len(alg) <= 16
	for _, r := range alg {
		ok = ok && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}
	if !ok {
		return "Token algorithm is not accepted (expected " + want + ")"
	}
	return "Token algorithm " + alg + " is not accepted (expected " + want + ")"
}

// identity reads the Identity of verified claims.
func (v *Verifier) identity(c jwt.MapClaims) (Identity, error) {
	raw, ok := c[v.userClaim]
	if !ok || raw == nil || raw == "" {
		return Identity{}, invalid("Token is missing claim "+v.userClaim, nil)
	}
	userID, ok := claimID(raw)
	if !ok {
		return Identity{}, invalid("Token claim "+v.userClaim+" must be a string or an integer", nil)
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return Identity{}, invalid("Token is missing claim exp", err) // checked by the parser already
	}
	id := Identity{ID: userID, Username: str(c["username"]), Email: str(c["email"]), ExpiresAt: exp.Time}
	for _, n := range v.nameClaims {
		if id.Name = str(c[n]); id.Name != "" {
			break
		}
	}
	return id, nil
}

// str is v when it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// maxExactInt is the largest integer a float64 (a JavaScript number)
// holds exactly: 2^53.
const maxExactInt = 1 << 53

// claimID turns a user-id claim into its string: a string as is, an
// integer as its decimal digits. A JSON integer literal keeps its digits
// (ids beyond 2^53 included); another number form (1.0, 4.2e1) is accepted
// when its value is an integer a JavaScript number holds exactly, written
// without fraction or exponent. Other types and fractions are refused.
func claimID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		s := string(x)
		if isIntLiteral(s) {
			return s, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > maxExactInt {
			return "", false
		}
		return strconv.FormatInt(int64(f), 10), true
	}
	return "", false
}

// isIntLiteral reports whether s is an optional '-' and digits only.
func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
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
		return nil, errNoKid
	}
	k, ok := v.keys[kid]
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownKid, kid)
	}
	return k, nil
}
