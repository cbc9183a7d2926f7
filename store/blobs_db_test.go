package store

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestBlobs_sweepPending: a pending blob (a Put whose process died) is
// deleted, chunks included, by the first Put after pendingTTL, and not
// before (an in-package test: it writes the rows a dead process leaves).
func TestBlobs_sweepPending(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		DialectSQLite:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "b.db") },
		DialectPostgres: func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var now atomic.Int64
			now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
			s, err := Open(ctx, Config{DSN: dsns[d](t), Now: func() time.Time { return time.UnixMicro(now.Load()) }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.exec(ctx, "INSERT INTO blobs (id, sha256, size, chunk_size, created_at) VALUES ('dead', NULL, 0, 4, ?)", s.nowMicros()); err != nil {
				t.Fatal(err)
			}
			if err := s.putChunk(ctx, "dead", 0, []byte("abcd")); err != nil {
				t.Fatal(err)
			}
			b := Blobs{Store: s}
			put := func() BlobStats {
				t.Helper()
				if _, _, err := b.Put(ctx, strings.NewReader(time.UnixMicro(now.Load()).String()), 0); err != nil {
					t.Fatal(err)
				}
				st, err := b.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			now.Add((pendingTTL - time.Second).Microseconds())
			if st := put(); st.Pending != 1 || st.Chunks != 2 {
				t.Fatalf("before the TTL: %+v, want the pending blob kept", st)
			}
			now.Add((2 * time.Second).Microseconds())
			if st := put(); st.Pending != 0 || st.Chunks != 2 || st.Blobs != 2 {
				t.Fatalf("after the TTL: %+v, want the pending blob and its chunk gone", st)
			}
		})
	}
}
