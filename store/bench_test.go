package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// BenchmarkStore_CreateMessage measures committed inserts, serial and from
// 8 goroutines into 4 chats.
func BenchmarkStore_CreateMessage(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(d, func(b *testing.B) {
			s := storetest.Open(b, d)
			ctx := context.Background()
			var chats []string
			for range 4 {
				c, err := s.CreateChat(ctx, store.NewChat{Kind: store.KindGeneral, CreatorID: "u"})
				if err != nil {
					b.Fatal(err)
				}
				chats = append(chats, c.ID)
			}
			b.Run("Serial", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: chats[0], SenderID: "u", Content: "hello", ClientMsgID: fmt.Sprintf("s%d", i)}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Parallel8", func(b *testing.B) {
				var n atomic.Int64
				b.SetParallelism(4) // × GOMAXPROCS (2) = 8 goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if _, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: chats[i%4], SenderID: "u", Content: "hello", ClientMsgID: fmt.Sprintf("p%d", i)}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("HistoryPage50", func(b *testing.B) {
				for b.Loop() {
					if _, _, err := s.MessagesPage(ctx, chats[0], 1, 50); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
