// Package auth verifies the JWTs clients present to sockgate and carries the
// resulting Identity through contexts (SPEC §5; token sources from seed
// api-with-nestjs-26's cookie authentication and seed
// websockets-realtime-communication §4's auth gateway).
//
// It knows nothing of Socket.IO or HTTP routing: the gateway calls
// TokenFromRequest on a handshake or request, Verify on the token, and
// NewContext to attach the Identity. Errors are facts (ErrNoToken, and a
// *TokenError wrapping ErrInvalidToken, ErrExpired or ErrNotValidYet); the
// gateway maps them to `unauthorized` replies carrying TokenError.Reason
// and logs the detail.
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
//   - The user claim (Config.UserClaim, "sub" by default; NestJS apps sign
//     {userId: 1} or {id: ...}) is required and becomes Identity.ID. A JSON
//     integer is accepted and becomes its decimal digits (42 → "42"; an
//     integer literal keeps its digits even beyond 2^53, another form such
//     as 4.2e1 only when a JavaScript number holds it exactly); fractions,
//     booleans and objects are refused. The display name is the first
//     non-empty string of Config.NameClaims ("name", then "fullName", the
//     NestJS seeds' claim); username and email are optional.
//   - A refusal says why in TokenError.Reason ("Token expired", "Invalid
//     token signature", "Token is missing claim userId", "Token algorithm
//     RS256 is not accepted (expected HS256)", ...), which clients are told:
//     it names claims and algorithms, never a key, the secret or a claim's
//     value, and echoes a token's alg only when it looks like an algorithm
//     name.
//   - HS256 secrets shorter than MinSecretLen (32 bytes, RFC 7518 §3.2) are
//     refused by NewVerifier and Mint: a short secret can be brute-forced
//     offline from any token it signed.
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
