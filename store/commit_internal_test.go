package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sockgate/sockgate/internal/testenv"
)

// batchOf makes the queued requests of nms, as take hands them to commitBatch.
func batchOf(ctx context.Context, nms ...NewMessage) []*sendReq {
	out := make([]*sendReq, len(nms))
	for i, nm := range nms {
		out[i] = &sendReq{ctx: ctx, nm: nm, done: make(chan sendResult, 1)}
		out[i].state.Store(reqTaken)
	}
	return out
}

// TestCommitBatch_mixed: one batch mixing good messages with every kind
// of refusal. Each refused message gets its own error, the good ones are
// stored by the batch's one INSERT (not by the per-message fallback), in
// order, and a clientMsgId repeated in the batch returns the first's message.
func TestCommitBatch_mixed(t *testing.T) {
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			s, _ := openTest(t, dialect, 0)
			ctx := t.Context()
			a, err := s.CreateChat(ctx, NewChat{Kind: KindGeneral, CreatorID: "alice", MemberIDs: []string{"bob"}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.CreateChat(ctx, NewChat{Kind: KindGeneral, CreatorID: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			archived, err := s.CreateChat(ctx, NewChat{Kind: KindGeneral, CreatorID: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ArchiveChat(ctx, archived.ID, "alice"); err != nil {
				t.Fatal(err)
			}
			att := func(chat, uploader string) string {
				at, err := s.CreateAttachment(ctx, Attachment{ChatID: chat, UploaderID: uploader, Name: "f", Size: 1, ContentType: "text/plain", SHA256: strings.Repeat("a", 64)})
				if err != nil {
					t.Fatal(err)
				}
				return at.ID
			}
			good, bobs, used := att(a.ID, "alice"), att(a.ID, "bob"), att(a.ID, "alice")
			old, _, err := s.CreateMessage(ctx, NewMessage{ChatID: a.ID, SenderID: "alice", Content: "before", ClientMsgID: "k-old", AttachmentIDs: []string{used}})
			if err != nil {
				t.Fatal(err)
			}

			cases := []struct {
				nm   NewMessage
				want error // nil: stored or returned
			}{
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "one", ClientMsgID: "k1"}, nil},
				{NewMessage{ChatID: a.ID, SenderID: "mallory", Content: "x"}, ErrForbidden},
				{NewMessage{ChatID: b.ID, SenderID: "bob", Content: "two"}, nil},
				{NewMessage{ChatID: archived.ID, SenderID: "alice", Content: "x"}, ErrArchived},
				{NewMessage{ChatID: "nope", SenderID: "alice", Content: "x"}, ErrNotFound},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "x", AttachmentIDs: []string{"nope"}}, ErrInvalid},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "x", AttachmentIDs: []string{bobs}}, ErrForbidden},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "x", AttachmentIDs: []string{used}}, ErrConflict},
				{NewMessage{ChatID: b.ID, SenderID: "bob", Content: "x", AttachmentIDs: []string{good}}, ErrInvalid},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "three", AttachmentIDs: []string{good, good}}, nil},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "x", AttachmentIDs: []string{good}}, ErrConflict}, // taken by "three"
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "one again", ClientMsgID: "k1"}, nil},
				{NewMessage{ChatID: b.ID, SenderID: "alice", Content: "x", ClientMsgID: "k1"}, ErrConflict},
				{NewMessage{ChatID: a.ID, SenderID: "alice", Content: "old again", ClientMsgID: "k-old"}, nil},
				{NewMessage{ChatID: b.ID, SenderID: "alice", Content: "x", ClientMsgID: "k-old"}, ErrConflict},
				{NewMessage{ChatID: a.ID, SenderID: "bob", Content: "four", ClientMsgID: "k1"}, nil}, // another sender's key
			}
			var nms []NewMessage
			for _, c := range cases {
				nms = append(nms, c.nm)
			}
			batch := batchOf(ctx, nms...)
			inserts := 0
			s.db.Callback().Raw().After("gorm:raw").Register("test:count", func(db *gorm.DB) {
				if strings.HasPrefix(db.Statement.SQL.String(), "INSERT INTO messages") {
					inserts++
				}
			})
			s.commitBatch(batch)
			s.db.Callback().Raw().Remove("test:count")
			res := make([]sendResult, len(batch))
			for i, r := range batch {
				res[i] = <-r.done
				if !errors.Is(res[i].err, cases[i].want) || (cases[i].want != nil) != (res[i].err != nil) {
					t.Errorf("message %d (%q): err %v, want %v", i, cases[i].nm.Content, res[i].err, cases[i].want)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			if inserts != 1 {
				t.Fatalf("%d INSERTs, want the batch's one", inserts)
			}
			one, two, three, again, oldAgain, four := res[0], res[2], res[9], res[11], res[13], res[15]
			for _, r := range []sendResult{one, two, three, four} {
				if !r.created {
					t.Fatalf("%+v: want created", r.m)
				}
			}
			if one.m.Seq != 2 || three.m.Seq != 3 || four.m.Seq != 4 || two.m.Seq != 1 || !(one.m.ID < three.m.ID && three.m.ID < four.m.ID) {
				t.Fatalf("seqs/ids of chat a: %d %s, %d %s, %d %s", one.m.Seq, one.m.ID, three.m.Seq, three.m.ID, four.m.Seq, four.m.ID)
			}
			if again.created || again.m.ID != one.m.ID || again.m.Content != "one" {
				t.Fatalf("repeated key: %+v created=%v, want %+v", again.m, again.created, one.m)
			}
			if oldAgain.created || oldAgain.m.ID != old.ID || len(oldAgain.m.Attachments) != 1 || oldAgain.m.Attachments[0].ID != used {
				t.Fatalf("stored key: %+v created=%v, want %+v", oldAgain.m, oldAgain.created, old)
			}
			if len(three.m.Attachments) != 1 || three.m.Attachments[0].ID != good || three.m.Attachments[0].MessageID != three.m.ID {
				t.Fatalf("attachments of three: %+v", three.m.Attachments)
			}
			for _, r := range []sendResult{one, two, three, four} {
				got, err := s.MessageByID(ctx, r.m.ID)
				if err != nil || got.Seq != r.m.Seq || got.Content != r.m.Content || len(got.Attachments) != len(r.m.Attachments) || !got.CreatedAt.Equal(r.m.CreatedAt) {
					t.Fatalf("stored %+v (%v), returned %+v", got, err, r.m)
				}
			}
			for _, c := range []struct {
				id   string
				last sendResult
			}{{a.ID, four}, {b.ID, two}} {
				ch, err := s.ChatByID(ctx, c.id)
				if err != nil || ch.LastSeq != c.last.m.Seq || ch.LastMessageID != c.last.m.ID || !ch.ActivityAt.Equal(c.last.m.CreatedAt) {
					t.Fatalf("chat %+v (%v), want its head at %+v", ch, err, c.last.m)
				}
			}
		})
	}
}

// blockedCommitter returns a PostgreSQL Store with one committer whose
// batch waits behind a LOCK TABLE chats, the message of that batch (its
// result on done) and release.
func blockedCommitter(t *testing.T) (s *Store, dsn string, first NewMessage, done <-chan sendResult, release func()) {
	t.Helper()
	dsn = testenv.Postgres(t)
	s = openConfig(t, Config{DSN: dsn, Committers: 1})
	first = sendSetup(t, s)
	release = lockChats(t, dsn)
	ch := make(chan sendResult, 1)
	go func() {
		m, created, err := s.CreateMessage(context.Background(), first)
		ch <- sendResult{m: m, created: created, err: err}
	}()
	waitLockWaiter(t, dsn)
	return s, dsn, first, ch, release
}

func pending(c *committer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// TestCommitter_queuedCtxEnds: a message whose ctx ends while it waits
// for a batch returns at once with the ctx's error, and is not stored
// when the batches resume.
func TestCommitter_queuedCtxEnds(t *testing.T) {
	s, _, first, done, release := blockedCommitter(t)
	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(ctx, NewMessage{ChatID: first.ChatID, SenderID: "u", Content: "queued"})
		queued <- err
	}()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := pending(s.committers[0]); n != 1 {
			return fmt.Errorf("%d queued", n)
		}
		return nil
	})
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued send: %v, want context.Canceled", err)
	}
	release()
	if r := <-done; r.err != nil || !r.created {
		t.Fatalf("first: %+v", r)
	}
	if c, err := s.ChatByID(t.Context(), first.ChatID); err != nil || c.LastSeq != 1 {
		t.Fatalf("chat %+v (%v): want only the first message", c, err)
	}
}

// TestCommitter_inBatchCtxEnds: once its batch runs, a message's ctx
// ending does not interrupt it: the call returns the stored message.
// Without group commit the ctx interrupted the statement (rolled back).
func TestCommitter_inBatchCtxEnds(t *testing.T) {
	dsn := testenv.Postgres(t)
	s := openConfig(t, Config{DSN: dsn, Committers: 1})
	nm := sendSetup(t, s)
	release := lockChats(t, dsn)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan sendResult, 1)
	go func() {
		m, created, err := s.CreateMessage(ctx, nm)
		done <- sendResult{m: m, created: created, err: err}
	}()
	waitLockWaiter(t, dsn)
	cancel()
	release()
	r := <-done
	if r.err != nil || !r.created {
		t.Fatalf("send whose ctx ended in its batch: %+v", r)
	}
	if got, err := s.MessageByID(t.Context(), r.m.ID); err != nil || got.Seq != 1 {
		t.Fatalf("stored %+v, %v", got, err)
	}
}

// TestCommitter_closeDrains: Close stores the queued messages before it
// closes the pool; a send after Close is ErrUnavailable.
func TestCommitter_closeDrains(t *testing.T) {
	s, dsn, first, done, release := blockedCommitter(t)
	const n = 20
	queued := make(chan sendResult, n)
	for i := range n {
		go func() {
			m, created, err := s.CreateMessage(t.Context(), NewMessage{ChatID: first.ChatID, SenderID: "u", Content: fmt.Sprint(i)})
			queued <- sendResult{m: m, created: created, err: err}
		}()
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if k := pending(s.committers[0]); k != n {
			return fmt.Errorf("%d queued", k)
		}
		return nil
	})
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	testenv.WaitFor(t, 10*time.Second, func() error {
		c := s.committers[0]
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.closed {
			return errors.New("not closing yet")
		}
		return nil
	})
	if _, _, err := s.CreateMessage(t.Context(), first); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("send while closing: %v, want ErrUnavailable", err)
	}
	release()
	if r := <-done; r.err != nil {
		t.Fatalf("first: %v", r.err)
	}
	for range n {
		if r := <-queued; r.err != nil || !r.created {
			t.Fatalf("queued at Close: %+v", r)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	other := openDSN(t, dsn, 0)
	if c, err := other.ChatByID(t.Context(), first.ChatID); err != nil || c.LastSeq != n+1 {
		t.Fatalf("chat %+v (%v), want %d messages", c, err, n+1)
	}
}
