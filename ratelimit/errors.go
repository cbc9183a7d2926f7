package ratelimit

import (
	"errors"
	"time"
)

// ErrUnavailable reports that a limit could not be checked: the store did
// not answer within the call's deadline, failed, or failed less than a
// cooldown ago. Nothing was counted; a retry may succeed.
var ErrUnavailable = errors.New("ratelimit: store unavailable")

// LimitedError reports that a key went over a rule's limit. The gateway maps
// it to the `rate_limited` code and, over HTTP, to 429 with SetLimitedHeaders.
type LimitedError struct {
	// Rule is the name of the rule that refused.
	Rule string
	// Limit is the rule's number of events per period.
	Limit int64
	// RetryAfter is how long until the window resets; never below 1ms and
	// never above the rule's period. It errs late, never early.
	RetryAfter time.Duration
	// Reset is when the window resets.
	Reset time.Time
}

// Error implements error. The message is the same for every rule so it can be
// sent to clients unchanged.
func (e *LimitedError) Error() string { return "ratelimit: too many requests" }
