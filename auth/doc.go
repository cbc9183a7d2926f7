// Package auth verifies the JWTs clients present to sockgate and carries the
// resulting Identity through contexts (SPEC §5; token sources from seed
// api-with-nestjs-26's cookie authentication and seed
// websockets-realtime-communication §4's auth gateway).
//
// It knows nothing of Socket.IO or HTTP routing: the gateway calls
// TokenFromRequest on a handshake or request, Verify on the token, and
// NewContext to attach the Identity. Errors are facts (ErrNoToken,
// ErrInvalidToken, ErrExpired, ErrNotValidYet, detail wrapped with %w); the
// gateway maps them to `unauthorized` replies and logs the detail.
//
// Decisions where the SPEC is silent:
//   - One algorithm is pinned per Verifier (HS256 default, RS256, ES256). A
//     token naming any other alg is refused before a key is chosen, which
//     defeats "alg: none" and the RS256→HS256 key-confusion attack (an HMAC
//     forged with the public key as secret); the key type is checked again in
//     the key function.
//   - exp is required: a token that never expires cannot be revoked. nbf,
//     when present, is always checked; iss and aud only when configured.
//   - Clock skew (leeway) defaults to 30s, applied to exp and nbf.
//   - sub is required and becomes Identity.ID; name falls back to fullName
//     (the NestJS seeds' claim); username and email are optional.
//   - Key material is loaded once by NewVerifier: PEM (PKIX, PKCS#1 or a
//     certificate) or a JWKS file selected by kid. RSA keys below 2048 bits
//     and EC keys not on P-256 are refused. There is no remote JWKS fetching:
//     the network policy allows no outside hosts, and a file can be rotated
//     by restarting.
//   - Tokens over MaxTokenLen (8 KiB) are refused before decoding.
//   - Token sources are tried in SPEC order (handshake auth.token, ?token=,
//     Authorization: Bearer, Authentication cookie); the first present wins
//     even if it is bad, so a bad explicit token is never masked by a cookie.
//
// A Verifier is immutable after construction and safe for concurrent use.
package auth
