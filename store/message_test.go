package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

func TestStore_CreateMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")

		t.Run("Stored", func(t *testing.T) {
			m, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "hi"})
			if err != nil || !created {
				t.Fatalf("created=%v err=%v", created, err)
			}
			if m.Seq != 1 || m.ChatID != c.ID || m.SenderID != "bob" || m.Content != "hi" || len(m.ID) != 26 || m.CreatedAt.IsZero() {
				t.Fatalf("message = %+v", m)
			}
			if m.Attachments == nil {
				t.Fatal("Attachments is nil, want empty slice")
			}
			got, err := s.MessageByID(ctx, m.ID)
			if err != nil || got.ID != m.ID || got.Seq != 1 || !got.CreatedAt.Equal(m.CreatedAt) {
				t.Fatalf("MessageByID = %+v, %v; want %+v", got, err, m)
			}
			ch, err := s.ChatByID(ctx, c.ID)
			if err != nil || ch.LastSeq != 1 || ch.LastMessageID != m.ID || !ch.ActivityAt.Equal(m.CreatedAt) {
				t.Fatalf("chat after message = %+v, %v", ch, err)
			}
		})

		t.Run("SeqAndIDIncrease", func(t *testing.T) {
			ms := mustSend(t, s, c.ID, "alice", 20)
			for i := 1; i < len(ms); i++ {
				if ms[i].Seq != ms[i-1].Seq+1 || ms[i].ID <= ms[i-1].ID || ms[i].CreatedAt.Before(ms[i-1].CreatedAt) {
					t.Fatalf("message %d (%s seq %d) does not follow %s seq %d", i, ms[i].ID, ms[i].Seq, ms[i-1].ID, ms[i-1].Seq)
				}
			}
		})

		cases := []struct {
			name string
			nm   store.NewMessage
			want error
		}{
			{"UnknownChat", store.NewMessage{ChatID: "nope", SenderID: "alice", Content: "x"}, store.ErrNotFound},
			{"NotMember", store.NewMessage{ChatID: c.ID, SenderID: "mallory", Content: "x"}, store.ErrForbidden},
			{"Empty", store.NewMessage{ChatID: c.ID, SenderID: "alice", Content: ""}, store.ErrInvalid},
			{"UnknownAttachment", store.NewMessage{ChatID: c.ID, SenderID: "alice", Content: "x", AttachmentIDs: []string{"nope"}}, store.ErrInvalid},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := s.ChatByID(ctx, c.ID)
				_, created, err := s.CreateMessage(ctx, tc.nm)
				wantErr(t, err, tc.want)
				if created {
					t.Fatal("created = true on error")
				}
				after, _ := s.ChatByID(ctx, c.ID)
				if after.LastSeq != before.LastSeq {
					t.Fatalf("last_seq moved %d -> %d on a refused message", before.LastSeq, after.LastSeq)
				}
			})
		}
	})
}

func TestStore_CreateMessage_Idempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")
		other := mustChat(t, s, "alice", "bob")

		first, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "hello", ClientMsgID: "c-1"})
		if err != nil || !created {
			t.Fatalf("first: created=%v err=%v", created, err)
		}
		t.Run("RetryReturnsOriginal", func(t *testing.T) {
			again, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "hello (edited)", ClientMsgID: "c-1"})
			if err != nil || created {
				t.Fatalf("retry: created=%v err=%v", created, err)
			}
			if again.ID != first.ID || again.Seq != first.Seq || again.Content != "hello" || again.ClientMsgID != "c-1" {
				t.Fatalf("retry returned %+v, want original %+v", again, first)
			}
			_, total, err := s.MessagesPage(ctx, c.ID, 1, 10)
			if err != nil || total != 1 {
				t.Fatalf("total = %d, %v; want 1 (retry stored nothing)", total, err)
			}
		})
		t.Run("SameIDOtherSender", func(t *testing.T) {
			m, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "alice", Content: "x", ClientMsgID: "c-1"})
			if err != nil || !created || m.ID == first.ID {
				t.Fatalf("other sender: %+v created=%v err=%v", m, created, err)
			}
		})
		t.Run("SameIDOtherChat", func(t *testing.T) {
			_, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: other.ID, SenderID: "bob", Content: "x", ClientMsgID: "c-1"})
			wantErr(t, err, store.ErrConflict)
		})
		t.Run("ConcurrentRetries", func(t *testing.T) {
			const n = 8
			var wg sync.WaitGroup
			results := make([]store.Message, n)
			createdN := make([]bool, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					results[i], createdN[i], errs[i] = s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "race", ClientMsgID: "c-race"})
				})
			}
			wg.Wait()
			created := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("attempt %d: %v", i, errs[i])
				}
				if createdN[i] {
					created++
				}
				if results[i].ID != results[0].ID {
					t.Fatalf("attempt %d got %s, attempt 0 got %s", i, results[i].ID, results[0].ID)
				}
			}
			if created != 1 {
				t.Fatalf("%d attempts created a row, want exactly 1", created)
			}
		})
	})
}

func TestStore_CreateMessage_Archived(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")
		ms := mustSend(t, s, c.ID, "bob", 2)
		if _, err := s.ArchiveChat(ctx, c.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		_, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "late"})
		wantErr(t, err, store.ErrArchived)
		if created {
			t.Fatal("created on archived chat")
		}
		got, total, err := s.MessagesPage(ctx, c.ID, 1, 10)
		if err != nil || total != 2 || len(got) != 2 || got[0].ID != ms[1].ID {
			t.Fatalf("history after refused message: %d %v %v", total, seqs(got), err)
		}
		ch, _ := s.ChatByID(ctx, c.ID)
		if ch.LastSeq != 2 {
			t.Fatalf("last_seq = %d, want 2", ch.LastSeq)
		}
	})
}

// TestStore_MessagesPage covers page/limit paging, newest first, at the edges.
func TestStore_MessagesPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		empty := mustChat(t, s, "alice")
		c := mustChat(t, s, "alice")
		mustSend(t, s, c.ID, "alice", 10)

		t.Run("EmptyChat", func(t *testing.T) {
			got, total, err := s.MessagesPage(ctx, empty.ID, 1, 5)
			if err != nil || total != 0 || len(got) != 0 || got == nil {
				t.Fatalf("got %v total %d err %v; want empty non-nil", got, total, err)
			}
		})
		t.Run("UnknownChat", func(t *testing.T) {
			_, _, err := s.MessagesPage(ctx, "nope", 1, 5)
			wantErr(t, err, store.ErrNotFound)
		})
		cases := []struct {
			page, limit int
			want        []int64
		}{
			{1, 5, seqRange(10, 6)},
			{2, 5, seqRange(5, 1)}, // exact page boundary: the last page is full
			{3, 5, nil},            // one past the end
			{1, 10, seqRange(10, 1)},
			{1, 3, seqRange(10, 8)},
			{4, 3, []int64{1}}, // partial last page
			{0, 4, seqRange(10, 7)},
			{1, 0, seqRange(10, 1)}, // default limit
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("Page%dLimit%d", tc.page, tc.limit), func(t *testing.T) {
				got, total, err := s.MessagesPage(ctx, c.ID, tc.page, tc.limit)
				if err != nil || total != 10 {
					t.Fatalf("total %d err %v", total, err)
				}
				want := tc.want
				if want == nil {
					want = []int64{}
				}
				equalSeqs(t, "page", seqs(got), want)
			})
		}
	})
}

// TestStore_MessagesCursor covers before/after cursors at the edges.
func TestStore_MessagesCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice")
		other := mustChat(t, s, "alice")
		ms := mustSend(t, s, c.ID, "alice", 10) // seq 1..10
		foreign := mustSend(t, s, other.ID, "alice", 1)[0]

		cases := []struct {
			name   string
			before bool
			at     int // index into ms
			limit  int
			want   []int64
		}{
			{"BeforeNewest", true, 9, 4, seqRange(9, 6)},
			{"BeforeExactBoundary", true, 4, 4, seqRange(4, 1)},
			{"BeforeFewerThanLimit", true, 2, 4, seqRange(2, 1)},
			{"BeforeOldest", true, 0, 4, []int64{}},
			{"AfterOldest", false, 0, 4, seqRange(2, 5)},
			{"AfterExactBoundary", false, 5, 4, seqRange(7, 10)},
			{"AfterFewerThanLimit", false, 7, 4, seqRange(9, 10)},
			{"AfterNewest", false, 9, 4, []int64{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var got []store.Message
				var err error
				if tc.before {
					got, err = s.MessagesBefore(ctx, c.ID, ms[tc.at].ID, tc.limit)
				} else {
					got, err = s.MessagesAfter(ctx, c.ID, ms[tc.at].ID, tc.limit)
				}
				if err != nil {
					t.Fatal(err)
				}
				equalSeqs(t, tc.name, seqs(got), tc.want)
			})
		}
		t.Run("WalkBackAndForth", func(t *testing.T) {
			// Walk the whole history backwards in pages of 3, then forwards.
			var back []int64
			page, _, err := s.MessagesPage(ctx, c.ID, 1, 3)
			for err == nil && len(page) > 0 {
				back = append(back, seqs(page)...)
				page, err = s.MessagesBefore(ctx, c.ID, page[len(page)-1].ID, 3)
			}
			if err != nil {
				t.Fatal(err)
			}
			equalSeqs(t, "backwards", back, seqRange(10, 1))
			fwd := []int64{1}
			cur := ms[0].ID
			for {
				page, err := s.MessagesAfter(ctx, c.ID, cur, 3)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				fwd = append(fwd, seqs(page)...)
				cur = page[len(page)-1].ID
			}
			equalSeqs(t, "forwards", fwd, seqRange(1, 10))
		})
		t.Run("CursorFromOtherChat", func(t *testing.T) {
			_, err := s.MessagesBefore(ctx, c.ID, foreign.ID, 5)
			wantErr(t, err, store.ErrNotFound)
			_, err = s.MessagesAfter(ctx, c.ID, "01AAAAAAAAAAAAAAAAAAAAAAAA", 5)
			wantErr(t, err, store.ErrNotFound)
		})
		t.Run("UnknownChat", func(t *testing.T) {
			_, err := s.MessagesAfter(ctx, "nope", ms[0].ID, 5)
			wantErr(t, err, store.ErrNotFound)
		})
	})
}

// TestStore_ConcurrentInsertsWhilePaging: 4 writers (on two Store instances
// sharing the database, like two gateway processes) insert 50 messages each
// while a reader pages backwards from the newest message and forwards from
// the oldest. Seqs must come out gap-free and duplicate-free.
func TestStore_ConcurrentInsertsWhilePaging(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		dsn := storetest.DSN(t, dialect)
		s1 := storetest.OpenConfig(t, store.Config{DSN: dsn})
		s2 := storetest.OpenConfig(t, store.Config{DSN: dsn})
		ctx := ctxT(t)
		c := mustChat(t, s1, "w0", "w1", "w2", "w3")
		seed := mustSend(t, s1, c.ID, "w0", 10) // history to page through while writers run
		const writers, each = 4, 50

		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			st := s1
			if w%2 == 1 {
				st = s2
			}
			wg.Go(func() {
				for i := range each {
					_, _, err := st.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: fmt.Sprintf("w%d", w), Content: "x",
						ClientMsgID: fmt.Sprintf("w%d-%d", w, i)})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}

		// Forward paging with cursors while inserts happen: every page must
		// continue exactly where the previous one stopped.
		readErr := make(chan error, 1)
		go func() {
			defer close(readErr)
			cur, next := seed[0].ID, int64(2)
			for next <= 10+writers*each {
				page, err := s2.MessagesAfter(ctx, c.ID, cur, 7)
				if err != nil {
					readErr <- err
					return
				}
				for _, m := range page {
					if m.Seq != next {
						readErr <- fmt.Errorf("forward paging: got seq %d, want %d", m.Seq, next)
						return
					}
					next++
				}
				if len(page) > 0 {
					cur = page[len(page)-1].ID
				}
				if ctx.Err() != nil {
					readErr <- ctx.Err()
					return
				}
			}
		}()
		// Backward paging from a fixed cursor while inserts happen: inserts
		// land after the cursor and must not disturb it.
		back := []int64{}
		page, err := s1.MessagesBefore(ctx, c.ID, seed[9].ID, 3)
		for err == nil && len(page) > 0 {
			back = append(back, seqs(page)...)
			page, err = s1.MessagesBefore(ctx, c.ID, page[len(page)-1].ID, 3)
		}
		if err != nil {
			t.Fatal(err)
		}
		equalSeqs(t, "backward during inserts", back, seqRange(9, 1))

		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("writer: %v", err)
		}
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}

		all, total, err := s2.MessagesPage(ctx, c.ID, 1, store.MaxLimit)
		if err != nil || total != 10+writers*each {
			t.Fatalf("total %d err %v", total, err)
		}
		// Page the full history newest first by cursor; ids must strictly
		// decrease along with seq.
		got := seqs(all)
		prevID := all[len(all)-1].ID
		for len(all) > 0 {
			all, err = s1.MessagesBefore(ctx, c.ID, all[len(all)-1].ID, store.MaxLimit)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range all {
				if m.ID >= prevID {
					t.Fatalf("id order disagrees with seq order at seq %d", m.Seq)
				}
				prevID = m.ID
			}
			got = append(got, seqs(all)...)
		}
		equalSeqs(t, "final history", got, seqRange(int64(10+writers*each), 1))
	})
}

func TestStore_MissedMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		a := mustChat(t, s, "alice", "bob")
		b := mustChat(t, s, "carol", "bob")
		notBobs := mustChat(t, s, "alice", "carol")

		first := mustSend(t, s, a.ID, "alice", 1)[0] // bob saw this one
		var want []string
		for i := 0; i < 6; i++ { // interleave chats
			chat, sender := a.ID, "alice"
			if i%2 == 1 {
				chat, sender = b.ID, "carol"
			}
			m := mustSend(t, s, chat, sender, 1)[0]
			want = append(want, m.ID)
			mustSend(t, s, notBobs.ID, "alice", 1) // not bob's: never returned
		}

		t.Run("AllInOrder", func(t *testing.T) {
			got, err := s.MissedMessages(ctx, "bob", first.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			if ids := msgIDs(got); fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("missed = %v, want %v", ids, want)
			}
		})
		t.Run("PagedNoDuplicates", func(t *testing.T) {
			var ids []string
			cur := first.ID
			for {
				got, err := s.MissedMessages(ctx, "bob", cur, 4)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, msgIDs(got)...)
				if len(got) < 4 {
					break
				}
				cur = got[len(got)-1].ID
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("paged missed = %v, want %v", ids, want)
			}
		})
		t.Run("UpToDate", func(t *testing.T) {
			got, err := s.MissedMessages(ctx, "bob", want[len(want)-1], 10)
			if err != nil || len(got) != 0 {
				t.Fatalf("got %v, %v; want none", msgIDs(got), err)
			}
		})
		t.Run("SinceOtherUsersMessage", func(t *testing.T) {
			// The id is only a position: one from a chat bob is not in works.
			got, err := s.MissedMessages(ctx, "bob", want[2], 10)
			if err != nil || fmt.Sprint(msgIDs(got)) != fmt.Sprint(want[3:]) {
				t.Fatalf("got %v, %v; want %v", msgIDs(got), err, want[3:])
			}
		})
		t.Run("MalformedID", func(t *testing.T) {
			_, err := s.MissedMessages(ctx, "bob", "not-an-id", 10)
			wantErr(t, err, store.ErrInvalid)
		})
	})
}

func msgIDs(ms []store.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
