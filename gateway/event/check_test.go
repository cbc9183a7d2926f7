package event

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(c *Check)
		want string
	}{
		{"Valid", func(c *Check) { c.Text("a", "ok", 1, 2) }, ""},
		{"TooShort", func(c *Check) { c.Length("a", "", 1, 5) }, "a: String must contain at least 1 character(s)"},
		{"TooLongAstral", func(c *Check) { c.Length("a", "😀😀", 1, 3) }, "a: String must contain at most 3 character(s)"},
		{"OwnMessages", func(c *Check) { c.LengthMsg("a", "", 1, 5, "Too short.", "") }, "a: Too short."},
		{"Exact", func(c *Check) { c.Exact("id", "abc", 20, "Must be 20 characters.") }, "id: Must be 20 characters."},
		{"TextBoth", func(c *Check) { c.Text("u", strings.Repeat("x", 4)+"\n", 1, 3) }, "u: String must contain at most 3 character(s); u: Must not contain control characters."},
		{"Enum", func(c *Check) { c.Enum("k", "x", "a", "b") }, "k: Invalid enum value. Expected 'a' | 'b', received 'x'"},
		{"MaxItems", func(c *Check) { c.MaxItems("l", 3, 2) }, "l: Array must contain at most 2 element(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Check
			tc.run(&c)
			got := ""
			if err := c.Err(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJSLength(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "😀": 2, "a😀b": 4} {
		if got := JSLength(s); got != want {
			t.Errorf("JSLength(%q) = %d, want %d", s, got, want)
		}
	}
}
