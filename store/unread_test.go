package store_test

import (
	"fmt"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestStore_UnreadCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		a := mustChat(t, s, "alice", "bob")
		b := mustChat(t, s, "alice", "bob")
		quiet := mustChat(t, s, "alice", "bob")
		fromAlice := mustSend(t, s, a.ID, "alice", 3)
		mustSend(t, s, a.ID, "bob", 2) // bob's own: never unread for bob
		mustSend(t, s, b.ID, "alice", 1)

		want := func(user string, exp map[string]int64) {
			t.Helper()
			got, err := s.UnreadCounts(ctx, user, []string{a.ID, b.ID, quiet.ID})
			if err != nil {
				t.Fatalf("UnreadCounts(%s): %v", user, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Fatalf("UnreadCounts(%s) = %v, want %v", user, got, exp)
			}
		}
		t.Run("NoMarks", func(t *testing.T) {
			want("bob", map[string]int64{a.ID: 3, b.ID: 1, quiet.ID: 0})
			want("alice", map[string]int64{a.ID: 2, b.ID: 0, quiet.ID: 0})
		})
		t.Run("AboveTheMark", func(t *testing.T) {
			if _, err := s.SetReadMark(ctx, a.ID, "bob", fromAlice[1].ID); err != nil {
				t.Fatal(err)
			}
			want("bob", map[string]int64{a.ID: 1, b.ID: 1, quiet.ID: 0})
			more := mustSend(t, s, a.ID, "alice", 2)
			want("bob", map[string]int64{a.ID: 3, b.ID: 1, quiet.ID: 0})
			if _, err := s.SetReadMark(ctx, a.ID, "bob", more[1].ID); err != nil {
				t.Fatal(err)
			}
			want("bob", map[string]int64{a.ID: 0, b.ID: 1, quiet.ID: 0})
		})
		t.Run("OtherUsersMarksDoNotCount", func(t *testing.T) {
			// bob's mark in chat a (above every message) must not lower alice's count there.
			want("alice", map[string]int64{a.ID: 2, b.ID: 0, quiet.ID: 0})
		})
		t.Run("Empty", func(t *testing.T) {
			got, err := s.UnreadCounts(ctx, "bob", nil)
			if err != nil || len(got) != 0 {
				t.Fatalf("UnreadCounts(nil) = %v, %v", got, err)
			}
		})
	})
}
