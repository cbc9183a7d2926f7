package store

import (
	"fmt"
	"testing"
)

func TestMigrations(t *testing.T) {
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		ms, err := migrationsFor(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].version != 1 {
			t.Fatalf("%s: migrations %v", d, ms)
		}
		for i, m := range ms {
			if m.version != i+1 {
				t.Fatalf("%s: version %d at position %d: versions must be contiguous", d, m.version, i)
			}
			if len(statements(m.sql)) == 0 {
				t.Fatalf("%s: migration %d has no statements", d, m.version)
			}
		}
	}
}

func TestStatements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"-- comment\nCREATE TABLE a (\n  x INT\n);\n\nCREATE INDEX i ON a (x);\n", []string{"CREATE TABLE a (\n  x INT\n);", "CREATE INDEX i ON a (x);"}},
		{"SELECT 1", []string{"SELECT 1"}},
		{"-- only a comment\n", nil},
	}
	for _, tc := range cases {
		if got := statements(tc.in); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("statements(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
