package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestStore_migrate checks the version bookkeeping on both dialects (an
// in-package test: storetest imports store, so it cannot be used here).
func TestStore_migrate(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		DialectSQLite:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "m.db") },
		DialectPostgres: func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Open(ctx, Config{DSN: dsns[d](t)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want, _ := migrationsFor(d)
			var versions []int
			if err := s.db.Raw("SELECT version FROM schema_migrations ORDER BY version").Scan(&versions).Error; err != nil {
				t.Fatal(err)
			}
			if len(versions) != len(want) || versions[len(versions)-1] != want[len(want)-1].version {
				t.Fatalf("schema_migrations = %v, want %d versions", versions, len(want))
			}
			n, err := s.migrate(ctx)
			if err != nil || n != 0 {
				t.Fatalf("second migrate applied %d, %v; want 0", n, err)
			}
		})
	}
}
