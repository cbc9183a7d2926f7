package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openTest opens a Store of dialect on a fresh database (an in-package
// test cannot use storetest, which imports store).
func openTest(t *testing.T, dialect string, busy time.Duration) (*Store, string) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "e.db")
	if dialect == DialectPostgres {
		dsn = testenv.Postgres(t)
	}
	return openDSN(t, dsn, busy), dsn
}

func openDSN(t *testing.T, dsn string, busy time.Duration) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{DSN: dsn, BusyTimeout: busy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestErrors_classify checks wrap, isUnavailable and isUniqueViolation on
// errors the real drivers return.
func TestErrors_classify(t *testing.T) {
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, _ := openTest(t, d, 0)
			const insertUser = "INSERT INTO users (id, created_at, updated_at) VALUES ('u', 0, 0)"
			if err := s.db.WithContext(ctx).Exec(insertUser).Error; err != nil {
				t.Fatal(err)
			}
			t.Run("UniqueViolationThroughGORM", func(t *testing.T) {
				err := s.db.WithContext(ctx).Exec(insertUser).Error
				if err == nil || !isUniqueViolation(err) || isUnavailable(err) {
					t.Fatalf("duplicate insert: err %v, unique %v, unavailable %v", err, isUniqueViolation(err), isUnavailable(err))
				}
			})
			t.Run("UniqueViolationFromDriver", func(t *testing.T) {
				// database/sql directly: no GORM error translation.
				_, err := s.sqlDB.ExecContext(ctx, insertUser)
				if err == nil || !isUniqueViolation(err) || isUnavailable(err) {
					t.Fatalf("duplicate insert: err %v, unique %v, unavailable %v", err, isUniqueViolation(err), isUnavailable(err))
				}
			})
			t.Run("ForeignKeyIsNeither", func(t *testing.T) {
				// Also proves foreign keys are enforced (a SQLite pragma).
				err := s.db.WithContext(ctx).Exec("INSERT INTO chats (id, kind, creator_id, activity_at, created_at) VALUES ('c', 'general', 'nobody', 0, 0)").Error
				if err == nil || isUniqueViolation(err) || isUnavailable(err) {
					t.Fatalf("insert with unknown creator: err %v, unique %v, unavailable %v", err, isUniqueViolation(err), isUnavailable(err))
				}
			})
			t.Run("ContextErrorsPassThrough", func(t *testing.T) {
				done, cancel := context.WithCancel(ctx)
				cancel()
				err := wrap("x", s.db.WithContext(done).Exec(insertUser).Error)
				if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("canceled insert: %v", err)
				}
			})
		})
	}
}

// TestStore_sqliteConnection checks what the DSN asks of every pooled
// SQLite connection, and the errors of a busy or unopenable database.
func TestStore_sqliteConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("Pragmas", func(t *testing.T) {
		s, _ := openTest(t, DialectSQLite, 1234*time.Millisecond)
		// Hold several connections at once so the pragmas are checked on
		// more than the first one.
		for i := range 3 {
			conn, err := s.sqlDB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, p := range []struct {
				pragma, want string
			}{
				{"journal_mode", "wal"},
				{"foreign_keys", "1"},
				{"busy_timeout", "1234"},
				{"synchronous", "1"},        // NORMAL
				{"wal_autocheckpoint", "0"}, // the checkpointer's job
			} {
				var got string
				if err := conn.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != p.want {
					t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, p.pragma, got, p.want)
				}
			}
		}
	})
	t.Run("BusyIsUnavailable", func(t *testing.T) {
		// A transaction of another Store (process) takes the write lock at
		// BEGIN (_txlock=immediate), before it writes anything; a writer
		// whose busy timeout runs out meanwhile gets ErrUnavailable.
		s1, dsn := openTest(t, DialectSQLite, 0)
		s2 := openDSN(t, dsn, 50*time.Millisecond)
		tx, err := s1.sqlDB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		_, err = s2.CreateChat(ctx, NewChat{Kind: KindGeneral, CreatorID: "u"})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write while locked: %v, want ErrUnavailable", err)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			t.Fatalf("write while locked: %v, want SQLITE_BUSY", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.CreateChat(ctx, NewChat{Kind: KindGeneral, CreatorID: "u"}); err != nil {
			t.Fatalf("write after the lock was released: %v", err)
		}
	})
	t.Run("CannotOpenIsUnavailable", func(t *testing.T) {
		// A directory exists but is no database file.
		_, err := Open(ctx, Config{DSN: t.TempDir()})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("open a directory: %v, want ErrUnavailable", err)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_CANTOPEN {
			t.Fatalf("open a directory: %v, want SQLITE_CANTOPEN", err)
		}
		if !isUnavailable(se) {
			t.Fatalf("isUnavailable(%v) = false", se)
		}
	})
}
