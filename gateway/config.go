package gateway

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/admin"
	"github.com/sockgate/sockgate/gateway/internal/cluster"
	sioredis "github.com/sockgate/sockgate/socketio/redis"
	"github.com/sockgate/sockgate/store"
)

// AuthMode is how a namespace treats the JWT of a connecting socket (SPEC §5).
type AuthMode string

// Auth modes.
const (
	// AuthOptional (the default) admits anonymous sockets; events that need
	// an identity refuse them with `unauthorized`. A token that is presented
	// but invalid is still refused (event.SocketAuth).
	AuthOptional AuthMode = "optional"
	// AuthRequired refuses sockets without a valid token at the handshake.
	AuthRequired AuthMode = "required"
)

// ParseAuthMode parses "optional" or "required" ("" means optional).
func ParseAuthMode(s string) (AuthMode, error) {
	switch AuthMode(s) {
	case "", AuthOptional:
		return AuthOptional, nil
	case AuthRequired:
		return AuthRequired, nil
	}
	return "", errors.New("gateway: auth mode must be optional or required, not " + `"` + s + `"`)
}

// checkConfig refuses combinations New cannot serve.
func checkConfig(st *store.Store, v *auth.Verifier, cfg Config) error {
	var errs []error
	if st != nil && v == nil {
		errs = append(errs, errors.New("gateway: a store needs a verifier: stored chats belong to authenticated users"))
	}
	if _, err := ParseAttachmentStore(string(cfg.Attachments)); err != nil {
		errs = append(errs, err)
	} else if st != nil && cfg.Attachments.resolve(st) == AttachmentsDisk && cfg.Files.Dir == "" {
		errs = append(errs, errors.New("gateway: attachments on disk need Config.Files.Dir"))
	}
	if cfg.ClusterTTL != 0 {
		beat := cfg.ClusterHeartbeat
		if beat <= 0 {
			beat = cluster.DefaultHeartbeat
		}
		if cfg.ClusterTTL <= beat {
			errs = append(errs, fmt.Errorf("gateway: ClusterTTL %v must exceed the heartbeat period %v", cfg.ClusterTTL, beat))
		}
	}
	if cfg.CORSCredentials && slices.Contains(cfg.CORSOrigins, "*") {
		errs = append(errs, errors.New(`gateway: CORSCredentials cannot be combined with the origin "*": every site could make credentialed requests; list the origins`))
	}
	for ns, m := range cfg.Auth {
		switch ns {
		case "/", "/rooms", "/chat":
		default:
			errs = append(errs, fmt.Errorf("gateway: auth mode for unknown namespace %q", ns))
		}
		if _, err := ParseAuthMode(string(m)); err != nil {
			errs = append(errs, err)
		}
		if m == AuthRequired && v == nil {
			errs = append(errs, fmt.Errorf("gateway: namespace %q requires auth but no verifier is configured", ns))
		}
	}
	if adminEnabled(cfg.Admin) {
		if err := cfg.Admin.Check(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
	}
	if _, err := sioredis.ParseMode(cfg.AdapterMode); err != nil {
		errs = append(errs, fmt.Errorf("gateway: %w", err))
	}
	return errors.Join(errs...)
}

// adminEnabled: the admin namespace is on when credentials are configured.
func adminEnabled(c admin.Config) bool { return c.User != "" || c.PasswordHash != "" }

// trustedOrigins are the CORS origins the chat API's CSRF guard trusts
// for cookie-authenticated writes ("*" trusts nobody extra: a wildcard
// must not open cookie-authenticated writes to every site).
func trustedOrigins(cors []string) []string {
	var out []string
	for _, o := range cors {
		if o != "*" {
			out = append(out, o)
		}
	}
	return out
}
