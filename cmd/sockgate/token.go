package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sockgate/sockgate/auth"
)

// runToken is `sockgate token -sub ID -name NAME [-ttl 24h] [-username U]
// [-email E]`: it prints a development HS256 token signed with the
// configured secret (-jwt-secret or JWT_SECRET). It returns the exit code.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var (
		secret, sub, name, username, email string
		ttl                                = 24 * time.Hour
	)
	e := tokenFlags(&secret, &sub, &name, &username, &email, &ttl, stderr)
	if err := e.parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 2
	}
	var errs []error
	if secret == "" {
		errs = append(errs, errors.New("-jwt-secret (or JWT_SECRET) is required"))
	}
	if sub == "" {
		errs = append(errs, errors.New("-sub is required"))
	}
	if ttl <= 0 {
		errs = append(errs, errors.New("-ttl must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 2
	}
	tok, err := auth.Mint([]byte(secret), auth.Identity{ID: sub, Name: name, Username: username, Email: email}, ttl, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// tokenFlags registers the token subcommand's flags.
func tokenFlags(secret, sub, name, username, email *string, ttl *time.Duration, out io.Writer) *envFlags {
	e := newEnvFlags("sockgate token", out)
	e.str(secret, "jwt-secret", "JWT_SECRET", "HS256 secret to sign with")
	e.fs.StringVar(sub, "sub", "", "user id (sub claim), required")
	e.fs.StringVar(name, "name", "", "display name (name claim)")
	e.fs.StringVar(username, "username", "", "username claim")
	e.fs.StringVar(email, "email", "", "email claim")
	e.fs.DurationVar(ttl, "ttl", *ttl, "token lifetime")
	return e
}
