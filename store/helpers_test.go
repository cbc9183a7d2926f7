package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sockgate/sockgate/store"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustChat creates a general chat owned by owner with the given members.
func mustChat(t *testing.T, s *store.Store, owner string, members ...string) store.Chat {
	t.Helper()
	c, err := s.CreateChat(ctxT(t), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: owner, MemberIDs: members})
	if err != nil {
		t.Fatalf("CreateChat: %v", err)
	}
	return c
}

// mustSend stores n messages from sender in chat and returns them.
func mustSend(t *testing.T, s *store.Store, chatID, sender string, n int) []store.Message {
	t.Helper()
	out := make([]store.Message, 0, n)
	for i := 0; i < n; i++ {
		m, created, err := s.CreateMessage(ctxT(t), store.NewMessage{ChatID: chatID, SenderID: sender, Content: fmt.Sprintf("m%d", i)})
		if err != nil || !created {
			t.Fatalf("CreateMessage %d: created=%v err=%v", i, created, err)
		}
		out = append(out, m)
	}
	return out
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func seqs(ms []store.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	if from <= to {
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
	} else {
		for i := from; i >= to; i-- {
			out = append(out, i)
		}
	}
	return out
}

func equalSeqs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
}
