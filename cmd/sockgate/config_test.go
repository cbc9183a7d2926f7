package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfig_Precedence(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		check  func(c Config) bool
	}{
		{"Default", nil, env(), func(c Config) bool { return c == DefaultConfig() }},
		{"Env", nil, env("SOCKGATE_ADDR", ":4000", "REDIS_URL", "redis://x:6379/1", "SOCKGATE_PING_INTERVAL", "5s"),
			func(c Config) bool {
				return c.Addr == ":4000" && c.RedisURL == "redis://x:6379/1" && c.PingInterval == 5*time.Second
			}},
		{"FlagBeatsEnv", []string{"-addr", ":5000", "-max-http-buffer-size", "42"}, env("SOCKGATE_ADDR", ":4000", "SOCKGATE_MAX_HTTP_BUFFER_SIZE", "7"),
			func(c Config) bool { return c.Addr == ":5000" && c.MaxHTTPBufferSize == 42 }},
		{"FlagEqualToDefaultStillBeatsEnv", []string{"-log-level", "info"}, env("SOCKGATE_LOG_LEVEL", "debug"),
			func(c Config) bool { return c.LogLevel == "info" }},
		{"DatabaseURLAndSecret", nil, env("DATABASE_URL", "postgres://db/x", "JWT_SECRET", testSecret),
			func(c Config) bool { return c.DatabaseURL == "postgres://db/x" && c.JWTSecret == testSecret }},
		{"DefaultStoreInDataDir", []string{"-data-dir", "/var/lib/sg"}, env(), dsnIs("/var/lib/sg/sockgate.db")},
		{"DBFilePath", []string{"-db", "/srv/chat.db"}, env(), dsnIs("/srv/chat.db")},
		{"DBRelativePath", []string{"-db", "chat.db"}, env(), dsnIs("chat.db")},
		{"DBSQLiteScheme", []string{"-db", "sqlite:./data/x.db"}, env(), dsnIs("./data/x.db")},
		{"DBSQLiteURL", []string{"-db", "sqlite:///var/x.db?_pragma=cache_size(-2000)"}, env(), dsnIs("/var/x.db?_pragma=cache_size(-2000)")},
		{"DBFileScheme", []string{"-db", "file:x.db"}, env(), dsnIs("x.db")},
		{"DBFileURL", []string{"-db", "file:///var/x.db"}, env(), dsnIs("/var/x.db")},
		{"DBPostgres", []string{"-db", "postgres://u:p@db:5432/x?sslmode=disable"}, env(), dsnIs("postgres://u:p@db:5432/x?sslmode=disable")},
		{"DBPostgresql", nil, env("DATABASE_URL", "postgresql:///x?host=/run/postgresql"), dsnIs("postgresql:///x?host=/run/postgresql")},
		{"UserClaim", []string{"-jwt-user-claim", "userId", "-jwt-name-claim", "fullName"}, env(),
			func(c Config) bool {
				v := c.verifierConfig()
				return v.UserClaim == "userId" && len(v.NameClaims) == 1 && v.NameClaims[0] == "fullName"
			}},
		{"UserClaimEnv", nil, env("SOCKGATE_JWT_USER_CLAIM", "id"), func(c Config) bool { return c.JWTUserClaim == "id" }},
		{"DefaultClaims", nil, env(), func(c Config) bool {
			v := c.verifierConfig()
			return v.UserClaim == "sub" && strings.Join(v.NameClaims, ",") == "name,fullName"
		}},
		{"CORSCredentialsFlag", []string{"-cors-credentials", "-cors-origins", "http://localhost:5173"}, env(),
			func(c Config) bool { return c.CORSCredentials }},
		{"CORSCredentialsEnv", nil, env("SOCKGATE_CORS_CREDENTIALS", "true", "SOCKGATE_CORS_ORIGINS", "http://localhost:5173"),
			func(c Config) bool { return c.CORSCredentials }},
		{"CORSCredentialsFlagFalseBeatsEnv", []string{"-cors-credentials=false"}, env("SOCKGATE_CORS_CREDENTIALS", "1"),
			func(c Config) bool { return !c.CORSCredentials }},
		{"RateLimitZeroDisables", []string{"-rate-limits", "/:chat=0, connect = 0 ,/:join_room=3/1m"}, env(),
			func(c Config) bool {
				r, err := c.rateRules()
				return err == nil && r["/:chat"].Limit == 0 && r["connect"].Limit == 0 && r["/:join_room"].Limit == 3
			}},
		{"UploadTypes", []string{"-upload-types", " image/png, application/pdf ,"}, env(),
			func(c Config) bool {
				got := c.uploadTypes()
				return len(got) == 2 && got[0] == "image/png" && got[1] == "application/pdf"
			}},
		{"UploadTypesDefault", nil, env(), func(c Config) bool { return c.uploadTypes() == nil }},
		{"AttachmentsDefault", nil, env(), func(c Config) bool { return c.Attachments == "auto" }},
		{"AdminOffByDefault", nil, env(), func(c Config) bool { return c.adminConfig().User == "" && c.AdminMode == "development" }},
		{"AdminFromEnv", []string{"-admin-mode", "production"}, env("SOCKGATE_ADMIN_USER", "ops", "SOCKGATE_ADMIN_PASSWORD_HASH", testAdminHash, "SOCKGATE_ADMIN_ALLOW_PROTECTED", "true"),
			func(c Config) bool {
				a := c.adminConfig()
				return c.Validate() == nil && a.User == "ops" && a.PasswordHash == testAdminHash && a.Mode == "production" && a.AllowProtected
			}},
		{"AttachmentsEnv", nil, env("SOCKGATE_ATTACHMENTS", "db"), func(c Config) bool { return c.Attachments == "db" }},
		{"AuthModes", []string{"-auth-chat", "required"}, env("JWT_SECRET", testSecret, "SOCKGATE_AUTH_ROOT", "required"),
			func(c Config) bool {
				m, err := c.authModes()
				return err == nil && m["/chat"] == gateway.AuthRequired && m["/"] == gateway.AuthRequired && m["/rooms"] == gateway.AuthOptional
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Main{Config: DefaultConfig(), Getenv: tt.getenv, Stderr: io.Discard}
			if err := m.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			if !tt.check(m.Config) {
				t.Errorf("config %+v", m.Config)
			}
		})
	}
}

// testAdminHash is bcrypt("secret") at cost 4.
const testAdminHash = "$2a$04$7ehmug6BHSPl6jQomnlGOunaB3EphimJedMu7hTwVsLt5tcaz9LRG"

// testSecret is a secret long enough for HS256.
const testSecret = "config-test-secret-0123456789abcdef"

// dsnIs checks the store DSN of a configuration.
func dsnIs(want string) func(Config) bool {
	return func(c Config) bool {
		got, err := c.storeDSN()
		return err == nil && got == want
	}
}

func TestConfig_Invalid(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   []string // substrings of the error, all reported at once
	}{
		{"EnvNotADuration", nil, env("SOCKGATE_PING_TIMEOUT", "soon"),
			[]string{`SOCKGATE_PING_TIMEOUT="soon" (for -ping-timeout): not a duration: want a number with a unit, e.g. 30s, 5m, 1h30m`}},
		{"EnvDurationWithoutUnit", nil, env("SOCKGATE_SHUTDOWN_TIMEOUT", "10"),
			[]string{`SOCKGATE_SHUTDOWN_TIMEOUT="10" (for -shutdown-timeout): not a duration: want a number with a unit`}},
		{"EnvNotANumber", nil, env("SOCKGATE_MAX_UPLOAD", "10MB"),
			[]string{`SOCKGATE_MAX_UPLOAD="10MB" (for -max-upload): not a whole number: want digits only`}},
		{"EnvNotABool", nil, env("SOCKGATE_CORS_CREDENTIALS", "yes"),
			[]string{`SOCKGATE_CORS_CREDENTIALS="yes" (for -cors-credentials): not a boolean: want true or false`}},
		{"FlagNotADuration", []string{"-jwt-leeway", "half a minute"}, env(),
			[]string{`invalid value "half a minute" for flag -jwt-leeway: not a duration: want a number with a unit`}},
		{"FlagNotANumber", []string{"-max-http-buffer-size", "1e6"}, env(),
			[]string{`invalid value "1e6" for flag -max-http-buffer-size: not a whole number`}},
		{"DBMisspeltScheme", []string{"-db", "postgress://u:hunter2@db/x"}, env(),
			[]string{`-db (DATABASE_URL): unknown scheme "postgress://"; want a SQLite file path (./data/sockgate.db), sqlite:PATH, file:PATH, or a postgres:// or postgresql:// URL`}},
		{"DBOtherScheme", nil, env("DATABASE_URL", "mysql://db/x"), []string{`unknown scheme "mysql://"`}},
		{"DBSQLiteWithoutPath", []string{"-db", "sqlite:"}, env(), []string{"-db (DATABASE_URL): the SQLite store needs a file path"}},
		{"DBMemory", []string{"-db", "sqlite::memory:"}, env(), []string{"in-memory databases are not supported"}},
		{"DBBadPostgresURL", []string{"-db", "postgres://db:port/x"}, env(), []string{"-db (DATABASE_URL): the postgres:// URL does not parse"}},
		{"ShortSecret", []string{"-jwt-secret", "x"}, env(),
			[]string{"-jwt-secret (JWT_SECRET) is 1 bytes; HS256 needs at least 32", "head -c 32 /dev/urandom | base64"}},
		{"ShortSecretEnv", nil, env("JWT_SECRET", strings.Repeat("s", 31)), []string{"is 31 bytes; HS256 needs at least 32"}},
		{"UnknownRateRule", []string{"-rate-limits", "/:chats=5/1m,/chat:chat mesage=1/1s"}, env(),
			[]string{`-rate-limits: unknown rules "/:chats", "/chat:chat mesage"; the rules are: /:chat, /:join_room,`, "connect, http:GET /api/rooms"}},
		{"UnknownRateRuleZero", []string{"-rate-limits", "/:caht=0"}, env(), []string{`-rate-limits: unknown rule "/:caht"; the rules are: /:chat,`}},
		{"RateRuleWithoutPeriod", []string{"-rate-limits", "/:chat=5"}, env(), []string{`-rate-limits: ratelimit: rule "/:chat=5": want limit/period`}},
		{"CORSCredentialsWithStar", []string{"-cors-credentials", "-cors-origins", "*"}, env(),
			[]string{`-cors-credentials cannot be combined with -cors-origins "*"`}},
		{"UserClaimEmpty", []string{"-jwt-user-claim", ""}, env(), []string{`-jwt-user-claim must be one claim name (sub, userId, id, ...), not ""`}},
		{"UserClaimList", []string{"-jwt-user-claim", "userId,id"}, env(), []string{`-jwt-user-claim must be one claim name`}},
		{"UserClaimRegistered", []string{"-jwt-user-claim", "exp"}, env(), []string{`-jwt-user-claim "exp" is a registered claim`}},
		{"NameClaimEmpty", []string{"-jwt-name-claim", " , "}, env(), []string{"-jwt-name-claim must name at least one claim"}},
		{"Several", []string{"-addr", "nonsense", "-log-format", "xml", "-log-level", "loud", "-max-http-buffer-size", "0",
			"-rate-limits", "/:chat=ten/30s", "-trusted-proxies", "not-an-ip", "-cors-origins", "example.com"},
			env(), []string{"-addr", "-log-format", "-log-level", "-max-http-buffer-size", "-rate-limits", "-trusted-proxies", "-cors-origins"}},
		{"ClusterTTL", []string{"-cluster-heartbeat", "5s", "-cluster-ttl", "5s"}, env(), []string{"-cluster-ttl (5s) must exceed a positive -cluster-heartbeat (5s)"}},
		{"AdapterMode", []string{"-redis-adapter", "pubsub"}, env(), []string{"-redis-adapter must be classic (one Redis), sharded (a Redis 7 Cluster) or streams (a Redis stream), not \"pubsub\""}},
		{"AdminUserWithoutHash", []string{"-admin-user", "ops"}, env(), []string{"-admin-user and -admin-password-hash go together"}},
		{"AdminHashNotBcrypt", []string{"-admin-user", "ops", "-admin-password-hash", "secret"}, env(), []string{"-admin-*: admin: the password hash must be a valid bcrypt hash", "htpasswd"}},
		{"AdminMode", []string{"-admin-mode", "prod"}, env(), []string{`-admin-mode: admin: mode must be development or production, not "prod"`}},
		{"AdapterKeyHash", []string{"-redis-adapter-key", "a#b"}, env(), []string{"-redis-adapter-key must be non-empty and without '#'"}},
		{"RedisPrefixBraces", []string{"-redis-prefix", "a{b}"}, env(), []string{"-redis-prefix must be non-empty and without braces"}},
		{"Attachments", []string{"-attachments", "s3"}, env(), []string{`-attachments must be auto, db or disk, not "s3"`}},
		{"RateLimitFailure", nil, env("SOCKGATE_RATELIMIT_REDIS_FAILURE", "sometimes"), []string{"-ratelimit-redis-failure", `"sometimes"`}},
		{"StrayArgument", []string{"serve"}, env(), []string{"unexpected arguments: serve"}},
		{"JWT", []string{"-jwt-alg", "PS256", "-auth-chat", "always", "-auth-rooms", "required", "-max-upload", "0", "-data-dir", ""}, env(),
			[]string{"-jwt-alg must be HS256, RS256 or ES256", "-auth-chat: must be optional or required", "auth is required on /rooms but no JWT key", "-max-upload", "-data-dir"}},
		{"RS256WithoutKey", []string{"-jwt-alg", "RS256"}, env(), []string{"-jwt-alg RS256 needs exactly one of -jwt-public-key and -jwt-jwks"}},
		{"RS256WithSecret", []string{"-jwt-alg", "ES256", "-jwt-jwks", "k.json"}, env("JWT_SECRET", testSecret), []string{"-jwt-secret is for HS256"}},
		{"PprofNotLoopback", []string{"-pprof-addr", ":6060"}, env(), []string{`-pprof-addr ":6060" is not a loopback address`, "-pprof-public"}},
		{"PprofBadAddr", nil, env("SOCKGATE_PPROF_ADDR", "6060"), []string{`-pprof-addr "6060"`}},
		{"ConnCapsNegative", []string{"-max-conns-per-ip", "-1"}, env(), []string{"-max-conns-per-ip and -max-conns-per-user must be 0 (no cap) or positive"}},
		{"GCFloorNegative", []string{"-gc-floor", "-1"}, env(), []string{"-gc-floor must be 0 (off) or a size in bytes"}},
		{"DBCommittersOutOfRange", []string{"-db-committers", "-2"}, env(), []string{"-db-committers must be -1 (off), 0 (default) or 1..64"}},
		{"ConnectConcurrencyOutOfRange", []string{"-connect-concurrency", "-1"}, env(), []string{"-connect-concurrency must be 0 (half the CPUs) or 1..256"}},
		{"SendQueueBelowMessage", []string{"-send-queue-bytes", "1000", "-write-timeout", "0s"}, env(),
			[]string{"-send-queue-bytes (1000) must be at least -max-http-buffer-size (1000000)", "-write-timeout and -body-timeout must be positive"}},
		{"HS256WithKeyFile", []string{"-jwt-public-key", "k.pem"}, env(), []string{"-jwt-public-key and -jwt-jwks are for RS256/ES256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Main{Config: DefaultConfig(), Getenv: tt.getenv, Stderr: io.Discard}
			err := m.ParseFlags(tt.args)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfig_RateRules(t *testing.T) {
	c := DefaultConfig()
	c.RateLimits = "/:chat=3/1s,connect=0/1m,/chat:chat message=20/1s"
	rules, err := c.rateRules()
	if err != nil {
		t.Fatal(err)
	}
	if r := rules["/:chat"]; r.Limit != 3 || r.Period != time.Second {
		t.Errorf("override lost: %+v", r)
	}
	if r := rules["connect"]; r.Limit != 0 {
		t.Errorf("connect not disabled: %+v", r)
	}
	if r := rules["/:join_room"]; r != gateway.DefaultRateRules()["/:join_room"] {
		t.Errorf("default lost: %+v", r)
	}
	// Event names with spaces are rule names like any other.
	if r := rules["/chat:chat message"]; r.Limit != 20 || r.Period != time.Second {
		t.Errorf("stored-chat override lost: %+v", r)
	}
	if r := rules["/chat:read"]; r != gateway.DefaultRateRules()["/chat:read"] || r.Limit == 0 {
		t.Errorf("stored-chat default lost: %+v", r)
	}
}

// TestFlagsDocumented fails when a flag (or its environment variable) is
// missing from the README's configuration tables.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(e *envFlags) {
		e.fs.VisitAll(func(f *flag.Flag) {
			row := regexp.MustCompile("(?m)^\\| `-" + regexp.QuoteMeta(f.Name) + "` \\|([^|]*)\\|([^|]*)\\|")
			m := row.FindSubmatch(doc)
			if m == nil {
				t.Errorf("%s: flag -%s is not in README.md", e.fs.Name(), f.Name)
				return
			}
			if env := e.env[f.Name]; env != "" && !strings.Contains(string(m[1]), "`"+env+"`") {
				t.Errorf("%s: -%s's variable %s is not in its README.md row", e.fs.Name(), f.Name, env)
			}
			if def := shortDefault(f.DefValue); def != "" && def != "0" && !strings.Contains(string(m[2]), "`"+def+"`") {
				t.Errorf("%s: -%s's default %q is not in its README.md row", e.fs.Name(), f.Name, f.DefValue)
			}
		})
	}
	c := DefaultConfig()
	check(serverFlags(&c, io.Discard))
	check(tokenFlags(&tokenOptions{ttl: 24 * time.Hour, userClaim: "sub", nameClaim: "name,fullName"}, io.Discard))
	// Every documented default rule is a real one.
	for name, r := range gateway.DefaultRateRules() {
		if !strings.Contains(string(doc), "| `"+name+"` | "+itoa(r.Limit)+" per ") {
			t.Errorf("rate rule %s (%d/%s) is not in README.md", name, r.Limit, r.Period)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// shortDefault writes durations as people do: "24h0m0s" → "24h".
func shortDefault(s string) string {
	if _, err := time.ParseDuration(s); err == nil && strings.HasSuffix(s, "s") {
		for _, suf := range []string{"m0s", "h0m"} {
			if strings.HasSuffix(s, suf) && len(s) > len(suf) {
				s = strings.TrimSuffix(s, "0s")
				s = strings.TrimSuffix(s, "0m")
			}
		}
	}
	return s
}
