package docs

import (
	"os"
	"regexp"
	"testing"
)

// TestFlagsExist checks that every flag NESTJS.md and EVENTS.md name
// ("-redis", "`-auth-chat`") is a row of the README's configuration
// tables, which cmd/sockgate's TestFlagsDocumented keeps equal to the
// binary's flags.
func TestFlagsExist(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	goTest := regexp.MustCompile("go test[^`\n]*") // its -run is go test's
	flag := regexp.MustCompile("(?m)(?:^|[\\s`(])-([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\\b")
	for _, name := range []string{"NESTJS.md", "EVENTS.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range flag.FindAllStringSubmatch(goTest.ReplaceAllString(string(b), ""), -1) {
			if !regexp.MustCompile("\\| `-" + regexp.QuoteMeta(m[1]) + "` \\|").Match(readme) {
				t.Errorf("%s names flag -%s, which the README does not list", name, m[1])
			}
		}
	}
}
