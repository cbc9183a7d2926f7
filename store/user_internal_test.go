package store

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestUpsertUser_UnchangedClaimsDoNotWrite: a connection whose token claims
// are already stored leaves the users row alone (updated_at stays); changed
// claims write it.
func TestUpsertUser_UnchangedClaimsDoNotWrite(t *testing.T) {
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "u.db")
			if dialect == DialectPostgres {
				dsn = testenv.Postgres(t)
			}
			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
			now := func() time.Time { return time.UnixMicro(clock.Add(1000)) }
			s, err := Open(t.Context(), Config{DSN: dsn, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			updated := func() int64 {
				var at int64
				if err := s.db.Raw("SELECT updated_at FROM users WHERE id = 'u'").Scan(&at).Error; err != nil {
					t.Fatal(err)
				}
				return at
			}
			ann := User{ID: "u", Name: "Ann", Email: "ann@example.com"}
			if err := s.UpsertUser(t.Context(), ann); err != nil {
				t.Fatal(err)
			}
			first := updated()
			for _, same := range []User{ann, {ID: "u", Name: "Ann"}, {ID: "u"}} {
				if err := s.UpsertUser(t.Context(), same); err != nil {
					t.Fatal(err)
				}
				if at := updated(); at != first {
					t.Fatalf("upsert of %+v rewrote the row: updated_at %d, was %d", same, at, first)
				}
			}
			if err := s.UpsertUser(t.Context(), User{ID: "u", Username: "ann"}); err != nil {
				t.Fatal(err)
			}
			if at := updated(); at <= first {
				t.Fatalf("a new username left updated_at at %d", at)
			}
		})
	}
}
