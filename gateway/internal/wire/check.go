package wire

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// checker collects value issues in field order.
type checker struct{ issues []Issue }

func (c *checker) add(path, msg string) { c.issues = append(c.issues, Issue{Path: path, Message: msg}) }

// err returns the collected issues as an *Error, or nil.
func (c *checker) err() error {
	if len(c.issues) == 0 {
		return nil
	}
	return &Error{Issues: c.issues}
}

// jsLen is a string's length as JavaScript counts it (UTF-16 code units),
// which is what zod's min/max/length compare.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// length checks min <= jsLen(v) <= max; empty messages select zod's defaults.
func (c *checker) length(path, v string, min, max int, minMsg, maxMsg string) {
	switch n := jsLen(v); {
	case n < min:
		if minMsg == "" {
			minMsg = fmt.Sprintf("String must contain at least %d character(s)", min)
		}
		c.add(path, minMsg)
	case n > max:
		if maxMsg == "" {
			maxMsg = fmt.Sprintf("String must contain at most %d character(s)", max)
		}
		c.add(path, maxMsg)
	}
}

// exact checks jsLen(v) == n.
func (c *checker) exact(path, v string, n int, msg string) {
	if jsLen(v) != n {
		if msg == "" {
			msg = fmt.Sprintf("String must contain exactly %d character(s)", n)
		}
		c.add(path, msg)
	}
}

// enum checks v is one of values, with zod's enum message.
func (c *checker) enum(path, v string, values ...string) bool {
	for _, x := range values {
		if v == x {
			return true
		}
	}
	c.add(path, fmt.Sprintf("Invalid enum value. Expected '%s', received '%s'", strings.Join(values, "' | '"), v))
	return false
}

// isJSSpace reports whether JavaScript's \s matches r.
func isJSSpace(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' }

// isWordChar reports whether JavaScript's \w (without the u flag) matches r.
func isWordChar(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

// matchesRoomName implements the tutorial's /^\S+\w$/ with JavaScript's
// character classes (Go's \S is ASCII-only).
func matchesRoomName(s string) bool {
	rs := []rune(s)
	if len(rs) < 2 || !isWordChar(rs[len(rs)-1]) {
		return false
	}
	for _, r := range rs[:len(rs)-1] {
		if isJSSpace(r) {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a control character (newlines included).
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// Time is a timestamp that encodes like JavaScript's JSON.stringify(new
// Date()): UTC, millisecond precision, "2026-11-23T10:15:11.123Z".
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}
