package event

import (
	"errors"
	"net/http"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
)

// RouteFunc is a REST handler: it writes its success reply itself and
// returns its failure, which the pipeline renders (NestJS's body, SPEC §6).
// me is the caller's identity (zero on anonymous routes).
type RouteFunc func(w http.ResponseWriter, r *http.Request, me auth.Identity) error

// Authenticator finds the identity of a REST request; nil means the route
// is anonymous.
type Authenticator func(r *http.Request) (auth.Identity, error)

// Route adapts a REST handler, the HTTP twin of On:
//
//  1. authenticate (authn, when set), keeping the result;
//  2. rate limit (rule) keyed by the user, else the client IP, with the
//     X-RateLimit-* headers on every answer — counted before an
//     authentication failure is acted on, so requests with bad tokens are
//     limited per IP like any other;
//  3. refuse an authentication failure (401);
//  4. call h with the identity in the request's context; render its error.
func (p *Pipeline) Route(rule string, authn Authenticator, h RouteFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.serveRoute(w, r, rule, authn, h); err != nil {
			p.WriteError(w, r, err)
		}
	})
}

func (p *Pipeline) serveRoute(w http.ResponseWriter, r *http.Request, rule string, authn Authenticator, h RouteFunc) error {
	var (
		me      auth.Identity
		authErr error
	)
	if authn != nil {
		me, authErr = authn(r)
	}
	res, err := p.Allow(r.Context(), rule, ratelimit.Key(me.ID, p.ClientIP(r)))
	var le *ratelimit.LimitedError
	switch {
	case errors.As(err, &le):
		ratelimit.SetLimitedHeaders(w.Header(), le)
		return err
	case err != nil:
		return err
	}
	ratelimit.SetHeaders(w.Header(), res)
	if authErr != nil {
		return authErr
	}
	ctx := r.Context()
	if authn != nil {
		ctx = auth.NewContext(ctx, me)
	}
	return h(w, r.WithContext(ctx), me)
}

// WriteError is the one HTTP error writer: NestJS's body from ReplyOf;
// unforeseen errors are logged here, once, and sent as `internal`.
func (p *Pipeline) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, known := ReplyOf(err)
	switch {
	case known && e.Code == CodeUnauthorized:
		p.LogRefusal("http|"+e.Message, "http request refused: unauthorized", "method", r.Method, "path", r.URL.Path,
			"reason", e.Message, "ip", p.ClientIP(r), "err", err)
	case known:
		p.log.Debug("http request refused", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
	default:
		p.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	p.metrics.errorsBy.get(e.Code).Inc()
	st, body := httpBodyOf(e)
	WriteJSON(w, st, body)
}
