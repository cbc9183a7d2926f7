package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestStore_Open(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		dsn := storetest.DSN(t, dialect)
		ctx := ctxT(t)
		s1 := storetest.OpenConfig(t, store.Config{DSN: dsn})
		if s1.Dialect() != dialect {
			t.Fatalf("Dialect = %q, want %q", s1.Dialect(), dialect)
		}
		c := mustChat(t, s1, "alice")
		mustSend(t, s1, c.ID, "alice", 1)
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		t.Run("ClosedIsUnavailable", func(t *testing.T) {
			wantErr(t, s1.Ping(ctx), store.ErrUnavailable)
			_, err := s1.ChatByID(ctx, c.ID)
			wantErr(t, err, store.ErrUnavailable)
		})
		t.Run("ReopenKeepsData", func(t *testing.T) {
			// Migrations are applied once: reopening must not fail on
			// existing tables nor lose data.
			s2 := storetest.OpenConfig(t, store.Config{DSN: dsn})
			if err := s2.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			_, total, err := s2.MessagesPage(ctx, c.ID, 1, 10)
			if err != nil || total != 1 {
				t.Fatalf("after reopen: total %d err %v", total, err)
			}
		})
		t.Run("ConcurrentOpen", func(t *testing.T) {
			// Several instances starting at once on a fresh database.
			fresh := storetest.DSN(t, dialect)
			errs := make(chan error, 4)
			for range 4 {
				go func() {
					s, err := store.Open(ctx, store.Config{DSN: fresh})
					if err == nil {
						_, _, err = s.ChatsForUser(ctx, "x", store.ChatFilter{})
						s.Close()
					}
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	})
}

func TestStore_OpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("PostgresUnreachable", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{DSN: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"})
		wantErr(t, err, store.ErrUnavailable)
	})
	t.Run("EmptyDSN", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{})
		wantErr(t, err, store.ErrInvalid)
	})
	t.Run("SQLiteMemory", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{DSN: ":memory:"})
		wantErr(t, err, store.ErrInvalid)
	})
	t.Run("SQLiteCreatesDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "c.db")
		s, err := store.Open(ctx, store.Config{DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("SQLiteUnwritable", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{DSN: "/proc/nope/x.db"})
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want a failure", err)
		}
	})
}
