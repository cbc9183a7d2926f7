package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// minRSABits refuses toy RSA keys; 2048 is the floor NIST and RFC 7518 set.
const minRSABits = 2048

// loadPEMKey reads the first PEM block of path: a PKIX "PUBLIC KEY", a PKCS#1
// "RSA PUBLIC KEY" or a "CERTIFICATE" (its subject key is used; the chain is
// not verified, the file is trusted configuration).
func loadPEMKey(path, alg string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: public key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: public key file %s: no PEM block", path)
	}
	var key crypto.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("auth: public key file %s: PEM block %q is not a public key or certificate", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: public key file %s: %w", path, err)
	}
	if err := keyFits(key, alg); err != nil {
		return nil, fmt.Errorf("auth: public key file %s: %w", path, err)
	}
	return key, nil
}

// keyFits reports whether key can verify alg.
func keyFits(key crypto.PublicKey, alg string) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != "RS256" {
			return fmt.Errorf("RSA key cannot verify %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if alg != "ES256" {
			return fmt.Errorf("EC key cannot verify %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("EC key on %s cannot verify ES256 (needs P-256)", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%T key cannot verify %s", key, alg)
	}
	return nil
}

// jwk is the subset of RFC 7517/7518 members needed for RSA and P-256 keys.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// loadJWKS reads a JWKS file and returns its keys usable for alg, by kid.
// Keys for other algorithms or uses ("enc") are skipped, not errors, so one
// provider's full set can be dropped in; a set with no usable key is an error.
func loadJWKS(path, alg string) (map[string]crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS file: %w", err)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("auth: JWKS file %s: %w", path, err)
	}
	keys := make(map[string]crypto.PublicKey)
	for i, k := range set.Keys {
		if (k.Alg != "" && k.Alg != alg) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		var key crypto.PublicKey
		switch {
		case k.Kty == "RSA" && alg == "RS256":
			key, err = k.rsaKey()
		case k.Kty == "EC" && alg == "ES256":
			key, err = k.ecKey()
		default:
			continue
		}
		if err == nil {
			err = keyFits(key, alg)
		}
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file %s: key %d (kid %q): %w", path, i, k.Kid, err)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("auth: JWKS file %s: duplicate kid %q", path, k.Kid)
		}
		keys[k.Kid] = key
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth: JWKS file %s: no key usable for %s", path, alg)
	}
	return keys, nil
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	n, err := b64Int(k.N)
	if err != nil {
		return nil, fmt.Errorf("n: %w", err)
	}
	e, err := b64Int(k.E)
	if err != nil {
		return nil, fmt.Errorf("e: %w", err)
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errors.New("e out of range")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func (k jwk) ecKey() (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("curve %q cannot verify ES256", k.Crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != 32 {
		return nil, errors.New("bad x")
	}
	y, err := base64.RawURLEncoding.DecodeString(k.Y)
	if err != nil || len(y) != 32 {
		return nil, errors.New("bad y")
	}
	// Parse via the uncompressed SEC 1 form so the point is checked to be on
	// the curve (crypto/ecdh refuses invalid points).
	raw := append(append([]byte{4}, x...), y...)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, err
	}
	return key, nil
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return new(big.Int).SetBytes(b), nil
}
