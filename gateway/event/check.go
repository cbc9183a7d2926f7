package event

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// Check collects the value issues of one payload in field order; Err
// returns them as a *ValidationError. It is the one validation collector of
// every product, socket payloads and REST inputs alike, so that one mistake
// reads the same everywhere. Messages are zod v3's (the tutorial's
// validator) unless a product passes its own.
type Check struct{ issues []Issue }

// Add records an issue of the field at path.
func (c *Check) Add(path, msg string) { c.issues = append(c.issues, Issue{Path: path, Message: msg}) }

// Err returns the collected issues as a *ValidationError, or nil.
func (c *Check) Err() error {
	if len(c.issues) == 0 {
		return nil
	}
	return &ValidationError{Issues: c.issues}
}

// Length checks min <= JSLength(v) <= max with zod's default messages.
func (c *Check) Length(path, v string, min, max int) { c.LengthMsg(path, v, min, max, "", "") }

// LengthMsg is Length with the product's own messages; an empty one
// selects zod's default.
func (c *Check) LengthMsg(path, v string, min, max int, minMsg, maxMsg string) {
	switch n := JSLength(v); {
	case n < min:
		if minMsg == "" {
			minMsg = fmt.Sprintf("String must contain at least %d character(s)", min)
		}
		c.Add(path, minMsg)
	case n > max:
		if maxMsg == "" {
			maxMsg = fmt.Sprintf("String must contain at most %d character(s)", max)
		}
		c.Add(path, maxMsg)
	}
}

// Exact checks JSLength(v) == n.
func (c *Check) Exact(path, v string, n int, msg string) {
	if JSLength(v) != n {
		if msg == "" {
			msg = fmt.Sprintf("String must contain exactly %d character(s)", n)
		}
		c.Add(path, msg)
	}
}

// Text checks a free-text identifier (a username, a room name, an id):
// Length, and no control characters (newlines included). Like zod, both
// failures are reported when both apply.
func (c *Check) Text(path, v string, min, max int) {
	c.Length(path, v, min, max)
	if HasControl(v) {
		c.Add(path, "Must not contain control characters.")
	}
}

// Enum checks v is one of values, with zod's enum message.
func (c *Check) Enum(path, v string, values ...string) bool {
	for _, x := range values {
		if v == x {
			return true
		}
	}
	c.Add(path, fmt.Sprintf("Invalid enum value. Expected '%s', received '%s'", strings.Join(values, "' | '"), v))
	return false
}

// MaxItems checks a list has at most max elements.
func (c *Check) MaxItems(path string, n, max int) bool {
	if n > max {
		c.Add(path, fmt.Sprintf("Array must contain at most %d element(s)", max))
		return false
	}
	return true
}

// JSLength is a string's length as JavaScript counts it (UTF-16 code
// units), which is what zod's min/max/length compare.
func JSLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// HasControl reports whether s holds a control character (newlines included).
func HasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// Time is a timestamp that encodes like JavaScript's JSON.stringify(new
// Date()): UTC, millisecond precision, "2026-11-23T10:15:11.123Z".
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}
