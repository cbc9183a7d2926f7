package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// TestCheckpoints_CopyTheWALBack: with SQLite's automatic checkpoints off,
// the writes reach the database file only through the checkpointer.
func TestCheckpoints_CopyTheWALBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		grows bool
	}{
		{"Checkpointer", 10 * time.Millisecond, true},
		// SQLite's own: a 1000-page WAL is far off, so nothing is copied
		// (the control: the file grows by the checkpointer, not by itself).
		{"SQLiteOwn", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			s, err := Open(t.Context(), Config{DSN: path, CheckpointInterval: tc.every})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			size := func() int64 {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				return fi.Size()
			}
			s.checkpoint() // the migrations' pages, so that only the users below are new
			before := size()
			for i := range 300 {
				if err := s.UpsertUser(t.Context(), User{ID: fmt.Sprintf("user-%03d", i), Name: fmt.Sprintf("A name long enough to fill pages %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.grows {
				if s.ckpt != nil {
					t.Fatal("a checkpointer runs with CheckpointInterval < 0")
				}
				if got := size(); got != before {
					t.Fatalf("database file %d bytes, was %d: checkpointed without a checkpointer", got, before)
				}
				return
			}
			testenv.WaitFor(t, 5*time.Second, func() error {
				if got := size(); got <= before {
					return fmt.Errorf("database file still %d bytes", got)
				}
				return nil
			})
		})
	}
}
