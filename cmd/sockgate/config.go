package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"time"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/ratelimit"
)

// Config is the whole configuration of the server process. Every field has
// a flag and an environment variable (FLAGS.md lists them); precedence is
// flag > environment > default.
type Config struct {
	Addr              string        // -addr, SOCKGATE_ADDR
	DatabaseURL       string        // -db, DATABASE_URL (used by the store issue; stored only)
	RedisURL          string        // -redis, REDIS_URL
	RedisPrefix       string        // -redis-prefix, SOCKGATE_REDIS_PREFIX
	JWTSecret         string        // -jwt-secret, JWT_SECRET
	StaticDir         string        // -static, SOCKGATE_STATIC
	CORSOrigins       string        // -cors-origins, SOCKGATE_CORS_ORIGINS (comma-separated)
	TrustedProxies    string        // -trusted-proxies, SOCKGATE_TRUSTED_PROXIES (CIDRs/addresses)
	RateLimits        string        // -rate-limits, SOCKGATE_RATE_LIMITS (ratelimit.ParseRules syntax)
	MaxHTTPBufferSize int64         // -max-http-buffer-size, SOCKGATE_MAX_HTTP_BUFFER_SIZE
	PingInterval      time.Duration // -ping-interval, SOCKGATE_PING_INTERVAL
	PingTimeout       time.Duration // -ping-timeout, SOCKGATE_PING_TIMEOUT
	ShutdownTimeout   time.Duration // -shutdown-timeout, SOCKGATE_SHUTDOWN_TIMEOUT
	LogFormat         string        // -log-format, SOCKGATE_LOG_FORMAT: text|json
	LogLevel          string        // -log-level, SOCKGATE_LOG_LEVEL: debug|info|warn|error
}

// DefaultConfig returns the defaults: everything embedded, nothing external.
func DefaultConfig() Config {
	return Config{
		Addr:              ":3000",
		DatabaseURL:       "./data/sockgate.db",
		RedisPrefix:       "sockgate",
		MaxHTTPBufferSize: 1_000_000,
		PingInterval:      25 * time.Second,
		PingTimeout:       20 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		LogFormat:         "text",
		LogLevel:          "info",
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
	if c.PingInterval <= 0 || c.PingTimeout <= 0 {
		errs = append(errs, errors.New("-ping-interval and -ping-timeout must be positive"))
	}
	if c.RedisPrefix == "" {
		errs = append(errs, errors.New("-redis-prefix must not be empty"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("-shutdown-timeout must be positive"))
	}
	if _, err := ratelimit.ParseRules(c.RateLimits); err != nil {
		errs = append(errs, fmt.Errorf("-rate-limits: %w", err))
	}
	if _, err := ratelimit.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("-trusted-proxies: %w", err))
	}
	for _, o := range c.corsOrigins() {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			errs = append(errs, fmt.Errorf("-cors-origins: %q is not an origin (scheme://host[:port]) or *", o))
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format must be text or json, not %q", c.LogFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// corsOrigins splits CORSOrigins.
func (c Config) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, strings.TrimSuffix(o, "/"))
		}
	}
	return out
}

// rateRules are the gateway's defaults overridden by -rate-limits.
func (c Config) rateRules() (map[string]ratelimit.Rule, error) {
	rules, err := ratelimit.ParseRules(c.RateLimits)
	if err != nil {
		return nil, err
	}
	all := gateway.DefaultRateRules()
	maps.Copy(all, rules)
	return all, nil
}

// envFlags is a FlagSet whose flags fall back to environment variables.
type envFlags struct {
	fs  *flag.FlagSet
	env map[string]string // flag name → variable
}

func newEnvFlags(name string, out io.Writer) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &envFlags{fs: fs, env: map[string]string{}}
}

func (e *envFlags) str(p *string, name, env, usage string) {
	e.env[name] = env
	e.fs.StringVar(p, name, *p, usage+" (env "+env+")")
}

func (e *envFlags) int64(p *int64, name, env, usage string) {
	e.env[name] = env
	e.fs.Int64Var(p, name, *p, usage+" (env "+env+")")
}

func (e *envFlags) duration(p *time.Duration, name, env, usage string) {
	e.env[name] = env
	e.fs.DurationVar(p, name, *p, usage+" (env "+env+")")
}

// parse parses args, then sets every flag not given on the command line
// from its environment variable when that is set (flag > env > default).
func (e *envFlags) parse(args []string, getenv func(string) string) error {
	if err := e.fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	e.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	e.fs.VisitAll(func(f *flag.Flag) {
		env := e.env[f.Name]
		if given[f.Name] || env == "" {
			return
		}
		if v := getenv(env); v != "" {
			if err := e.fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	if e.fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(e.fs.Args(), " ")))
	}
	return errors.Join(errs...)
}

// serverFlags registers the server's flags on c.
func serverFlags(c *Config, out io.Writer) *envFlags {
	e := newEnvFlags("sockgate", out)
	e.str(&c.Addr, "addr", "SOCKGATE_ADDR", "HTTP listen address")
	e.str(&c.DatabaseURL, "db", "DATABASE_URL", "SQLite file or postgres:// URL (used once the store is enabled)")
	e.str(&c.RedisURL, "redis", "REDIS_URL", "Redis URL; set: rate limits shared by every instance")
	e.str(&c.RedisPrefix, "redis-prefix", "SOCKGATE_REDIS_PREFIX", "prefix of every Redis key (deployments sharing a Redis use distinct ones)")
	e.str(&c.JWTSecret, "jwt-secret", "JWT_SECRET", "HS256 secret of the JWTs (also used by the token subcommand)")
	e.str(&c.StaticDir, "static", "SOCKGATE_STATIC", "directory served at / with SPA fallback to index.html")
	e.str(&c.CORSOrigins, "cors-origins", "SOCKGATE_CORS_ORIGINS", "comma-separated origins allowed cross-origin, or *; empty: same origin only")
	e.str(&c.TrustedProxies, "trusted-proxies", "SOCKGATE_TRUSTED_PROXIES", "comma-separated CIDRs/addresses whose X-Forwarded-For is believed")
	e.str(&c.RateLimits, "rate-limits", "SOCKGATE_RATE_LIMITS", "rate-limit overrides, e.g. \"/:chat=10/30s,connect=60/1m\" (0 disables a rule)")
	e.int64(&c.MaxHTTPBufferSize, "max-http-buffer-size", "SOCKGATE_MAX_HTTP_BUFFER_SIZE", "largest Socket.IO message or polling body, bytes")
	e.duration(&c.PingInterval, "ping-interval", "SOCKGATE_PING_INTERVAL", "Engine.IO heartbeat interval")
	e.duration(&c.PingTimeout, "ping-timeout", "SOCKGATE_PING_TIMEOUT", "Engine.IO heartbeat timeout")
	e.duration(&c.ShutdownTimeout, "shutdown-timeout", "SOCKGATE_SHUTDOWN_TIMEOUT", "graceful shutdown deadline")
	e.str(&c.LogFormat, "log-format", "SOCKGATE_LOG_FORMAT", "log format: text or json")
	e.str(&c.LogLevel, "log-level", "SOCKGATE_LOG_LEVEL", "log level: debug, info, warn or error")
	return e
}
