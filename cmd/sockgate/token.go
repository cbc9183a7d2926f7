package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sockgate/sockgate/auth"
)

// tokenOptions are the flags of `sockgate token`.
type tokenOptions struct {
	secret, sub, name, username, email string
	userClaim, nameClaim               string
	ttl                                time.Duration
}

// runToken is `sockgate token -sub ID -name NAME [-ttl 24h] [-username U]
// [-email E]`: it prints a development HS256 token signed with the
// configured secret (-jwt-secret or JWT_SECRET), the user id and the name
// in the claims the server reads (-jwt-user-claim, the first of
// -jwt-name-claim, with the server's variables). It returns the exit code.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o := tokenOptions{ttl: 24 * time.Hour, userClaim: auth.DefaultUserClaim, nameClaim: "name,fullName"}
	e := tokenFlags(&o, stderr)
	if err := e.parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 2
	}
	var errs []error
	if o.secret == "" {
		errs = append(errs, errors.New("-jwt-secret (or JWT_SECRET) is required"))
	}
	if err := checkSecret(o.secret); err != nil {
		errs = append(errs, err)
	}
	if o.sub == "" {
		errs = append(errs, errors.New("-sub is required"))
	}
	if o.ttl <= 0 {
		errs = append(errs, errors.New("-ttl must be positive"))
	}
	c := Config{JWTUserClaim: o.userClaim, JWTNameClaim: o.nameClaim}
	errs = append(errs, c.validateClaims()...)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 2
	}
	claims := auth.MintConfig{UserClaim: o.userClaim, NameClaim: splitList(o.nameClaim)[0]}
	id := auth.Identity{ID: o.sub, Name: o.name, Username: o.username, Email: o.email}
	tok, err := auth.MintWith([]byte(o.secret), claims, id, o.ttl, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "sockgate token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// tokenFlags registers the token subcommand's flags.
func tokenFlags(o *tokenOptions, out io.Writer) *envFlags {
	e := newEnvFlags("sockgate token", out)
	e.str(&o.secret, "jwt-secret", "JWT_SECRET", "HS256 secret to sign with (the server's)")
	e.str(&o.userClaim, "jwt-user-claim", "SOCKGATE_JWT_USER_CLAIM", "the claim receiving -sub (the server's -jwt-user-claim)")
	e.str(&o.nameClaim, "jwt-name-claim", "SOCKGATE_JWT_NAME_CLAIM", "the first of these claims receives -name (the server's -jwt-name-claim)")
	e.fs.StringVar(&o.sub, "sub", "", "user id, required")
	e.fs.StringVar(&o.name, "name", "", "display name")
	e.fs.StringVar(&o.username, "username", "", "username claim")
	e.fs.StringVar(&o.email, "email", "", "email claim")
	e.fs.Var((*durationValue)(&o.ttl), "ttl", "token lifetime")
	return e
}
