// Package storetest opens real stores for tests: a SQLite file in the test's
// temporary directory and a throwaway PostgreSQL database (testenv.Postgres),
// so that one test body proves the behaviour on both dialects.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/store"
)

// Dialects lists the dialects Each runs, in order.
var Dialects = []string{store.DialectSQLite, store.DialectPostgres}

// DSN returns a fresh database for dialect: a SQLite file path under
// t.TempDir(), or a new PostgreSQL database dropped when the test ends.
// Open several Stores on one DSN to simulate several instances.
func DSN(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case store.DialectSQLite:
		return filepath.Join(t.TempDir(), "db", "sockgate.db")
	case store.DialectPostgres:
		return testenv.Postgres(t)
	}
	t.Fatalf("storetest: unknown dialect %q", dialect)
	return ""
}

// Open returns a migrated Store on a fresh database of dialect, closed when
// the test ends.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	return OpenConfig(t, store.Config{DSN: DSN(t, dialect)})
}

// OpenConfig opens a Store with cfg (cfg.DSN from DSN), closed when the test ends.
func OpenConfig(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", cfg.DSN, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each runs fn as a subtest per dialect ("sqlite", "postgres"), each with its
// own fresh Store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// EachDialect runs fn as a subtest per dialect, for tests that open their
// own stores (several instances, custom clocks).
func EachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}
