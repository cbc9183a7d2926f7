package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// statementCounter is a slog handler counting the store's SQL traces
// (Debug "store: SQL") whose statement starts with prefix.
type statementCounter struct {
	prefix string
	n      atomic.Int64
}

func (c *statementCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *statementCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *statementCounter) WithGroup(string) slog.Handler            { return c }
func (c *statementCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "store: SQL" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "sql" && strings.HasPrefix(a.Value.String(), c.prefix) {
			c.n.Add(1)
		}
		return true
	})
	return nil
}

// TestStore_CreateMessage_GroupCommit: 2 Stores (two processes) on one
// database, 24 goroutines each sending 15 messages into 3 chats. Every
// message comes back created, exactly once in its chat, seqs 1..n without
// gaps, ids increasing with seq; and the messages shared INSERTs (group
// commit): one transaction per message would need one INSERT each.
func TestStore_CreateMessage_GroupCommit(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		dsn := storetest.DSN(t, dialect)
		inserts := &statementCounter{prefix: "INSERT INTO messages"}
		log := slog.New(inserts)
		stores := []*store.Store{
			storetest.OpenConfig(t, store.Config{DSN: dsn, Logger: log}),
			storetest.OpenConfig(t, store.Config{DSN: dsn, Logger: log}),
		}
		ctx := ctxT(t)
		const senders, each = 24, 15
		members := make([]string, senders)
		for i := range members {
			members[i] = fmt.Sprintf("u%d", i)
		}
		var chats []store.Chat
		for range 3 {
			chats = append(chats, mustChat(t, stores[0], "owner", members...))
		}

		var wg sync.WaitGroup
		var mu sync.Mutex
		sent := map[string]store.Message{}
		errs := make(chan error, senders*2)
		for p, st := range stores {
			for w := range senders {
				wg.Go(func() {
					for i := range each {
						c := chats[(w+i)%len(chats)]
						m, created, err := st.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: members[w],
							Content: fmt.Sprintf("p%d w%d m%d", p, w, i), ClientMsgID: fmt.Sprintf("p%d-%d", p, i)})
						if err == nil && !created {
							err = fmt.Errorf("message %d of p%d w%d: created=false", i, p, w)
						}
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						if _, dup := sent[m.ID]; dup {
							errs <- fmt.Errorf("id %s returned twice", m.ID)
						}
						sent[m.ID] = m
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(sent) != 2*senders*each {
			t.Fatalf("%d messages returned, want %d", len(sent), 2*senders*each)
		}

		stored := 0
		for _, c := range chats {
			var history []store.Message
			var err error
			page := []store.Message{{}}
			for p := 1; len(page) > 0; p++ {
				if page, _, err = stores[1].MessagesPage(ctx, c.ID, p, store.MaxLimit); err != nil {
					t.Fatal(err)
				}
				history = append(history, page...)
			}
			for i, m := range history { // newest first
				if want := int64(len(history) - i); m.Seq != want {
					t.Fatalf("chat %s: seq %d at position %d, want %d", c.ID, m.Seq, i, want)
				}
				if i > 0 && m.ID >= history[i-1].ID {
					t.Fatalf("chat %s: id of seq %d not below seq %d's", c.ID, m.Seq, history[i-1].Seq)
				}
				got, ok := sent[m.ID]
				if !ok || got.Seq != m.Seq || got.Content != m.Content || got.ChatID != c.ID || !got.CreatedAt.Equal(m.CreatedAt) {
					t.Fatalf("stored %+v, returned %+v", m, got)
				}
			}
			if ch, err := stores[0].ChatByID(ctx, c.ID); err != nil || ch.LastSeq != int64(len(history)) || ch.LastMessageID != history[0].ID {
				t.Fatalf("chat head %+v (%v), want seq %d id %s", ch, err, len(history), history[0].ID)
			}
			stored += len(history)
		}
		if stored != len(sent) {
			t.Fatalf("%d messages stored, %d returned", stored, len(sent))
		}
		if n := inserts.n.Load(); n >= int64(stored) {
			t.Fatalf("%d INSERTs for %d messages: no group commit", n, stored)
		} else {
			t.Logf("%d messages in %d INSERTs", stored, n)
		}
	})
}

// TestStore_CreateMessage_CancelledBeforeStart: a ctx that ended before
// the call returns its error and stores nothing.
func TestStore_CreateMessage_CancelledBeforeStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c := mustChat(t, s, "alice")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, created, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "alice", Content: "x"})
		wantErr(t, err, context.Canceled)
		if created {
			t.Fatal("created with a cancelled ctx")
		}
		mustSend(t, s, c.ID, "alice", 1)
		if ch, _ := s.ChatByID(ctxT(t), c.ID); ch.LastSeq != 1 {
			t.Fatalf("last_seq %d, want 1: the cancelled message was stored", ch.LastSeq)
		}
	})
}
