package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sockgate/sockgate/socketio"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/admin"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
)

// Config is the whole configuration of the server process. Every field has
// a flag and an environment variable (the README lists them); precedence is
// flag > environment > default.
type Config struct {
	Addr               string        // -addr, SOCKGATE_ADDR
	DatabaseURL        string        // -db, DATABASE_URL; empty: <DataDir>/sockgate.db
	DataDir            string        // -data-dir, SOCKGATE_DATA_DIR: SQLite file and attachments
	Attachments        string        // -attachments, SOCKGATE_ATTACHMENTS: auto|db|disk
	RedisURL           string        // -redis, REDIS_URL
	RedisPrefix        string        // -redis-prefix, SOCKGATE_REDIS_PREFIX
	AdapterKey         string        // -redis-adapter-key, SOCKGATE_REDIS_ADAPTER_KEY
	AdapterMode        string        // -redis-adapter, SOCKGATE_REDIS_ADAPTER
	JWTSecret          string        // -jwt-secret, JWT_SECRET
	JWTAlg             string        // -jwt-alg, SOCKGATE_JWT_ALG: HS256|RS256|ES256
	JWTPublicKey       string        // -jwt-public-key, SOCKGATE_JWT_PUBLIC_KEY (PEM file)
	JWTJWKS            string        // -jwt-jwks, SOCKGATE_JWT_JWKS (JWKS file)
	JWTIssuer          string        // -jwt-issuer, SOCKGATE_JWT_ISSUER
	JWTAudience        string        // -jwt-audience, SOCKGATE_JWT_AUDIENCE
	JWTLeeway          time.Duration // -jwt-leeway, SOCKGATE_JWT_LEEWAY
	JWTUserClaim       string        // -jwt-user-claim, SOCKGATE_JWT_USER_CLAIM: the claim holding the user id
	JWTNameClaim       string        // -jwt-name-claim, SOCKGATE_JWT_NAME_CLAIM: display-name claims, in order (comma-separated)
	AuthRoot           string        // -auth-root, SOCKGATE_AUTH_ROOT: optional|required for "/"
	AuthRooms          string        // -auth-rooms, SOCKGATE_AUTH_ROOMS: for "/rooms"
	AuthChat           string        // -auth-chat, SOCKGATE_AUTH_CHAT: for "/chat"
	MaxUpload          int64         // -max-upload, SOCKGATE_MAX_UPLOAD: attachment cap, bytes
	UploadTypes        string        // -upload-types, SOCKGATE_UPLOAD_TYPES: attachment media types (comma-separated)
	StaticDir          string        // -static, SOCKGATE_STATIC
	CORSOrigins        string        // -cors-origins, SOCKGATE_CORS_ORIGINS (comma-separated)
	CORSCredentials    bool          // -cors-credentials, SOCKGATE_CORS_CREDENTIALS
	TrustedProxies     string        // -trusted-proxies, SOCKGATE_TRUSTED_PROXIES (CIDRs/addresses)
	RateLimits         string        // -rate-limits, SOCKGATE_RATE_LIMITS (ratelimit.ParseRules syntax)
	RateLimitFailure   string        // -ratelimit-redis-failure, SOCKGATE_RATELIMIT_REDIS_FAILURE: open|closed
	MaxHTTPBufferSize  int64         // -max-http-buffer-size, SOCKGATE_MAX_HTTP_BUFFER_SIZE
	SendQueueBytes     int64         // -send-queue-bytes, SOCKGATE_SEND_QUEUE_BYTES: per-connection send queue, bytes
	WriteTimeout       time.Duration // -write-timeout, SOCKGATE_WRITE_TIMEOUT: one write to a client
	BodyTimeout        time.Duration // -body-timeout, SOCKGATE_BODY_TIMEOUT: reading one request body
	MaxConnsPerIP      int64         // -max-conns-per-ip, SOCKGATE_MAX_CONNS_PER_IP: 0 = no cap
	MaxConnsPerUser    int64         // -max-conns-per-user, SOCKGATE_MAX_CONNS_PER_USER: 0 = no cap
	PprofAddr          string        // -pprof-addr, SOCKGATE_PPROF_ADDR: /debug/pprof/ listener; empty = off
	PprofPublic        bool          // -pprof-public, SOCKGATE_PPROF_PUBLIC: allow a non-loopback -pprof-addr
	PingInterval       time.Duration // -ping-interval, SOCKGATE_PING_INTERVAL
	PingTimeout        time.Duration // -ping-timeout, SOCKGATE_PING_TIMEOUT
	ClusterHeartbeat   time.Duration // -cluster-heartbeat, SOCKGATE_CLUSTER_HEARTBEAT
	ClusterTTL         time.Duration // -cluster-ttl, SOCKGATE_CLUSTER_TTL
	ShutdownTimeout    time.Duration // -shutdown-timeout, SOCKGATE_SHUTDOWN_TIMEOUT
	EventTimeout       time.Duration // -event-timeout, SOCKGATE_EVENT_TIMEOUT
	DBCommitters       int64         // -db-committers, SOCKGATE_DB_COMMITTERS: group-commit queues; 0 = the store's default, -1 = off
	ConnectConcurrency int64         // -connect-concurrency, SOCKGATE_CONNECT_CONCURRENCY: /chat connection hooks at once; 0 = half the CPUs
	GCFloor            int64         // -gc-floor, SOCKGATE_GC_FLOOR: heap the collector lets grow before a cycle, bytes; 0 = off
	LogFormat          string        // -log-format, SOCKGATE_LOG_FORMAT: text|json
	LogLevel           string        // -log-level, SOCKGATE_LOG_LEVEL: debug|info|warn|error
	Recovery           bool          // -recovery, SOCKGATE_RECOVERY
	RecoveryMaxDisc    time.Duration // -recovery-max-disconnection, SOCKGATE_RECOVERY_MAX_DISCONNECTION
	RecoverySkipMW     bool          // -recovery-skip-middlewares, SOCKGATE_RECOVERY_SKIP_MIDDLEWARES
	RecoveryLogBytes   int64         // -recovery-max-log-bytes, SOCKGATE_RECOVERY_MAX_LOG_BYTES
	AdminUser          string        // -admin-user, SOCKGATE_ADMIN_USER: enables /admin (with the hash)
	AdminPasswordHash  string        // -admin-password-hash, SOCKGATE_ADMIN_PASSWORD_HASH: bcrypt
	AdminMode          string        // -admin-mode, SOCKGATE_ADMIN_MODE: development|production
	AdminProtected     bool          // -admin-allow-protected, SOCKGATE_ADMIN_ALLOW_PROTECTED
}

// recovery is the socketio recovery configuration, nil when -recovery is off.
func (c Config) recovery() *socketio.RecoveryConfig {
	if !c.Recovery {
		return nil
	}
	return &socketio.RecoveryConfig{MaxDisconnectionDuration: c.RecoveryMaxDisc, SkipMiddlewares: c.RecoverySkipMW, MaxLogBytes: c.RecoveryLogBytes}
}

// DefaultConfig returns the defaults: everything embedded, nothing external.
func DefaultConfig() Config {
	return Config{
		Addr:              ":3000",
		DataDir:           "./data",
		Attachments:       string(gateway.AttachmentsAuto),
		JWTAlg:            "HS256",
		JWTLeeway:         auth.DefaultLeeway,
		JWTUserClaim:      auth.DefaultUserClaim,
		JWTNameClaim:      strings.Join(auth.DefaultNameClaims, ","),
		AuthRoot:          "optional",
		AuthRooms:         "optional",
		AuthChat:          "optional",
		MaxUpload:         10 << 20,
		RedisPrefix:       "sockgate",
		RateLimitFailure:  string(ratelimit.FailOpen),
		AdapterKey:        "socket.io",
		AdapterMode:       "classic",
		MaxHTTPBufferSize: 1_000_000,
		SendQueueBytes:    4 << 20,
		WriteTimeout:      10 * time.Second,
		BodyTimeout:       10 * time.Second,
		MaxConnsPerIP:     1000,
		MaxConnsPerUser:   100,
		PingInterval:      25 * time.Second,
		PingTimeout:       20 * time.Second,
		ClusterHeartbeat:  5 * time.Second,
		ClusterTTL:        15 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		EventTimeout:      10 * time.Second,
		RecoveryMaxDisc:   2 * time.Minute,
		RecoveryLogBytes:  64 << 20,
		GCFloor:           64 << 20,
		LogFormat:         "text",
		LogLevel:          "info",
		AdminMode:         string(admin.Development),
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("-addr %q: %w", c.Addr, err))
	}
	if c.MaxHTTPBufferSize <= 0 {
		errs = append(errs, fmt.Errorf("-max-http-buffer-size must be positive, not %d", c.MaxHTTPBufferSize))
	}
	if c.EventTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-event-timeout must be positive, not %v", c.EventTimeout))
	}
	if c.RecoveryMaxDisc <= 0 || c.RecoveryLogBytes <= 0 {
		errs = append(errs, fmt.Errorf("-recovery-max-disconnection (%v) and -recovery-max-log-bytes (%d) must be positive", c.RecoveryMaxDisc, c.RecoveryLogBytes))
	}
	errs = append(errs, c.validateLimits()...)
	if c.ClusterHeartbeat <= 0 || c.ClusterTTL <= c.ClusterHeartbeat {
		errs = append(errs, fmt.Errorf("-cluster-ttl (%v) must exceed a positive -cluster-heartbeat (%v): an instance refreshes its key before it expires", c.ClusterTTL, c.ClusterHeartbeat))
	}
	if c.PingInterval <= 0 || c.PingTimeout <= 0 {
		errs = append(errs, errors.New("-ping-interval and -ping-timeout must be positive"))
	}
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, "{}") {
		errs = append(errs, fmt.Errorf("-redis-prefix must be non-empty and without braces (they pick Redis Cluster slots), not %q", c.RedisPrefix))
	}
	if c.AdapterMode != "classic" && c.AdapterMode != "sharded" && c.AdapterMode != "streams" {
		errs = append(errs, fmt.Errorf("-redis-adapter must be classic (one Redis), sharded (a Redis 7 Cluster) or streams (a Redis stream), not %q", c.AdapterMode))
	}
	if c.AdapterKey == "" || strings.Contains(c.AdapterKey, "#") {
		errs = append(errs, fmt.Errorf("-redis-adapter-key must be non-empty and without '#' (it separates the channel names), not %q", c.AdapterKey))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("-shutdown-timeout must be positive"))
	}
	if _, err := parseRateLimits(c.RateLimits); err != nil {
		errs = append(errs, fmt.Errorf("-rate-limits: %w", err))
	}
	if _, err := ratelimit.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("-trusted-proxies: %w", err))
	}
	if c.RateLimitFailure == "" {
		errs = append(errs, errors.New("-ratelimit-redis-failure must be open or closed, not empty"))
	} else if _, err := ratelimit.ParseFailureMode(c.RateLimitFailure); err != nil {
		errs = append(errs, fmt.Errorf("-ratelimit-redis-failure: %w", err))
	}
	errs = append(errs, c.validateCORS()...)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format must be text or json, not %q", c.LogFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateAuth()...)
	errs = append(errs, c.validateClaims()...)
	errs = append(errs, c.validateAdmin()...)
	if c.DataDir == "" {
		errs = append(errs, errors.New("-data-dir must not be empty"))
	}
	if _, err := c.storeDSN(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxUpload <= 0 {
		errs = append(errs, fmt.Errorf("-max-upload must be positive, not %d", c.MaxUpload))
	}
	if _, err := gateway.ParseAttachmentStore(c.Attachments); err != nil {
		errs = append(errs, fmt.Errorf("-attachments must be auto, db or disk, not %q", c.Attachments))
	}
	return errors.Join(errs...)
}

// warnings are the settings that are legal but probably not what was
// meant; Run logs each at Warn.
func (c Config) warnings() []string {
	var w []string
	if c.DatabaseURL != "" && !c.jwtConfigured() {
		w = append(w, "-db (DATABASE_URL) is set but no JWT key is configured (-jwt-secret, -jwt-public-key or -jwt-jwks): "+
			"the store is not opened, stored chats are off")
	}
	if c.CORSCredentials && len(c.corsOrigins()) == 0 {
		w = append(w, "-cors-credentials has no effect without -cors-origins: same-origin requests need no CORS header")
	}
	return w
}

// validateLimits checks the flags bounding what one client may cost, and
// -pprof-addr: profiles reveal the program's internals and cost CPU, so a
// listener reachable from elsewhere needs -pprof-public.
func (c Config) validateLimits() []error {
	var errs []error
	if c.SendQueueBytes < c.MaxHTTPBufferSize {
		errs = append(errs, fmt.Errorf("-send-queue-bytes (%d) must be at least -max-http-buffer-size (%d): one message must fit", c.SendQueueBytes, c.MaxHTTPBufferSize))
	}
	if c.WriteTimeout <= 0 || c.BodyTimeout <= 0 {
		errs = append(errs, errors.New("-write-timeout and -body-timeout must be positive"))
	}
	if c.GCFloor < 0 {
		errs = append(errs, fmt.Errorf("-gc-floor must be 0 (off) or a size in bytes, not %d", c.GCFloor))
	}
	if c.ConnectConcurrency < 0 || c.ConnectConcurrency > 256 {
		errs = append(errs, errors.New("-connect-concurrency must be 0 (half the CPUs) or 1..256"))
	}
	if c.DBCommitters < -1 || c.DBCommitters > 64 {
		errs = append(errs, errors.New("-db-committers must be -1 (off), 0 (default) or 1..64"))
	}
	if c.MaxConnsPerIP < 0 || c.MaxConnsPerUser < 0 {
		errs = append(errs, errors.New("-max-conns-per-ip and -max-conns-per-user must be 0 (no cap) or positive"))
	}
	if c.PprofAddr == "" {
		return errs
	}
	host, _, err := net.SplitHostPort(c.PprofAddr)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("-pprof-addr %q: %w", c.PprofAddr, err))
	case !c.PprofPublic && !isLoopback(host):
		errs = append(errs, fmt.Errorf("-pprof-addr %q is not a loopback address: profiles expose the program's internals to whoever reaches it; "+
			"use 127.0.0.1:PORT, or add -pprof-public to serve it there anyway", c.PprofAddr))
	}
	return errs
}

// isLoopback reports whether host (of a listen address) is a loopback
// address or localhost; "" (every interface) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateCORS checks -cors-origins and -cors-credentials.
func (c Config) validateCORS() []error {
	var errs []error
	for _, o := range c.corsOrigins() {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			errs = append(errs, fmt.Errorf("-cors-origins: %q is not an origin (scheme://host[:port]) or *", o))
		}
	}
	if c.CORSCredentials && slices.Contains(c.corsOrigins(), "*") {
		errs = append(errs, errors.New(`-cors-credentials cannot be combined with -cors-origins "*": `+
			"every site could make requests with the user's cookies; list the origins instead"))
	}
	return errs
}

// validateAdmin checks the -admin-* flags: both credentials or neither.
func (c Config) validateAdmin() []error {
	if c.AdminUser == "" && c.AdminPasswordHash == "" {
		if _, err := admin.ParseMode(c.AdminMode); err != nil {
			return []error{fmt.Errorf("-admin-mode: %w", err)}
		}
		return nil
	}
	var errs []error
	if c.AdminUser == "" || c.AdminPasswordHash == "" {
		errs = append(errs, errors.New("-admin-user and -admin-password-hash go together: both enable the admin UI namespace /admin, neither disables it"))
	}
	if err := c.adminConfig().Check(); err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("-admin-*: %w (make one: htpasswd -nbBC 10 \"\" PASSWORD | cut -c2-)", err))
	}
	return errs
}

// adminConfig is the admin namespace's configuration (zero: disabled).
func (c Config) adminConfig() admin.Config {
	return admin.Config{User: c.AdminUser, PasswordHash: c.AdminPasswordHash, Mode: admin.Mode(c.AdminMode), AllowProtected: c.AdminProtected}
}

// validateClaims checks -jwt-user-claim and -jwt-name-claim.
func (c Config) validateClaims() []error {
	var errs []error
	switch u := c.JWTUserClaim; {
	case u == "" || strings.ContainsAny(u, ", "):
		errs = append(errs, fmt.Errorf("-jwt-user-claim must be one claim name (sub, userId, id, ...), not %q", u))
	case slices.Contains([]string{"exp", "nbf", "iat", "iss", "aud", "jti"}, u):
		errs = append(errs, fmt.Errorf("-jwt-user-claim %q is a registered claim with another meaning; name the claim holding the user id", u))
	}
	if len(splitList(c.JWTNameClaim)) == 0 {
		errs = append(errs, errors.New("-jwt-name-claim must name at least one claim (default name,fullName)"))
	}
	return errs
}

// validateAuth checks the JWT and auth-mode flags. Key files are read (and
// checked) by Run.
func (c Config) validateAuth() []error {
	var errs []error
	switch c.JWTAlg {
	case "HS256":
		if c.JWTPublicKey != "" || c.JWTJWKS != "" {
			errs = append(errs, errors.New("-jwt-public-key and -jwt-jwks are for RS256/ES256; HS256 uses -jwt-secret"))
		}
		if err := checkSecret(c.JWTSecret); err != nil {
			errs = append(errs, err)
		}
	case "RS256", "ES256":
		if (c.JWTPublicKey == "") == (c.JWTJWKS == "") {
			errs = append(errs, fmt.Errorf("-jwt-alg %s needs exactly one of -jwt-public-key and -jwt-jwks", c.JWTAlg))
		}
		if c.JWTSecret != "" {
			errs = append(errs, fmt.Errorf("-jwt-secret is for HS256, not %s", c.JWTAlg))
		}
	default:
		errs = append(errs, fmt.Errorf("-jwt-alg must be HS256, RS256 or ES256, not %q", c.JWTAlg))
	}
	modes, err := c.authModes()
	if err != nil {
		errs = append(errs, err)
	}
	for ns, m := range modes {
		if m == gateway.AuthRequired && !c.jwtConfigured() {
			errs = append(errs, fmt.Errorf("auth is required on %s but no JWT key is configured (-jwt-secret, -jwt-public-key or -jwt-jwks)", ns))
		}
	}
	return errs
}

// jwtConfigured reports whether key material was given: without it every
// socket is anonymous and the stored chats are off.
func (c Config) jwtConfigured() bool {
	return c.JWTSecret != "" || c.JWTPublicKey != "" || c.JWTJWKS != ""
}

// authModes parses the per-namespace auth flags.
func (c Config) authModes() (map[string]gateway.AuthMode, error) {
	modes := map[string]gateway.AuthMode{}
	var errs []error
	for _, f := range []struct{ flag, ns, v string }{
		{"-auth-root", "/", c.AuthRoot}, {"-auth-rooms", "/rooms", c.AuthRooms}, {"-auth-chat", "/chat", c.AuthChat},
	} {
		m, err := gateway.ParseAuthMode(f.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: must be optional or required, not %q", f.flag, f.v))
			continue
		}
		modes[f.ns] = m
	}
	return modes, errors.Join(errs...)
}

// checkSecret refuses a set HS256 secret shorter than auth.MinSecretLen
// (an empty one means no JWT key, which is legal).
func checkSecret(secret string) error {
	if secret == "" || len(secret) >= auth.MinSecretLen {
		return nil
	}
	return fmt.Errorf("-jwt-secret (JWT_SECRET) is %d bytes; HS256 needs at least %d (RFC 7518 §3.2: a shorter secret "+
		"can be guessed from any token it signed). Generate one: head -c 32 /dev/urandom | base64", len(secret), auth.MinSecretLen)
}

// verifierConfig is the auth.Config of the JWT flags.
func (c Config) verifierConfig() auth.Config {
	return auth.Config{
		Algorithm:     c.JWTAlg,
		Secret:        []byte(c.JWTSecret),
		PublicKeyFile: c.JWTPublicKey,
		JWKSFile:      c.JWTJWKS,
		Issuer:        c.JWTIssuer,
		Audience:      c.JWTAudience,
		Leeway:        c.JWTLeeway,
		UserClaim:     c.JWTUserClaim,
		NameClaims:    splitList(c.JWTNameClaim),
	}
}

// dbForms names the accepted -db forms, for error messages.
const dbForms = "a SQLite file path (./data/sockgate.db), sqlite:PATH, file:PATH, or a postgres:// or postgresql:// URL"

// storeDSN is the store's DSN for -db: empty means the SQLite file in
// -data-dir; postgres:// and postgresql:// URLs are PostgreSQL; sqlite:PATH,
// sqlite://PATH, file:PATH and file://PATH are the SQLite file PATH (a
// "?query" kept); any other "scheme://" is refused, so that a misspelt
// URL (postgress://) does not become a stray SQLite file. Errors never
// repeat the value, which may hold a password.
func (c Config) storeDSN() (string, error) {
	v := c.DatabaseURL
	switch {
	case v == "":
		return filepath.Join(c.DataDir, "sockgate.db"), nil
	case store.IsPostgresDSN(v):
		if _, err := url.Parse(v); err != nil {
			return "", errors.New("-db (DATABASE_URL): the postgres:// URL does not parse; want postgres://user:password@host:5432/db?sslmode=disable")
		}
		return v, nil
	}
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if rest, ok := strings.CutPrefix(v, prefix); ok {
			v = rest
			break
		}
	}
	if scheme, _, ok := strings.Cut(v, "://"); ok && isScheme(scheme) {
		return "", fmt.Errorf("-db (DATABASE_URL): unknown scheme %q; want %s", scheme+"://", dbForms)
	}
	if file, _, _ := strings.Cut(v, "?"); file == "" || file == ":memory:" {
		return "", fmt.Errorf("-db (DATABASE_URL): the SQLite store needs a file path (in-memory databases are not supported); want %s", dbForms)
	}
	return v, nil
}

// isScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, '+', '-' or '.').
func isScheme(s string) bool {
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return s != ""
}

// corsOrigins splits CORSOrigins.
func (c Config) corsOrigins() []string {
	out := splitList(c.CORSOrigins)
	for i, o := range out {
		out[i] = strings.TrimSuffix(o, "/")
	}
	return out
}

// uploadTypes splits UploadTypes; nil (the gateway's default allow-list)
// when empty.
func (c Config) uploadTypes() []string { return splitList(c.UploadTypes) }

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// rateRules are the gateway's defaults overridden by -rate-limits.
func (c Config) rateRules() (map[string]ratelimit.Rule, error) {
	rules, err := parseRateLimits(c.RateLimits)
	if err != nil {
		return nil, err
	}
	all := gateway.DefaultRateRules()
	maps.Copy(all, rules)
	return all, nil
}

// parseRateLimits is ratelimit.ParseRules plus what the README promises:
// "name=0" (no period) switches a rule off, and a name that is no rule of
// the gateway is refused with the list of those that are (a misspelt rule
// would otherwise change nothing).
func parseRateLimits(s string) (map[string]ratelimit.Rule, error) {
	items := strings.Split(s, ",")
	for i, item := range items {
		if j := strings.LastIndexByte(item, '='); j >= 0 && strings.TrimSpace(item[j+1:]) == "0" {
			items[i] = item[:j] + "=0/1s" // the period of an unlimited rule is never used
		}
	}
	rules, err := ratelimit.ParseRules(strings.Join(items, ","))
	if err != nil {
		return nil, err
	}
	known := gateway.DefaultRateRules()
	var unknown []string
	for name := range rules {
		if _, ok := known[name]; !ok {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) == 0 {
		return rules, nil
	}
	slices.Sort(unknown)
	word := "rule"
	if len(unknown) > 1 {
		word = "rules"
	}
	return nil, fmt.Errorf("unknown %s %s; the rules are: %s", word, strings.Join(unknown, ", "), strings.Join(slices.Sorted(maps.Keys(known)), ", "))
}

// serverFlags registers the server's flags on c.
func serverFlags(c *Config, out io.Writer) *envFlags {
	e := newEnvFlags("sockgate", out)
	e.str(&c.Addr, "addr", "SOCKGATE_ADDR", "HTTP listen address")
	e.str(&c.DatabaseURL, "db", "DATABASE_URL", "store: a SQLite file path, sqlite:PATH, file:PATH, or a postgres:// URL; empty: <data-dir>/sockgate.db")
	e.int64(&c.GCFloor, "gc-floor", "SOCKGATE_GC_FLOOR", "bytes the heap may reach before the garbage collector runs while the live heap is small (fewer, cheaper cycles under load); 0: Go's default; ignored when GOGC is set")
	e.int64(&c.DBCommitters, "db-committers", "SOCKGATE_DB_COMMITTERS", "group-commit queues of /chat messages (concurrent sends share transactions); 0: 4 on PostgreSQL, 1 on SQLite; -1: one transaction per message")
	e.int64(&c.ConnectConcurrency, "connect-concurrency", "SOCKGATE_CONNECT_CONCURRENCY", "/chat connection hooks (presence, a reconnect's replay) run at once, and as many user upserts; more shortens a reconnect storm and slows other senders during it; 0: half the CPUs, at least 1")
	e.str(&c.DataDir, "data-dir", "SOCKGATE_DATA_DIR", "directory of the default SQLite file and of attachments on disk (<data-dir>/attachments)")
	e.str(&c.Attachments, "attachments", "SOCKGATE_ATTACHMENTS", "where attachment bytes live: db (the store's database, every instance), disk (<data-dir>/attachments) or auto (db on PostgreSQL, disk on SQLite)")
	e.str(&c.RedisURL, "redis", "REDIS_URL", "Redis URL; set: rate limits shared by every instance")
	e.str(&c.RedisPrefix, "redis-prefix", "SOCKGATE_REDIS_PREFIX", "prefix of every Redis key (deployments sharing a Redis use distinct ones)")
	e.str(&c.AdapterMode, "redis-adapter", "SOCKGATE_REDIS_ADAPTER", "Socket.IO Redis adapter format: classic (one Redis, Node's createAdapter), sharded (a Redis 7 Cluster, Node's createShardedAdapter) or streams (a Redis stream, Node's @socket.io/redis-streams-adapter)")
	e.str(&c.AdapterKey, "redis-adapter-key", "SOCKGATE_REDIS_ADAPTER_KEY", "channel prefix of the Socket.IO Redis adapter (Node's key option; servers sharing it share rooms)")
	e.str(&c.JWTSecret, "jwt-secret", "JWT_SECRET", "HS256 secret of the JWTs (also used by the token subcommand)")
	e.str(&c.JWTAlg, "jwt-alg", "SOCKGATE_JWT_ALG", "the one accepted JWT algorithm: HS256, RS256 or ES256")
	e.str(&c.JWTPublicKey, "jwt-public-key", "SOCKGATE_JWT_PUBLIC_KEY", "PEM file of the RS256/ES256 verification key")
	e.str(&c.JWTJWKS, "jwt-jwks", "SOCKGATE_JWT_JWKS", "JWKS file of the RS256/ES256 verification keys (selected by kid)")
	e.str(&c.JWTIssuer, "jwt-issuer", "SOCKGATE_JWT_ISSUER", "required iss claim; empty: not checked")
	e.str(&c.JWTAudience, "jwt-audience", "SOCKGATE_JWT_AUDIENCE", "required aud claim; empty: not checked")
	e.duration(&c.JWTLeeway, "jwt-leeway", "SOCKGATE_JWT_LEEWAY", "clock skew allowed on exp and nbf")
	e.str(&c.JWTUserClaim, "jwt-user-claim", "SOCKGATE_JWT_USER_CLAIM", "the claim holding the user id, e.g. userId for NestJS's JwtService.sign({userId})")
	e.str(&c.JWTNameClaim, "jwt-name-claim", "SOCKGATE_JWT_NAME_CLAIM", "display-name claims, comma-separated, the first present wins")
	e.str(&c.AuthRoot, "auth-root", "SOCKGATE_AUTH_ROOT", "auth on namespace /: optional or required")
	e.str(&c.AuthRooms, "auth-rooms", "SOCKGATE_AUTH_ROOMS", "auth on namespace /rooms: optional or required")
	e.str(&c.AuthChat, "auth-chat", "SOCKGATE_AUTH_CHAT", "auth on namespace /chat: optional or required")
	e.int64(&c.MaxUpload, "max-upload", "SOCKGATE_MAX_UPLOAD", "largest attachment, bytes")
	e.str(&c.UploadTypes, "upload-types", "SOCKGATE_UPLOAD_TYPES", "comma-separated media types attachments may have; empty: images, PDF and plain text")
	e.str(&c.StaticDir, "static", "SOCKGATE_STATIC", "directory served at / with SPA fallback to index.html")
	e.str(&c.CORSOrigins, "cors-origins", "SOCKGATE_CORS_ORIGINS", "comma-separated origins allowed cross-origin, or *; empty: same origin only")
	e.bool(&c.CORSCredentials, "cors-credentials", "SOCKGATE_CORS_CREDENTIALS", "send Access-Control-Allow-Credentials: true to the -cors-origins (cookies, withCredentials); not with *")
	e.str(&c.TrustedProxies, "trusted-proxies", "SOCKGATE_TRUSTED_PROXIES", "comma-separated CIDRs/addresses of reverse proxies whose X-Forwarded-For, X-Forwarded-Host and Forwarded are believed")
	e.str(&c.RateLimits, "rate-limits", "SOCKGATE_RATE_LIMITS", "rate-limit overrides, e.g. \"/:chat=10/30s,connect=60/1m\" (0 disables a rule)")
	e.str(&c.RateLimitFailure, "ratelimit-redis-failure", "SOCKGATE_RATELIMIT_REDIS_FAILURE", "when Redis cannot check a rate limit within 250ms: open (allow, log, count) or closed (refuse unavailable)")
	e.int64(&c.MaxHTTPBufferSize, "max-http-buffer-size", "SOCKGATE_MAX_HTTP_BUFFER_SIZE", "largest Socket.IO message or polling body, bytes")
	e.int64(&c.SendQueueBytes, "send-queue-bytes", "SOCKGATE_SEND_QUEUE_BYTES", "bytes queued for one Socket.IO connection; a client further behind is disconnected (send queue overflow)")
	e.duration(&c.WriteTimeout, "write-timeout", "SOCKGATE_WRITE_TIMEOUT", "deadline of one write to a Socket.IO client (WebSocket batch, poll response); a client reading nothing that long is disconnected")
	e.duration(&c.BodyTimeout, "body-timeout", "SOCKGATE_BODY_TIMEOUT", "deadline of reading one request body (polling POST, REST; uploads get 1s more per 64 KiB of -max-upload)")
	e.int64(&c.MaxConnsPerIP, "max-conns-per-ip", "SOCKGATE_MAX_CONNS_PER_IP", "open Engine.IO connections per client address (429 beyond); 0: no cap")
	e.int64(&c.MaxConnsPerUser, "max-conns-per-user", "SOCKGATE_MAX_CONNS_PER_USER", "connected sockets per authenticated user on this instance, every namespace (connect_error beyond); 0: no cap")
	e.str(&c.PprofAddr, "pprof-addr", "SOCKGATE_PPROF_ADDR", "listen address of /debug/pprof/ (a separate listener, e.g. 127.0.0.1:6060); empty: off")
	e.bool(&c.PprofPublic, "pprof-public", "SOCKGATE_PPROF_PUBLIC", "allow a -pprof-addr that is not loopback (profiles reveal internals: firewall it)")
	e.duration(&c.PingInterval, "ping-interval", "SOCKGATE_PING_INTERVAL", "Engine.IO heartbeat interval")
	e.duration(&c.PingTimeout, "ping-timeout", "SOCKGATE_PING_TIMEOUT", "Engine.IO heartbeat timeout")
	e.duration(&c.ClusterHeartbeat, "cluster-heartbeat", "SOCKGATE_CLUSTER_HEARTBEAT", "how often an instance refreshes its liveness key in Redis")
	e.duration(&c.ClusterTTL, "cluster-ttl", "SOCKGATE_CLUSTER_TTL", "how long after its last refresh a dead instance's shared state expires")
	e.duration(&c.EventTimeout, "event-timeout", "SOCKGATE_EVENT_TIMEOUT", "deadline of one event or REST request, counted from its arrival; past it the client is answered unavailable")
	e.duration(&c.ShutdownTimeout, "shutdown-timeout", "SOCKGATE_SHUTDOWN_TIMEOUT", "graceful shutdown deadline")
	e.str(&c.LogFormat, "log-format", "SOCKGATE_LOG_FORMAT", "log format: text or json")
	e.str(&c.LogLevel, "log-level", "SOCKGATE_LOG_LEVEL", "log level: debug, info, warn or error")
	e.bool(&c.Recovery, "recovery", "SOCKGATE_RECOVERY", "Socket.IO connection-state recovery: a client cut off comes back with its socket id, rooms and missed packets")
	e.duration(&c.RecoveryMaxDisc, "recovery-max-disconnection", "SOCKGATE_RECOVERY_MAX_DISCONNECTION", "how long a disconnected socket's session and missed packets are kept (-recovery)")
	e.bool(&c.RecoverySkipMW, "recovery-skip-middlewares", "SOCKGATE_RECOVERY_SKIP_MIDDLEWARES", "do not re-run connection middleware (authentication) for a recovered socket (-recovery)")
	e.int64(&c.RecoveryLogBytes, "recovery-max-log-bytes", "SOCKGATE_RECOVERY_MAX_LOG_BYTES", "memory bound of the in-memory packet log per namespace, bytes (-recovery)")
	e.str(&c.AdminUser, "admin-user", "SOCKGATE_ADMIN_USER", "Socket.IO Admin UI user; with -admin-password-hash enables namespace /admin")
	e.str(&c.AdminPasswordHash, "admin-password-hash", "SOCKGATE_ADMIN_PASSWORD_HASH", "bcrypt hash of the Admin UI password ($2a$/$2b$/$2y$)")
	e.str(&c.AdminMode, "admin-mode", "SOCKGATE_ADMIN_MODE", "Admin UI mode: development (sockets, rooms, events) or production (server stats only)")
	e.bool(&c.AdminProtected, "admin-allow-protected", "SOCKGATE_ADMIN_ALLOW_PROTECTED", "let the Admin UI join, leave and emit to protected rooms (chat:*, user:*, socket ids)")
	e.fs.Usage = func() {
		fmt.Fprint(e.fs.Output(), `Usage:
  sockgate [flags]                  serve Socket.IO, the REST API and health checks
  sockgate token -sub ID [flags]    print a development HS256 JWT signed with -jwt-secret (sockgate token -h)

Every flag has an environment variable, named in its line; a flag beats its variable.

Flags:
`)
		e.fs.PrintDefaults()
	}
	return e
}
