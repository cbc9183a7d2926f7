package chats

import (
	"context"
	"net/http"
	"testing"

	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// GET /chats carries each chat's unreadCount for the caller (from the read
// marks), and GET /chats/{id}/members each member's lastReadMessageId.
func TestChatAPI_Unread(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPIEnv(t, st, nil, nil, APIConfig{})
		ctx := context.Background()
		busy := mustChat(t, st, "alice", "bob")
		quiet := mustChat(t, st, "alice", "bob")
		ms := mustMessages(t, st, busy.ID, "alice", 4)
		mustMessages(t, st, busy.ID, "bob", 1)
		if _, err := st.SetReadMark(ctx, busy.ID, "bob", ms[0].ID); err != nil {
			t.Fatal(err)
		}
		unread := func(user string) map[string]int64 {
			t.Helper()
			var p apiPage[jsonChat]
			e.request("GET", "/chats", e.token(user), nil).decode(t, http.StatusOK, &p)
			out := map[string]int64{}
			for _, c := range p.Data {
				if c.UnreadCount == nil {
					t.Fatalf("chat %s without unreadCount", c.ID)
				}
				out[c.ID] = *c.UnreadCount
			}
			return out
		}
		if got := unread("bob"); got[busy.ID] != 3 || got[quiet.ID] != 0 || len(got) != 2 {
			t.Fatalf("bob's unread %v, want %s:3 %s:0", got, busy.ID, quiet.ID)
		}
		if got := unread("alice"); got[busy.ID] != 1 || got[quiet.ID] != 0 {
			t.Fatalf("alice's unread %v, want %s:1", got, busy.ID)
		}

		var members []jsonMember
		e.request("GET", "/chats/"+busy.ID+"/members", e.token("alice"), nil).decode(t, http.StatusOK, &members)
		if len(members) != 2 || members[0].UserID != "alice" || members[0].LastReadMessageID != "" ||
			members[1].UserID != "bob" || members[1].LastReadMessageID != ms[0].ID {
			t.Fatalf("members %+v, want bob's mark %s", members, ms[0].ID)
		}
	})
}
