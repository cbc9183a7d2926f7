package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestStore_UpsertUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		if err := s.UpsertUser(ctx, store.User{ID: "u1", Name: "Ann", Username: "ann", Email: "ann@example.com"}); err != nil {
			t.Fatal(err)
		}
		// A later token without email keeps the stored email, updates the name.
		if err := s.UpsertUser(ctx, store.User{ID: "u1", Name: "Ann B"}); err != nil {
			t.Fatal(err)
		}
		u, err := s.UserByID(ctx, "u1")
		want := store.User{ID: "u1", Name: "Ann B", Username: "ann", Email: "ann@example.com"}
		if err != nil || u != want {
			t.Fatalf("UserByID = %+v, %v; want %+v", u, err, want)
		}
		_, err = s.UserByID(ctx, "nobody")
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, s.UpsertUser(ctx, store.User{}), store.ErrInvalid)

		if err := s.UpsertUser(ctx, store.User{ID: "u2", Name: "Bo"}); err != nil {
			t.Fatal(err)
		}
		users, err := s.UsersByID(ctx, []string{"u1", "u2", "ghost"})
		if err != nil || len(users) != 2 || users["u1"] != want || users["u2"].Name != "Bo" {
			t.Fatalf("UsersByID = %+v, %v", users, err)
		}
		if none, err := s.UsersByID(ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("UsersByID(nil) = %v, %v", none, err)
		}
	})
}

func TestStore_CreateChat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		t.Run("OrderChat", func(t *testing.T) {
			c, err := s.CreateChat(ctx, store.NewChat{Kind: store.KindOrder, OrderID: "o-42", Title: "Order 42",
				CreatorID: "cust", MemberIDs: []string{"seller", "seller", "cust"}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.ChatByID(ctx, c.ID)
			if err != nil || got != c || got.Kind != store.KindOrder || got.OrderID != "o-42" || got.Archived || got.LastSeq != 0 {
				t.Fatalf("ChatByID = %+v, %v; want %+v", got, err, c)
			}
			members, err := s.Members(ctx, c.ID)
			if err != nil || len(members) != 2 || members[0].UserID != "cust" || members[0].Role != store.RoleOwner ||
				members[1].UserID != "seller" || members[1].Role != store.RoleMember {
				t.Fatalf("Members = %+v, %v", members, err)
			}
			// Placeholder users exist for members named before connecting.
			if _, err := s.UserByID(ctx, "seller"); err != nil {
				t.Fatalf("placeholder user: %v", err)
			}
			for user, want := range map[string]bool{"cust": true, "seller": true, "stranger": false} {
				ok, err := s.IsMember(ctx, c.ID, user)
				if err != nil || ok != want {
					t.Fatalf("IsMember(%s) = %v, %v; want %v", user, ok, err, want)
				}
			}
		})
		cases := []struct {
			name string
			nc   store.NewChat
		}{
			{"UnknownKind", store.NewChat{Kind: "group", CreatorID: "a"}},
			{"OrderWithoutOrderID", store.NewChat{Kind: store.KindOrder, CreatorID: "a"}},
			{"GeneralWithOrderID", store.NewChat{Kind: store.KindGeneral, OrderID: "o", CreatorID: "a"}},
			{"NoCreator", store.NewChat{Kind: store.KindGeneral}},
			{"EmptyMemberID", store.NewChat{Kind: store.KindGeneral, CreatorID: "a", MemberIDs: []string{""}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.CreateChat(ctx, tc.nc)
				wantErr(t, err, store.ErrInvalid)
			})
		}
		t.Run("UnknownChat", func(t *testing.T) {
			_, err := s.ChatByID(ctx, "nope")
			wantErr(t, err, store.ErrNotFound)
			ok, err := s.IsMember(ctx, "nope", "cust")
			if ok || err != nil {
				t.Fatalf("IsMember(unknown chat) = %v, %v", ok, err)
			}
		})
	})
}

func TestStore_AddMember(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice")
		m, err := s.AddMember(ctx, c.ID, "bob", "")
		if err != nil || m.Role != store.RoleMember || m.UserID != "bob" {
			t.Fatalf("AddMember = %+v, %v", m, err)
		}
		got, err := s.Membership(ctx, c.ID, "bob")
		if err != nil || got.Role != store.RoleMember || !got.JoinedAt.Equal(m.JoinedAt) {
			t.Fatalf("Membership = %+v, %v", got, err)
		}
		_, err = s.AddMember(ctx, c.ID, "bob", store.RoleMember)
		wantErr(t, err, store.ErrConflict)
		_, err = s.AddMember(ctx, c.ID, "carol", "admin")
		wantErr(t, err, store.ErrInvalid)
		_, err = s.AddMember(ctx, "nope", "carol", "")
		wantErr(t, err, store.ErrNotFound)
		_, err = s.Membership(ctx, c.ID, "carol")
		wantErr(t, err, store.ErrNotFound)
		if _, err := s.ArchiveChat(ctx, c.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = s.AddMember(ctx, c.ID, "carol", "")
		wantErr(t, err, store.ErrArchived)
	})
}

func TestStore_ArchiveChat(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")
		_, err := s.ArchiveChat(ctx, c.ID, "bob")
		wantErr(t, err, store.ErrForbidden)
		_, err = s.ArchiveChat(ctx, c.ID, "mallory")
		wantErr(t, err, store.ErrForbidden)
		_, err = s.ArchiveChat(ctx, "nope", "alice")
		wantErr(t, err, store.ErrNotFound)

		a, err := s.ArchiveChat(ctx, c.ID, "alice")
		if err != nil || !a.Archived || a.ArchivedAt.IsZero() {
			t.Fatalf("ArchiveChat = %+v, %v", a, err)
		}
		again, err := s.ArchiveChat(ctx, c.ID, "alice")
		if err != nil || !again.ArchivedAt.Equal(a.ArchivedAt) {
			t.Fatalf("second ArchiveChat = %+v, %v; want unchanged %v", again, err, a.ArchivedAt)
		}
	})
}

func TestStore_ChatsForUser(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		// A fake clock makes activity order deterministic.
		var mu sync.Mutex
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		}
		s := storetest.OpenConfig(t, store.Config{DSN: storetest.DSN(t, dialect), Now: now})
		ctx := ctxT(t)
		c1 := mustChat(t, s, "alice", "bob")
		c2 := mustChat(t, s, "alice")
		c3 := mustChat(t, s, "bob", "alice")
		c4 := mustChat(t, s, "carol")     // not alice's
		mustSend(t, s, c1.ID, "alice", 1) // c1 now the most active
		if _, err := s.ArchiveChat(ctx, c3.ID, "bob"); err != nil {
			t.Fatal(err)
		}
		_ = c4

		ids := func(cs []store.Chat) []string {
			out := make([]string, len(cs))
			for i, c := range cs {
				out[i] = c.ID
			}
			return out
		}
		cases := []struct {
			name      string
			f         store.ChatFilter
			want      []string
			wantTotal int
		}{
			{"Active", store.ChatFilter{}, []string{c1.ID, c2.ID}, 2},
			{"WithArchived", store.ChatFilter{Archived: true}, []string{c1.ID, c3.ID, c2.ID}, 3},
			{"Page1", store.ChatFilter{Archived: true, Page: 1, Limit: 2}, []string{c1.ID, c3.ID}, 3},
			{"Page2", store.ChatFilter{Archived: true, Page: 2, Limit: 2}, []string{c2.ID}, 3},
			{"PastEnd", store.ChatFilter{Archived: true, Page: 3, Limit: 2}, []string{}, 3},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.ChatsForUser(ctx, "alice", tc.f)
				if err != nil || total != tc.wantTotal {
					t.Fatalf("total %d err %v, want %d", total, err, tc.wantTotal)
				}
				if g := ids(got); fmt.Sprint(g) != fmt.Sprint(tc.want) {
					t.Fatalf("chats %v, want %v", g, tc.want)
				}
			})
		}
		t.Run("ChatIDsForUser", func(t *testing.T) {
			got, err := s.ChatIDsForUser(ctx, "alice")
			if err != nil || len(got) != 3 {
				t.Fatalf("ChatIDsForUser = %v, %v; want 3 ids (archived included)", got, err)
			}
			none, err := s.ChatIDsForUser(ctx, "nobody")
			if err != nil || none == nil || len(none) != 0 {
				t.Fatalf("ChatIDsForUser(nobody) = %#v, %v", none, err)
			}
		})
	})
}

// TestStore_ClockGoesBackwards: ids and created_at stay ordered with seq in
// a chat even when the inserting clock jumps back (another instance with a
// slow clock).
func TestStore_ClockGoesBackwards(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		dsn := storetest.DSN(t, dialect)
		base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		fast := storetest.OpenConfig(t, store.Config{DSN: dsn, Now: func() time.Time { return base.Add(time.Hour) }})
		slow := storetest.OpenConfig(t, store.Config{DSN: dsn, Now: func() time.Time { return base }})
		c := mustChat(t, slow, "alice")
		a := mustSend(t, fast, c.ID, "alice", 1)[0]
		b := mustSend(t, slow, c.ID, "alice", 1)[0]
		if b.Seq != a.Seq+1 || b.ID <= a.ID || b.CreatedAt.Before(a.CreatedAt) {
			t.Fatalf("after clock skew: a=%s/%d/%v b=%s/%d/%v", a.ID, a.Seq, a.CreatedAt, b.ID, b.Seq, b.CreatedAt)
		}
	})
}
