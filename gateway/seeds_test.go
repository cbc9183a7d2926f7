package gateway

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to give a chat the seed's id
)

// seedLine is one observation of testdata/seed_snippet.js.
type seedLine struct {
	Log          string          `json:"log"`
	Display      json.RawMessage `json:"display"`
	Connected    string          `json:"connected"`
	ConnectError string          `json:"connectError"`
}

// runSeedSnippet runs testdata/seeds/<name> with seed_snippet.js against
// url and collects its observations until done says enough (or 10s).
func runSeedSnippet(t *testing.T, url, name, token string, done func([]seedLine) bool) []seedLine {
	t.Helper()
	harness, err := filepath.Abs(filepath.Join("testdata", "seed_snippet.js"))
	if err != nil {
		t.Fatal(err)
	}
	n := testenv.StartNode(t, harness, url, filepath.Join(filepath.Dir(harness), "seeds", name), token)
	var got []seedLine
	timeout := time.After(10 * time.Second)
	for !done(got) {
		select {
		case line, ok := <-n.Lines:
			if !ok {
				t.Fatalf("%s exited; saw %+v", name, got)
			}
			var l seedLine
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("%s: gave up; saw %+v", name, got)
		}
	}
	return got
}

// seedChat creates the seed's chat "chat-123" (store ids are generated:
// the chat is created, then copied under that id) owned by owner.
func seedChat(t *testing.T, dsn string, st *store.Store, owner string) {
	t.Helper()
	ctx := context.Background()
	c, err := st.CreateChat(ctx, store.NewChat{Kind: store.KindGeneral, Title: "seed", CreatorID: owner})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO chats (id, kind, order_id, title, creator_id, archived, last_seq, last_message_id, activity_at, created_at)
		 SELECT 'chat-123', kind, order_id, title, creator_id, archived, last_seq, last_message_id, activity_at, created_at FROM chats WHERE id = ?`,
		`INSERT INTO memberships (chat_id, user_id, role, joined_at) SELECT 'chat-123', user_id, role, joined_at FROM memberships WHERE chat_id = ?`,
	} {
		if _, err := db.ExecContext(ctx, q, c.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeeds_ClientSnippets runs the seeds' plain-JavaScript client
// snippets, copied verbatim into testdata/seeds, against sockgate with the
// real socket.io-client (issue 10, item 8: "the seeds' client snippets
// running unchanged"):
//   - chat-system-gateway.txt "Client Usage": connect to /chat with
//     auth.token, join chat-123 and send a message before the connection
//     is up (socket.io-client buffers both), receive "user joined" and the
//     message;
//   - websockets-realtime-communication.txt "Connection Management": a
//     client with reconnection options connects.
//
// The React/TypeScript clients of the seeds (the tutorial's Chat page, the
// useSocket hook) are exercised by the driver tests with the same emits
// (tutorial_test.go, lobby_test.go), not run verbatim.
func TestSeeds_ClientSnippets(t *testing.T) {
	dsn := storetest.DSN(t, store.DialectSQLite)
	st := storetest.OpenConfig(t, store.Config{DSN: dsn})
	seedChat(t, dsn, st, "alice")
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, v, nil, Config{Files: store.Files{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, s)

	t.Run("ChatSystemGateway", func(t *testing.T) {
		got := runSeedSnippet(t, url, "chat-system-gateway.js", mintToken(t, "alice", time.Hour), func(ls []seedLine) bool {
			for _, l := range ls {
				if l.Display != nil {
					return true
				}
			}
			return false
		})
		var logs []string
		var msg struct {
			ChatID  string `json:"chatId"`
			Content string `json:"content"`
			Sender  struct {
				ID       string `json:"id"`
				FullName string `json:"fullName"`
			} `json:"sender"`
		}
		for _, l := range got {
			if l.ConnectError != "" {
				t.Errorf("connect_error: %s", l.ConnectError)
			}
			if l.Log != "" {
				logs = append(logs, l.Log)
			}
			if l.Display != nil {
				if err := json.Unmarshal(l.Display, &msg); err != nil {
					t.Fatal(err)
				}
			}
		}
		wantLogs := []string{"Connected to chat", "alice joined chat", "alice Name: Hello!"}
		if len(logs) != len(wantLogs) {
			t.Fatalf("console.log lines %q, want %q", logs, wantLogs)
		}
		for i := range wantLogs {
			want(t, "console.log", logs[i], wantLogs[i])
		}
		if msg.ChatID != "chat-123" || msg.Content != "Hello!" || msg.Sender.ID != "alice" {
			t.Errorf("displayMessage got %+v", msg)
		}
	})

	t.Run("WebsocketsRealtimeReconnection", func(t *testing.T) {
		got := runSeedSnippet(t, url+"/rooms", "websockets-realtime-reconnection.js", "", func(ls []seedLine) bool {
			return len(ls) > 0
		})
		if got[0].Connected != "/rooms" {
			t.Errorf("got %+v, want a connection to /rooms", got[0])
		}
	})
}
