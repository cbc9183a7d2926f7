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
		{"DatabaseURLAndSecret", nil, env("DATABASE_URL", "postgres://db/x", "JWT_SECRET", "s3"),
			func(c Config) bool { return c.DatabaseURL == "postgres://db/x" && c.JWTSecret == "s3" }},
		{"DefaultStoreInDataDir", []string{"-data-dir", "/var/lib/sg"}, env(),
			func(c Config) bool { return c.storeDSN() == "/var/lib/sg/sockgate.db" }},
		{"UploadTypes", []string{"-upload-types", " image/png, application/pdf ,"}, env(),
			func(c Config) bool {
				got := c.uploadTypes()
				return len(got) == 2 && got[0] == "image/png" && got[1] == "application/pdf"
			}},
		{"UploadTypesDefault", nil, env(), func(c Config) bool { return c.uploadTypes() == nil }},
		{"AttachmentsDefault", nil, env(), func(c Config) bool { return c.Attachments == "auto" }},
		{"AttachmentsEnv", nil, env("SOCKGATE_ATTACHMENTS", "db"), func(c Config) bool { return c.Attachments == "db" }},
		{"AuthModes", []string{"-auth-chat", "required"}, env("JWT_SECRET", "s", "SOCKGATE_AUTH_ROOT", "required"),
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

func TestConfig_Invalid(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   []string // substrings of the error, all reported at once
	}{
		{"EnvNotADuration", nil, env("SOCKGATE_PING_TIMEOUT", "soon"), []string{`SOCKGATE_PING_TIMEOUT="soon"`}},
		{"Several", []string{"-addr", "nonsense", "-log-format", "xml", "-log-level", "loud", "-max-http-buffer-size", "0",
			"-rate-limits", "/:chat=ten/30s", "-trusted-proxies", "not-an-ip", "-cors-origins", "example.com"},
			env(), []string{"-addr", "-log-format", "-log-level", "-max-http-buffer-size", "-rate-limits", "-trusted-proxies", "-cors-origins"}},
		{"AdapterKeyHash", []string{"-redis-adapter-key", "a#b"}, env(), []string{"-redis-adapter-key must be non-empty and without '#'"}},
		{"RedisPrefixBraces", []string{"-redis-prefix", "a{b}"}, env(), []string{"-redis-prefix must be non-empty and without braces"}},
		{"Attachments", []string{"-attachments", "s3"}, env(), []string{`-attachments must be auto, db or disk, not "s3"`}},
		{"RateLimitFailure", nil, env("SOCKGATE_RATELIMIT_REDIS_FAILURE", "sometimes"), []string{"-ratelimit-redis-failure", `"sometimes"`}},
		{"StrayArgument", []string{"serve"}, env(), []string{"unexpected arguments: serve"}},
		{"JWT", []string{"-jwt-alg", "PS256", "-auth-chat", "always", "-auth-rooms", "required", "-max-upload", "0", "-data-dir", ""}, env(),
			[]string{"-jwt-alg must be HS256, RS256 or ES256", "-auth-chat: must be optional or required", "auth is required on /rooms but no JWT key", "-max-upload", "-data-dir"}},
		{"RS256WithoutKey", []string{"-jwt-alg", "RS256"}, env(), []string{"-jwt-alg RS256 needs exactly one of -jwt-public-key and -jwt-jwks"}},
		{"RS256WithSecret", []string{"-jwt-alg", "ES256", "-jwt-jwks", "k.json"}, env("JWT_SECRET", "s"), []string{"-jwt-secret is for HS256"}},
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
	var s1, s2, s3, s4, s5 string
	ttl := 24 * time.Hour
	check(tokenFlags(&s1, &s2, &s3, &s4, &s5, &ttl, io.Discard))
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
