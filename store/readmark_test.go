package store_test

import (
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestStore_SetReadMark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")
		other := mustChat(t, s, "alice")
		ms := mustSend(t, s, c.ID, "alice", 3)
		foreign := mustSend(t, s, other.ID, "alice", 1)[0]

		rm, err := s.SetReadMark(ctx, c.ID, "bob", ms[1].ID)
		if err != nil || rm.MessageID != ms[1].ID || rm.Seq != 2 || rm.UserID != "bob" || rm.ReadAt.IsZero() {
			t.Fatalf("SetReadMark = %+v, %v", rm, err)
		}
		t.Run("NeverBackwards", func(t *testing.T) {
			back, err := s.SetReadMark(ctx, c.ID, "bob", ms[0].ID)
			if err != nil || back.MessageID != ms[1].ID || !back.ReadAt.Equal(rm.ReadAt) {
				t.Fatalf("older mark = %+v, %v; want unchanged %+v", back, err, rm)
			}
		})
		t.Run("Forwards", func(t *testing.T) {
			fwd, err := s.SetReadMark(ctx, c.ID, "bob", ms[2].ID)
			if err != nil || fwd.MessageID != ms[2].ID || fwd.Seq != 3 {
				t.Fatalf("newer mark = %+v, %v", fwd, err)
			}
		})
		t.Run("List", func(t *testing.T) {
			if _, err := s.SetReadMark(ctx, c.ID, "alice", ms[0].ID); err != nil {
				t.Fatal(err)
			}
			marks, err := s.ReadMarks(ctx, c.ID)
			if err != nil || len(marks) != 2 || marks[0].UserID != "alice" || marks[0].Seq != 1 || marks[1].UserID != "bob" || marks[1].Seq != 3 {
				t.Fatalf("ReadMarks = %+v, %v", marks, err)
			}
		})
		t.Run("Errors", func(t *testing.T) {
			_, err := s.SetReadMark(ctx, c.ID, "mallory", ms[0].ID)
			wantErr(t, err, store.ErrForbidden)
			_, err = s.SetReadMark(ctx, c.ID, "bob", foreign.ID)
			wantErr(t, err, store.ErrNotFound)
			_, err = s.SetReadMark(ctx, "nope", "bob", ms[0].ID)
			wantErr(t, err, store.ErrNotFound)
		})
	})
}
