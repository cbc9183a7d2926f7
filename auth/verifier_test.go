package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

// testKeys are generated once per test binary: RSA generation is slow under -race.
var testKeys = struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}{rsa: mustRSA(), ec: mustEC(elliptic.P256())}

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// writePEM writes pub as a PKIX PEM file into a temp dir and returns its path.
func writePEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sign builds a token with the given method, key, claims and optional kid.
func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// baseClaims are valid at testNow.
func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":      "42",
		"name":     "Ada Lovelace",
		"username": "ada",
		"email":    "ada@example.com",
		"iat":      testNow.Add(-time.Minute).Unix(),
		"exp":      testNow.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// noneToken builds an unsigned "alg: none" token by hand.
func noneToken(c jwt.MapClaims) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(c) + "."
}

func TestVerifier_Verify(t *testing.T) {
	rsaPEM := writePEM(t, &testKeys.rsa.PublicKey)
	ecPEM := writePEM(t, &testKeys.ec.PublicKey)
	rsaPEMBytes, _ := os.ReadFile(rsaPEM)
	clock := func() time.Time { return testNow }

	hs := Config{Secret: testSecret, Now: clock}
	rs := Config{Algorithm: "RS256", PublicKeyFile: rsaPEM, Now: clock}
	es := Config{Algorithm: "ES256", PublicKeyFile: ecPEM, Now: clock}
	hsIssAud := Config{Secret: testSecret, Issuer: "https://id.example", Audience: "sockgate", Now: clock}
	hsNoLeeway := Config{Secret: testSecret, Leeway: -1, Now: clock}

	otherRSA := mustRSA()
	tests := []struct {
		name    string
		cfg     Config
		token   func(t *testing.T) string
		wantErr error // nil = valid
	}{
		{"HS256Valid", hs, func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, baseClaims(), "") }, nil},
		{"RS256Valid", rs, func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), "") }, nil},
		{"ES256Valid", es, func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, testKeys.ec, baseClaims(), "") }, nil},
		{"NoToken", hs, func(t *testing.T) string { return "" }, ErrNoToken},
		{"Malformed", hs, func(t *testing.T) string { return "not.a.jwt" }, ErrInvalidToken},
		{"TooLong", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "pad", strings.Repeat("x", MaxTokenLen)), "")
		}, ErrInvalidToken},
		{"Garbage", hs, func(t *testing.T) string { return "garbage" }, ErrInvalidToken},
		{"BadSignatureHS256", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!"), baseClaims(), "")
		}, ErrInvalidToken},
		{"BadSignatureRS256", rs, func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, otherRSA, baseClaims(), "") }, ErrInvalidToken},
		{"TamperedPayload", hs, func(t *testing.T) string {
			good := sign(t, jwt.SigningMethodHS256, testSecret, baseClaims(), "")
			parts := strings.Split(good, ".")
			evil, _ := json.Marshal(with(baseClaims(), "sub", "1"))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(evil) + "." + parts[2]
		}, ErrInvalidToken},
		{"AlgNoneHS256Pinned", hs, func(t *testing.T) string { return noneToken(baseClaims()) }, ErrInvalidToken},
		{"AlgNoneRS256Pinned", rs, func(t *testing.T) string { return noneToken(baseClaims()) }, ErrInvalidToken},
		// The classic confusion: an HMAC keyed with the server's public key PEM.
		{"HS256TokenWhenRS256Pinned", rs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, rsaPEMBytes, baseClaims(), "")
		}, ErrInvalidToken},
		{"RS256TokenWhenHS256Pinned", hs, func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), "") }, ErrInvalidToken},
		{"ES256TokenWhenRS256Pinned", rs, func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, testKeys.ec, baseClaims(), "") }, ErrInvalidToken},
		{"HS512TokenWhenHS256Pinned", hs, func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, testSecret, baseClaims(), "") }, ErrInvalidToken},
		{"Expired", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "exp", testNow.Add(-time.Minute).Unix()), "")
		}, ErrExpired},
		{"ExpiredWithinLeeway", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "exp", testNow.Add(-20*time.Second).Unix()), "")
		}, nil},
		{"ExpiredNoLeeway", hsNoLeeway, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "exp", testNow.Add(-time.Second).Unix()), "")
		}, ErrExpired},
		{"NotValidYet", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "nbf", testNow.Add(time.Minute).Unix()), "")
		}, ErrNotValidYet},
		{"NotValidYetWithinLeeway", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "nbf", testNow.Add(20*time.Second).Unix()), "")
		}, nil},
		{"NotValidYetNoLeeway", hsNoLeeway, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "nbf", testNow.Add(time.Second).Unix()), "")
		}, ErrNotValidYet},
		{"IssAudValid", hsIssAud, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "iss", "https://id.example", "aud", []string{"other", "sockgate"}), "")
		}, nil},
		{"WrongIssuer", hsIssAud, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "iss", "https://evil.example", "aud", "sockgate"), "")
		}, ErrInvalidToken},
		{"MissingIssuer", hsIssAud, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "aud", "sockgate"), "")
		}, ErrInvalidToken},
		{"WrongAudience", hsIssAud, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "iss", "https://id.example", "aud", "other"), "")
		}, ErrInvalidToken},
		{"MissingSub", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "sub", nil), "")
		}, ErrInvalidToken},
		{"EmptySub", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "sub", ""), "")
		}, ErrInvalidToken},
		{"NumericSub", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "sub", 42), "")
		}, nil},
		{"BooleanSub", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "sub", true), "")
		}, ErrInvalidToken},
		{"MissingExp", hs, func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "exp", nil), "")
		}, ErrInvalidToken},
	}
	// What the client is told for each refusal (TokenError.Reason).
	reasons := map[string]string{
		"Malformed":                 "Malformed token",
		"TooLong":                   "Token too large",
		"Garbage":                   "Malformed token",
		"BadSignatureHS256":         "Invalid token signature",
		"BadSignatureRS256":         "Invalid token signature",
		"TamperedPayload":           "Invalid token signature",
		"AlgNoneHS256Pinned":        "Token algorithm none is not accepted (expected HS256)",
		"AlgNoneRS256Pinned":        "Token algorithm none is not accepted (expected RS256)",
		"HS256TokenWhenRS256Pinned": "Token algorithm HS256 is not accepted (expected RS256)",
		"RS256TokenWhenHS256Pinned": "Token algorithm RS256 is not accepted (expected HS256)",
		"ES256TokenWhenRS256Pinned": "Token algorithm ES256 is not accepted (expected RS256)",
		"HS512TokenWhenHS256Pinned": "Token algorithm HS512 is not accepted (expected HS256)",
		"Expired":                   "Token expired",
		"ExpiredNoLeeway":           "Token expired",
		"NotValidYet":               "Token not valid yet",
		"NotValidYetNoLeeway":       "Token not valid yet",
		"WrongIssuer":               "Token issuer is not accepted",
		"MissingIssuer":             "Token is missing claim iss",
		"WrongAudience":             "Token audience is not accepted",
		"MissingSub":                "Token is missing claim sub",
		"EmptySub":                  "Token is missing claim sub",
		"BooleanSub":                "Token claim sub must be a string or an integer",
		"MissingExp":                "Token is missing claim exp",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			id, err := v.Verify(context.Background(), tt.token(t))
			checkReason(t, err, reasons[tt.name], tt.wantErr)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				want := Identity{ID: "42", Name: "Ada Lovelace", Username: "ada", Email: "ada@example.com"}
				if id.ID != want.ID || id.Name != want.Name || id.Username != want.Username || id.Email != want.Email {
					t.Fatalf("identity = %+v, want %+v", id, want)
				}
				if id.ExpiresAt.IsZero() {
					t.Fatalf("ExpiresAt is zero")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			for _, other := range []error{ErrNoToken, ErrInvalidToken, ErrExpired, ErrNotValidYet} {
				if other != tt.wantErr && errors.Is(err, other) {
					t.Fatalf("Verify error %v also matches %v", err, other)
				}
			}
			if id != (Identity{}) {
				t.Fatalf("identity on error = %+v", id)
			}
		})
	}
}

// checkReason asserts that a refusal other than ErrNoToken is a
// *TokenError with the reason the client should read, and that neither the
// reason nor the error text carries the secret.
func checkReason(t *testing.T, err error, want string, kind error) {
	t.Helper()
	if err == nil || errors.Is(err, ErrNoToken) {
		return
	}
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *TokenError", err)
	}
	if te.Reason != want {
		t.Errorf("reason %q, want %q", te.Reason, want)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %v does not wrap %v", err, kind)
	}
	if strings.Contains(err.Error(), string(testSecret)) {
		t.Errorf("error text reveals the secret: %v", err)
	}
}

func TestVerifier_Claims(t *testing.T) {
	v, err := NewVerifier(Config{Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	exp := testNow.Add(time.Hour).Truncate(time.Second)
	tok := sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u1", "fullName": "Grace Hopper", "exp": exp.Unix()}, "")
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{ID: "u1", Name: "Grace Hopper", ExpiresAt: exp}
	if id.ID != want.ID || id.Name != want.Name || id.Username != "" || id.Email != "" || !id.ExpiresAt.Equal(exp) {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}

	// "name" wins over "fullName".
	tok = sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "u1", "name": "N", "fullName": "F", "exp": exp.Unix()}, "")
	if id, err = v.Verify(context.Background(), tok); err != nil || id.Name != "N" {
		t.Fatalf("name precedence: %+v, %v", id, err)
	}
}

// TestVerifier_UserClaim: the tokens NestJS apps sign ({sub: 42},
// JwtService.sign({userId: 1}), {id: "u1"}) authenticate with the matching
// UserClaim; numbers become their digits; the reason names the claim.
func TestVerifier_UserClaim(t *testing.T) {
	exp := testNow.Add(time.Hour).Unix()
	tests := []struct {
		name   string
		cfg    Config
		claims jwt.MapClaims
		want   string // the identity's ID; "" = refused
		reason string
	}{
		{"NumericSub", Config{}, jwt.MapClaims{"sub": 42}, "42", ""},
		{"NestUserID", Config{UserClaim: "userId"}, jwt.MapClaims{"userId": 1}, "1", ""},
		{"StringID", Config{UserClaim: "id"}, jwt.MapClaims{"id": "u1"}, "u1", ""},
		{"LargeIntegerKeepsDigits", Config{UserClaim: "id"}, jwt.MapClaims{"id": json.Number("123456789012345678901234567890")}, "123456789012345678901234567890", ""},
		{"IntegralFloat", Config{UserClaim: "id"}, jwt.MapClaims{"id": json.Number("7.0")}, "7", ""},
		{"Exponent", Config{UserClaim: "id"}, jwt.MapClaims{"id": json.Number("4.2e1")}, "42", ""},
		{"Negative", Config{UserClaim: "id"}, jwt.MapClaims{"id": -3}, "-3", ""},
		{"Fraction", Config{UserClaim: "userId"}, jwt.MapClaims{"userId": 1.5}, "", "Token claim userId must be a string or an integer"},
		{"HugeExponent", Config{UserClaim: "userId"}, jwt.MapClaims{"userId": json.Number("1e400")}, "", "Token claim userId must be a string or an integer"},
		{"Object", Config{UserClaim: "userId"}, jwt.MapClaims{"userId": map[string]any{"id": 1}}, "", "Token claim userId must be a string or an integer"},
		{"SubWhenUserIDConfigured", Config{UserClaim: "userId"}, jwt.MapClaims{"sub": "1"}, "", "Token is missing claim userId"},
		{"UserIDWhenSubConfigured", Config{}, jwt.MapClaims{"userId": 1}, "", "Token is missing claim sub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Secret, tt.cfg.Now = testSecret, func() time.Time { return testNow }
			v, err := NewVerifier(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			tt.claims["exp"] = exp
			id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, tt.claims, ""))
			if tt.want != "" {
				if err != nil || id.ID != tt.want {
					t.Fatalf("Verify = %+v, %v; want id %q", id, err, tt.want)
				}
				return
			}
			checkReason(t, err, tt.reason, ErrInvalidToken)
		})
	}
}

// TestVerifier_NameClaims: NameClaims are tried in order.
func TestVerifier_NameClaims(t *testing.T) {
	claims := jwt.MapClaims{"sub": "u1", "name": "N", "fullName": "F", "displayName": "D", "exp": testNow.Add(time.Hour).Unix()}
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{nil, "N"},
		{[]string{"displayName", "name"}, "D"},
		{[]string{"nickname", "fullName"}, "F"},
		{[]string{"nickname"}, ""},
	} {
		v, err := NewVerifier(Config{Secret: testSecret, NameClaims: tt.names, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, claims, ""))
		if err != nil || id.Name != tt.want {
			t.Errorf("NameClaims %v: %+v, %v; want name %q", tt.names, id, err, tt.want)
		}
	}
}

func TestVerifier_DefaultLeeway(t *testing.T) {
	now := testNow
	v, err := NewVerifier(Config{Secret: testSecret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, testSecret, with(baseClaims(), "exp", testNow.Unix()), "")
	for _, c := range []struct {
		after time.Duration
		want  error
	}{{29 * time.Second, nil}, {31 * time.Second, ErrExpired}} {
		now = testNow.Add(c.after)
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Fatalf("%v after exp: err = %v, want %v", c.after, err, c.want)
		}
	}
}

func TestVerifier_CanceledContext(t *testing.T) {
	v, err := NewVerifier(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// jwkOf encodes pub as a JWK.
func jwkOf(t *testing.T, pub any, kid, alg string) map[string]string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "alg": alg, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"kty": "EC", "kid": kid, "alg": alg, "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	}
	t.Fatalf("unsupported key %T", pub)
	return nil
}

func writeJWKS(t *testing.T, keys ...map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifier_JWKS(t *testing.T) {
	clock := func() time.Time { return testNow }
	second := mustRSA()
	path := writeJWKS(t,
		jwkOf(t, &testKeys.rsa.PublicKey, "k1", "RS256"),
		jwkOf(t, &second.PublicKey, "k2", ""),
		jwkOf(t, &testKeys.ec.PublicKey, "ec1", "ES256"), // skipped for RS256
	)
	v, err := NewVerifier(Config{Algorithm: "RS256", JWKSFile: path, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"Kid1", sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), "k1"), nil},
		{"Kid2", sign(t, jwt.SigningMethodRS256, second, baseClaims(), "k2"), nil},
		{"KidMismatch", sign(t, jwt.SigningMethodRS256, second, baseClaims(), "k1"), ErrInvalidToken},
		{"UnknownKid", sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), "nope"), ErrInvalidToken},
		{"NoKidSeveralKeys", sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), ""), ErrInvalidToken},
		{"ECKeyKidWithRS256", sign(t, jwt.SigningMethodES256, testKeys.ec, baseClaims(), "ec1"), ErrInvalidToken},
	}
	reasons := map[string]string{
		"KidMismatch":       "Invalid token signature",
		"UnknownKid":        "Token key id (kid) is unknown",
		"NoKidSeveralKeys":  "Token has no key id (kid)",
		"ECKeyKidWithRS256": "Token algorithm ES256 is not accepted (expected RS256)",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tt.token)
			checkReason(t, err, reasons[tt.name], tt.wantErr)
			if tt.wantErr == nil && (err != nil || id.ID != "42") {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}

	t.Run("ES256SingleKeyNoKid", func(t *testing.T) {
		v, err := NewVerifier(Config{Algorithm: "ES256", JWKSFile: writeJWKS(t, jwkOf(t, &testKeys.ec.PublicKey, "only", "")), Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, testKeys.ec, baseClaims(), "")); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("AlgMismatchOnlyKey", func(t *testing.T) {
		_, err := NewVerifier(Config{Algorithm: "RS256", JWKSFile: writeJWKS(t, jwkOf(t, &testKeys.rsa.PublicKey, "k", "RS512")), Now: clock})
		if err == nil {
			t.Fatal("NewVerifier accepted a JWKS whose only key is for RS512")
		}
	})
}

func TestVerifier_PEMForms(t *testing.T) {
	clock := func() time.Time { return testNow }
	dir := t.TempDir()
	pkcs1 := filepath.Join(dir, "pkcs1.pem")
	if err := os.WriteFile(pkcs1, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&testKeys.rsa.PublicKey)}), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &testKeys.ec.PublicKey, testKeys.ec)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		tok  string
	}{
		{"PKCS1RSA", Config{Algorithm: "RS256", PublicKeyFile: pkcs1, Now: clock}, sign(t, jwt.SigningMethodRS256, testKeys.rsa, baseClaims(), "")},
		{"CertificateEC", Config{Algorithm: "ES256", PublicKeyFile: cert, Now: clock}, sign(t, jwt.SigningMethodES256, testKeys.ec, baseClaims(), "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewVerifier(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), c.tok); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestNewVerifier_Errors(t *testing.T) {
	rsaPEM := writePEM(t, &testKeys.rsa.PublicKey)
	ecPEM := writePEM(t, &testKeys.ec.PublicKey)
	p384PEM := writePEM(t, &mustEC(elliptic.P384()).PublicKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := writePEM(t, &small.PublicKey)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	jwks := writeJWKS(t, jwkOf(t, &testKeys.rsa.PublicKey, "k", "RS256"))

	tests := []struct {
		name string
		cfg  Config
	}{
		{"HS256NoSecret", Config{}},
		{"HS256ShortSecret", Config{Secret: testSecret[:MinSecretLen-1]}},
		{"HS256WithKeyFile", Config{Secret: testSecret, PublicKeyFile: rsaPEM}},
		{"UnknownAlg", Config{Algorithm: "HS512", Secret: testSecret}},
		{"AlgNone", Config{Algorithm: "none", Secret: testSecret}},
		{"RS256NoKey", Config{Algorithm: "RS256"}},
		{"RS256WithSecret", Config{Algorithm: "RS256", Secret: testSecret, PublicKeyFile: rsaPEM}},
		{"RS256ECKey", Config{Algorithm: "RS256", PublicKeyFile: ecPEM}},
		{"ES256RSAKey", Config{Algorithm: "ES256", PublicKeyFile: rsaPEM}},
		{"ES256P384Key", Config{Algorithm: "ES256", PublicKeyFile: p384PEM}},
		{"RS256SmallKey", Config{Algorithm: "RS256", PublicKeyFile: smallPEM}},
		{"NotPEM", Config{Algorithm: "RS256", PublicKeyFile: notPEM}},
		{"MissingFile", Config{Algorithm: "RS256", PublicKeyFile: filepath.Join(t.TempDir(), "absent.pem")}},
		{"BothFiles", Config{Algorithm: "RS256", PublicKeyFile: rsaPEM, JWKSFile: jwks}},
		{"JWKSNoUsableKey", Config{Algorithm: "ES256", JWKSFile: jwks}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := NewVerifier(tt.cfg); err == nil {
				t.Fatalf("NewVerifier = %v, want error", v)
			}
		})
	}
}

func TestMint(t *testing.T) {
	id := Identity{ID: "7", Name: "Dev", Username: "dev", Email: "dev@example.com"}
	tok, err := Mint(testSecret, id, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Secret: testSecret, Now: func() time.Time { return testNow.Add(30 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	id.ExpiresAt = testNow.Add(time.Hour)
	if got.ID != id.ID || got.Name != id.Name || got.Username != id.Username || got.Email != id.Email || !got.ExpiresAt.Equal(id.ExpiresAt) {
		t.Fatalf("round trip = %+v, want %+v", got, id)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if c["iat"] != float64(testNow.Unix()) {
		t.Fatalf("iat = %v", c["iat"])
	}

	later, err := NewVerifier(Config{Secret: testSecret, Now: func() time.Time { return testNow.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := later.Verify(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("minted token after ttl: %v, want ErrExpired", err)
	}

	for name, f := range map[string]func() (string, error){
		"EmptySecret": func() (string, error) { return Mint(nil, id, time.Hour, testNow) },
		"ShortSecret": func() (string, error) { return Mint(testSecret[:MinSecretLen-1], id, time.Hour, testNow) },
		"EmptyID":     func() (string, error) { return Mint(testSecret, Identity{}, time.Hour, testNow) },
		"ZeroTTL":     func() (string, error) { return Mint(testSecret, id, 0, testNow) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("Mint %s: no error", name)
		}
	}
}

// TestMintWith: a token minted into other claims verifies with a Verifier
// reading those claims.
func TestMintWith(t *testing.T) {
	tok, err := MintWith(testSecret, MintConfig{UserClaim: "userId", NameClaim: "fullName"}, Identity{ID: "7", Name: "Dev"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if c["userId"] != "7" || c["fullName"] != "Dev" || c["sub"] != nil || c["name"] != nil {
		t.Fatalf("claims %v", c)
	}
	v, err := NewVerifier(Config{Secret: testSecret, UserClaim: "userId", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Verify(context.Background(), tok); err != nil || id.ID != "7" || id.Name != "Dev" {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("identity in empty context")
	}
	id := Identity{ID: "1", Name: "x"}
	got, ok := FromContext(NewContext(ctx, id))
	if !ok || got != id {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}
