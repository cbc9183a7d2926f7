package store_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// BenchmarkStore_CreateMessage measures committed inserts, serial, from
// 8 goroutines into 4 chats, and from 500 into 250 chats or one.
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
			// 500 goroutines, as cmd/durable's senders but without the
			// gateway: into 250 chats, and all into one.
			for _, n := range []int{250, 1} {
				targets := make([]string, n)
				for i := range targets {
					c, err := s.CreateChat(ctx, store.NewChat{Kind: store.KindGeneral, CreatorID: "u"})
					if err != nil {
						b.Fatal(err)
					}
					targets[i] = c.ID
				}
				b.Run(fmt.Sprintf("Parallel500Chats%d", n), func(b *testing.B) {
					var k atomic.Int64
					b.SetParallelism(250) // × GOMAXPROCS (2) = 500 goroutines
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := k.Add(1)
							if _, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: targets[i%int64(n)], SenderID: "u", Content: "hello", ClientMsgID: fmt.Sprintf("c%d-%d", n, i)}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
			b.Run("Missed50", func(b *testing.B) { // a reconnect's replay read
				first, _, err := s.MessagesPage(ctx, chats[0], 1, 1)
				if err != nil || len(first) == 0 {
					b.Fatal(first, err)
				}
				old, err := s.MessagesBefore(ctx, chats[0], first[0].ID, 50)
				if err != nil || len(old) < 50 {
					b.Fatal(len(old), err)
				}
				for b.Loop() {
					if ms, err := s.MissedMessages(ctx, "u", old[49].ID, 50); err != nil || len(ms) != 50 {
						b.Fatal(len(ms), err)
					}
				}
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

// BenchmarkBlobStores_10MiB measures a 10 MiB Put and a full read of it on
// Files and on Blobs of each dialect (B/op: bytes allocated per 10 MiB).
func BenchmarkBlobStores_10MiB(b *testing.B) {
	const n = 10 << 20
	backends := map[string]func(b *testing.B) blobStore{
		"files": func(b *testing.B) blobStore { return store.Files{Dir: b.TempDir()} },
	}
	for _, d := range storetest.Dialects {
		backends["db-"+d] = func(b *testing.B) blobStore { return store.Blobs{Store: storetest.Open(b, d)} }
	}
	for _, name := range []string{"files", "db-sqlite", "db-postgres"} {
		b.Run(name, func(b *testing.B) {
			bs := backends[name](b)
			ctx := context.Background()
			var sum string
			b.Run("Put", func(b *testing.B) {
				b.SetBytes(n)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					// A distinct content each time: no dedupe.
					r := io.MultiReader(strings.NewReader(fmt.Sprint(i)), io.LimitReader(patternReader{}, n-int64(len(fmt.Sprint(i)))))
					var err error
					if sum, _, err = bs.Put(ctx, r, n); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Read", func(b *testing.B) {
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					r, err := bs.Open(ctx, sum)
					if err != nil {
						b.Fatal(err)
					}
					if k, err := io.Copy(io.Discard, r); err != nil || k != n {
						b.Fatal(k, err)
					}
					r.Close()
				}
			})
		})
	}
}
