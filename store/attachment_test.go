package store_test

import (
	"strings"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

const sumA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // sha256("hello")

func TestStore_CreateAttachment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		c := mustChat(t, s, "alice", "bob")
		other := mustChat(t, s, "alice")
		newAtt := func(chatID, uploader string) store.Attachment {
			t.Helper()
			a, err := s.CreateAttachment(ctx, store.Attachment{ChatID: chatID, UploaderID: uploader, Name: "a.txt", Size: 5, ContentType: "text/plain", SHA256: sumA})
			if err != nil {
				t.Fatalf("CreateAttachment: %v", err)
			}
			return a
		}
		a := newAtt(c.ID, "bob")
		t.Run("Stored", func(t *testing.T) {
			got, err := s.AttachmentByID(ctx, a.ID)
			if err != nil || got != a || len(a.ID) != 26 || a.MessageID != "" {
				t.Fatalf("AttachmentByID = %+v, %v; want %+v", got, err, a)
			}
			_, err = s.AttachmentByID(ctx, "nope")
			wantErr(t, err, store.ErrNotFound)
		})
		t.Run("Refused", func(t *testing.T) {
			cases := []struct {
				name string
				a    store.Attachment
				want error
			}{
				{"NotMember", store.Attachment{ChatID: c.ID, UploaderID: "mallory", Name: "x", SHA256: sumA}, store.ErrForbidden},
				{"UnknownChat", store.Attachment{ChatID: "nope", UploaderID: "bob", Name: "x", SHA256: sumA}, store.ErrNotFound},
				{"BadSum", store.Attachment{ChatID: c.ID, UploaderID: "bob", Name: "x", SHA256: strings.ToUpper(sumA)}, store.ErrInvalid},
				{"NoName", store.Attachment{ChatID: c.ID, UploaderID: "bob", SHA256: sumA}, store.ErrInvalid},
				{"DuplicateID", store.Attachment{ID: a.ID, ChatID: c.ID, UploaderID: "bob", Name: "x", SHA256: sumA}, store.ErrConflict},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					_, err := s.CreateAttachment(ctx, tc.a)
					wantErr(t, err, tc.want)
				})
			}
		})
		t.Run("AttachedToMessage", func(t *testing.T) {
			m, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", AttachmentIDs: []string{a.ID}})
			if err != nil || len(m.Attachments) != 1 || m.Attachments[0].ID != a.ID || m.Attachments[0].MessageID != m.ID {
				t.Fatalf("message with attachment = %+v, %v", m, err)
			}
			page, _, err := s.MessagesPage(ctx, c.ID, 1, 10)
			if err != nil || len(page) != 1 || len(page[0].Attachments) != 1 || page[0].Attachments[0].SHA256 != sumA {
				t.Fatalf("history = %+v, %v", page, err)
			}
			got, _ := s.AttachmentByID(ctx, a.ID)
			if got.MessageID != m.ID {
				t.Fatalf("attachment.MessageID = %q, want %q", got.MessageID, m.ID)
			}
		})
		t.Run("MessageRefuses", func(t *testing.T) {
			foreignChat := newAtt(other.ID, "alice")
			byAlice := newAtt(c.ID, "alice")
			cases := []struct {
				name string
				id   string
				want error
			}{
				{"AlreadyUsed", a.ID, store.ErrConflict},
				{"OtherChat", foreignChat.ID, store.ErrInvalid},
				{"OtherUploader", byAlice.ID, store.ErrForbidden},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before, _ := s.ChatByID(ctx, c.ID)
					_, _, err := s.CreateMessage(ctx, store.NewMessage{ChatID: c.ID, SenderID: "bob", Content: "x", AttachmentIDs: []string{tc.id}})
					wantErr(t, err, tc.want)
					after, _ := s.ChatByID(ctx, c.ID)
					if after.LastSeq != before.LastSeq {
						t.Fatalf("refused message consumed a seq: %d -> %d", before.LastSeq, after.LastSeq)
					}
				})
			}
		})
	})
}
