package ratelimit

import (
	"net/http"
	"strconv"
)

// SetHeaders sets X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (Unix seconds, as GitHub and ulule's middleware send it)
// from an allowed event's Result. A zero Result (unlimited rule) sets nothing.
func SetHeaders(h http.Header, res Result) {
	if res.Limit <= 0 {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.FormatInt(res.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(res.Reset.Unix(), 10))
}

// SetLimitedHeaders sets Retry-After (whole seconds, rounded up, at least 1:
// HTTP has no finer unit) and the X-RateLimit-* headers for a refused event.
func SetLimitedHeaders(h http.Header, e *LimitedError) {
	secs := int64((e.RetryAfter + 999_999_999) / 1_000_000_000)
	if secs < 1 {
		secs = 1
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("X-RateLimit-Limit", strconv.FormatInt(e.Limit, 10))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(e.Reset.Unix(), 10))
}
