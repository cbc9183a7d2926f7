package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/chats"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/gateway/lobby"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// wireMessage is the "message" event and the message of a send ack, as a
// client decodes it.
type wireMessage struct {
	ID          string `json:"id"`
	ChatID      string `json:"chatId"`
	Seq         int64  `json:"seq"`
	SenderID    string `json:"senderId"`
	Content     string `json:"content"`
	ClientMsgID string `json:"clientMsgId"`
	Timestamp   string `json:"timestamp"`
	Attachments []struct {
		ID string `json:"id"`
	} `json:"attachments"`
	Sender struct {
		ID       string `json:"id"`
		FullName string `json:"fullName"`
	} `json:"sender"`
}

type wireSendAck struct {
	Success bool        `json:"success"`
	Message wireMessage `json:"message"`
}

// Events and replies of the stored chats, as the tests decode them.
type (
	userJoinedEvent struct {
		UserID string `json:"userId"`
		ChatID string `json:"chatId"`
	}
	chatJoinReply struct {
		Success bool   `json:"success"`
		ChatID  string `json:"chatId"`
	}
	chatTypingEvent struct {
		ChatID   string `json:"chatId"`
		UserID   string `json:"userId"`
		IsTyping bool   `json:"isTyping"`
	}
	presenceEvent struct {
		UserID string `json:"userId"`
		Status string `json:"status"`
	}
)

func authOpts(tok string) map[string]any {
	return map[string]any{"auth": map[string]any{"token": tok}}
}

// TestChats_Messaging is issue 4 acceptance 2 on SQLite and PostgreSQL:
// two users with a client each join a chat, exchange messages (broadcast
// with the sender, acked after commit, idempotent per clientMsgId), typing
// reaches others only, read marks persist and are broadcast, presence
// flips offline only on the user's last socket, and a store outage is
// reported as `unavailable` with nothing broadcast.
func TestChats_Messaging(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, dialect string) {
		e := newChatEnv(t, chatEnvConfig{dialect: dialect})
		ctx := context.Background()
		c := e.chat(t, "alice", "bob")
		js := startJS(t, e.URL)

		js.mustConnect("alice", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
		js.emit("alice", "join", map[string]any{"chatId": c.ID})
		var uj userJoinedEvent
		js.expect("alice", "user joined").arg(t, 0, &uj)
		if uj != (userJoinedEvent{UserID: "alice", ChatID: c.ID}) {
			t.Errorf("user joined = %+v", uj)
		}

		// bob's first socket: alice sees him come online, then join.
		js.mustConnect("bob", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
		var pe presenceEvent
		js.expect("alice", "presence").arg(t, 0, &pe)
		if pe != (presenceEvent{UserID: "bob", Status: "online"}) {
			t.Errorf("presence = %+v", pe)
		}
		var ja chatJoinReply
		js.emit("bob", "join", map[string]any{"chatId": c.ID}).arg(t, 0, &ja)
		if ja != (chatJoinReply{Success: true, ChatID: c.ID}) {
			t.Errorf("join ack = %+v", ja)
		}
		js.expect("alice", "user joined").arg(t, 0, &uj)
		if uj.UserID != "bob" {
			t.Errorf("user joined = %+v", uj)
		}
		js.expect("bob", "user joined")

		t.Run("Message", func(t *testing.T) {
			var ack wireSendAck
			js.emit("alice", "chat message", map[string]any{"chatId": c.ID, "content": "Hello!", "clientMsgId": "m-1"}).arg(t, 0, &ack)
			if !ack.Success || ack.Message.ID == "" || ack.Message.Content != "Hello!" || ack.Message.ClientMsgID != "m-1" {
				t.Fatalf("ack = %+v", ack)
			}
			// The ack came after the commit: the row is there.
			stored, err := e.st.MessageByID(ctx, ack.Message.ID)
			if err != nil || stored.Content != "Hello!" || stored.SenderID != "alice" {
				t.Fatalf("stored = %+v, %v", stored, err)
			}
			var got wireMessage
			js.expect("bob", "message").arg(t, 0, &got)
			if got.ID != ack.Message.ID || got.ChatID != c.ID || got.SenderID != "alice" || got.Content != "Hello!" ||
				got.Sender.ID != "alice" || got.Sender.FullName != "alice Name" || got.Attachments == nil {
				t.Errorf("message = %+v", got)
			}
			if _, err := time.Parse(time.RFC3339Nano, got.Timestamp); err != nil {
				t.Errorf("timestamp: %v", err)
			}
			js.expect("alice", "message") // the room includes the sender

			// A retry with the same clientMsgId: same ack, one row, no broadcast.
			var again wireSendAck
			js.emit("alice", "chat message", map[string]any{"chatId": c.ID, "content": "Hello!", "clientMsgId": "m-1"}).arg(t, 0, &again)
			if !reflect.DeepEqual(again, ack) {
				t.Errorf("retry ack = %+v, want %+v", again, ack)
			}
			js.absent("bob", "message", 300)
			if _, total, err := e.st.MessagesPage(ctx, c.ID, 1, 10); err != nil || total != 1 {
				t.Errorf("stored messages = %d, %v; want 1", total, err)
			}
		})

		t.Run("Refusals", func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				payload any
				code    string
				msg     string // "" = not checked
			}{
				{"Empty", map[string]any{"chatId": c.ID, "content": "  "}, event.CodeInvalidPayload, "content: Must not be empty."},
				{"TooLong", map[string]any{"chatId": c.ID, "content": strings.Repeat("é", chats.MaxChatContent+1)}, event.CodeInvalidPayload, "content: String must contain at most 4000 character(s)"},
				{"NoChatID", map[string]any{"content": "x"}, event.CodeInvalidPayload, "chatId: Required"},
				{"UnknownChat", map[string]any{"chatId": "nope", "content": "x"}, event.CodeNotFound, ""},
				{"UnknownAttachment", map[string]any{"chatId": c.ID, "content": "x", "attachments": []string{"nope"}}, event.CodeInvalidPayload, "attachments: unknown, or not uploaded to this chat."},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if e := ackFailed(t, js.emit("bob", "chat message", tc.payload), tc.code); tc.msg != "" && e.Message != tc.msg {
						t.Errorf("message %q, want %q", e.Message, tc.msg)
					}
					var ex exception
					js.expect("bob", "exception").arg(t, 0, &ex)
					if ex.Status != "error" || ex.Message == "" {
						t.Errorf("exception = %+v", ex)
					}
				})
			}
			// Exactly 4000 characters pass.
			var ack wireSendAck
			js.emit("bob", "chat message", map[string]any{"chatId": c.ID, "content": strings.Repeat("x", chats.MaxChatContent)}).arg(t, 0, &ack)
			if !ack.Success {
				t.Errorf("4000 characters refused")
			}
			js.expect("alice", "message")
			js.expect("bob", "message")
			js.absent("alice", "message", 100) // none of the refused ones was broadcast
		})

		t.Run("Typing", func(t *testing.T) {
			js.emit("alice", "typing", map[string]any{"chatId": c.ID, "isTyping": true})
			var te chatTypingEvent
			js.expect("bob", "typing").arg(t, 0, &te)
			if te != (chatTypingEvent{ChatID: c.ID, UserID: "alice", IsTyping: true}) {
				t.Errorf("typing = %+v", te)
			}
			js.absent("alice", "typing", 300)
			// A chat the socket has not joined.
			ackFailed(t, js.emit("alice", "typing", map[string]any{"chatId": "other", "isTyping": true}), event.CodeForbidden)
			js.expect("alice", "exception")
		})

		t.Run("Read", func(t *testing.T) {
			msgs, _, err := e.st.MessagesPage(ctx, c.ID, 1, 1)
			if err != nil || len(msgs) != 1 {
				t.Fatal(msgs, err)
			}
			last := msgs[0].ID
			var ra struct {
				Success bool `json:"success"`
				Read    struct {
					ChatID, UserID, MessageID, ReadAt string
				} `json:"read"`
			}
			js.emit("bob", "read", map[string]any{"chatId": c.ID, "messageId": last}).arg(t, 0, &ra)
			if !ra.Success || ra.Read.MessageID != last || ra.Read.UserID != "bob" {
				t.Errorf("read ack = %+v", ra)
			}
			var re struct{ ChatID, UserID, MessageID, ReadAt string }
			js.expect("alice", "read").arg(t, 0, &re)
			if re.ChatID != c.ID || re.UserID != "bob" || re.MessageID != last || re.ReadAt == "" {
				t.Errorf("read event = %+v", re)
			}
			marks, err := e.st.ReadMarks(ctx, c.ID)
			if err != nil || len(marks) != 1 || marks[0].UserID != "bob" || marks[0].MessageID != last {
				t.Errorf("read marks = %+v, %v", marks, err)
			}
			ackFailed(t, js.emit("bob", "read", map[string]any{"chatId": c.ID, "messageId": "nope"}), event.CodeNotFound)
		})

		t.Run("NonMemberDisconnected", func(t *testing.T) {
			js.mustConnect("carol", "/chat", authOpts(mintToken(t, "carol", time.Hour)))
			ackFailed(t, js.emit("carol", "join", map[string]any{"chatId": c.ID}), event.CodeForbidden)
			var reason string
			js.expect("carol", "disconnect").arg(t, 0, &reason)
			if reason != "io server disconnect" {
				t.Errorf("reason = %q", reason)
			}
			js.absent("alice", "user joined", 100)
		})

		t.Run("PresenceLastSocket", func(t *testing.T) {
			js.mustConnect("bob2", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
			js.absent("alice", "presence", 200) // not bob's first socket
			if on, _ := e.chats.Online(ctx, []string{"bob", "carol"}); !on["bob"] || on["carol"] {
				t.Errorf("online = %v", on)
			}
			js.disconnect("bob")
			js.absent("alice", "presence", 300) // bob2 still connected
			js.disconnect("bob2")
			js.expect("alice", "presence").arg(t, 0, &pe)
			if pe != (presenceEvent{UserID: "bob", Status: "offline"}) {
				t.Errorf("presence = %+v", pe)
			}
			if on, _ := e.chats.Online(ctx, []string{"bob"}); on["bob"] {
				t.Errorf("bob still online")
			}
			js.mustConnect("bob", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
			js.expect("alice", "presence")
			js.emit("bob", "join", map[string]any{"chatId": c.ID})
			js.expect("alice", "user joined")
		})

		t.Run("Archived", func(t *testing.T) {
			c2 := e.chat(t, "alice", "bob")
			if _, err := e.st.ArchiveChat(ctx, c2.ID, "alice"); err != nil {
				t.Fatal(err)
			}
			ackFailed(t, js.emit("alice", "chat message", map[string]any{"chatId": c2.ID, "content": "late"}), event.CodeConflict)
		})

		// Last: the database goes away.
		t.Run("StoreDown", func(t *testing.T) {
			js.drain("bob")
			if err := e.st.Close(); err != nil {
				t.Fatal(err)
			}
			r := js.emit("alice", "chat message", map[string]any{"chatId": c.ID, "content": "lost", "clientMsgId": "m-down"})
			ackFailed(t, r, event.CodeUnavailable)
			js.absent("bob", "message", 300)
		})
	})
}

// TestChats_RateLimit: "/chat:chat message" allows 10 per second per user.
func TestChats_RateLimit(t *testing.T) {
	rules := map[string]ratelimit.Rule{"/chat:chat message": chats.RateRules()["/chat:chat message"]}
	e := newChatEnv(t, chatEnvConfig{rules: rules})
	c := e.chat(t, "alice")
	js := startJS(t, e.URL)
	js.mustConnect("a", "/chat", authOpts(mintToken(t, "alice", time.Hour)))
	limited := 0
	for i := range 12 {
		var ack wireSendAck
		r := js.emit("a", "chat message", map[string]any{"chatId": c.ID, "content": fmt.Sprint(i)})
		r.arg(t, 0, &ack)
		if !ack.Success {
			ackFailed(t, r, event.CodeRateLimited)
			limited++
		}
	}
	// 12 sends may straddle a window boundary; at least one is refused.
	if limited == 0 {
		t.Errorf("no send was rate limited")
	}
}

// TestChats_LobbyTypingStillWorks: "typing" without chatId stays the
// lobby's event when stored chats are on (one event name, two meanings).
func TestChats_LobbyTypingStillWorks(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	js := startJS(t, e.URL)
	js.mustConnect("a", "/chat", nil)
	js.mustConnect("b", "/chat", nil)
	js.emit("a", "joinChat", map[string]any{"username": "ann"})
	js.emit("a", "typing", map[string]any{"isTyping": true})
	var ut lobby.UserTyping
	js.expect("b", "userTyping").arg(t, 0, &ut)
	if ut != (lobby.UserTyping{Username: "ann", IsTyping: true}) {
		t.Errorf("userTyping = %+v", ut)
	}
	// With a chatId an anonymous socket is refused.
	ackFailed(t, js.emit("b", "typing", map[string]any{"chatId": "c", "isTyping": true}), event.CodeUnauthorized)
}

// TestNew_ChatsConfig: New refuses combinations it cannot serve.
func TestNew_ChatsConfig(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	files := store.Files{Dir: t.TempDir()}
	for _, tc := range []struct {
		name string
		st   *store.Store
		v    *auth.Verifier
		cfg  Config
		want string // "" = accepted
	}{
		{"Anonymous", nil, nil, Config{}, ""},
		{"AuthOnly", nil, v, Config{Auth: map[string]AuthMode{"/chat": AuthRequired}}, ""},
		{"Full", st, v, Config{Files: files}, ""},
		{"StoreWithoutVerifier", st, nil, Config{Files: files}, "needs a verifier"},
		{"StoreWithoutFiles", st, v, Config{}, "Config.Files.Dir"},
		{"DiskWithoutFiles", st, v, Config{Attachments: AttachmentsDisk}, "Config.Files.Dir"},
		{"DBWithoutFiles", st, v, Config{Attachments: AttachmentsDB}, ""},
		{"BadAttachments", st, v, Config{Attachments: "s3", Files: files}, "auto, db or disk"},
		{"RequiredWithoutVerifier", nil, nil, Config{Auth: map[string]AuthMode{"/": AuthRequired}}, "requires auth"},
		{"UnknownNamespace", nil, v, Config{Auth: map[string]AuthMode{"/admin": AuthRequired}}, "unknown namespace"},
		{"BadMode", nil, v, Config{Auth: map[string]AuthMode{"/chat": "sometimes"}}, "optional or required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.st, tc.v, nil, tc.cfg)
			if s != nil {
				t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestChats_Disabled: without a store the stored-chat events answer
// `unavailable` instead of leaving the client waiting, and the REST chat
// API is not served.
func TestChats_Disabled(t *testing.T) {
	s, err := New(nil, nil, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()); hs.Close() })
	js := startJS(t, hs.URL)
	js.mustConnect("a", "/chat", nil)
	for _, ev := range []string{"join", "chat message", "read"} {
		ackFailed(t, js.emit("a", ev, map[string]any{"chatId": "c"}), event.CodeUnavailable)
	}
	ackFailed(t, js.emit("a", "typing", map[string]any{"chatId": "c", "isTyping": true}), event.CodeUnavailable)
	res, err := http.Get(hs.URL + "/chats")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /chats = %d, want 404", res.StatusCode)
	}
}

// TestChats_AttachmentsAndMembersOnline: a file uploaded over REST travels
// in a "message" by id, and the REST members view shows who has a socket.
func TestChats_AttachmentsAndMembersOnline(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	c := e.chat(t, "alice", "bob")
	alice := mintToken(t, "alice", time.Hour)
	js := startJS(t, e.URL)
	js.mustConnect("bob", "/chat", authOpts(mintToken(t, "bob", time.Hour)))
	js.emit("bob", "join", map[string]any{"chatId": c.ID})

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "note.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("hello, attachment"))
	mw.Close()
	req, _ := http.NewRequest("POST", e.URL+"/chats/"+c.ID+"/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+alice)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var att struct{ ID, URL string }
	err = json.NewDecoder(res.Body).Decode(&att)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || err != nil || att.ID == "" {
		t.Fatalf("upload: %d %v %+v", res.StatusCode, err, att)
	}

	js.mustConnect("alice", "/chat", authOpts(alice))
	var ack wireSendAck
	js.emit("alice", "chat message", map[string]any{"chatId": c.ID, "content": "", "attachments": []string{att.ID}}).arg(t, 0, &ack)
	if !ack.Success || len(ack.Message.Attachments) != 1 || ack.Message.Attachments[0].ID != att.ID {
		t.Fatalf("ack = %+v", ack)
	}
	var got wireMessage
	js.expect("bob", "message").arg(t, 0, &got)
	if len(got.Attachments) != 1 || got.Attachments[0].ID != att.ID {
		t.Errorf("message attachments = %+v", got.Attachments)
	}

	req, _ = http.NewRequest("GET", e.URL+"/chats/"+c.ID+"/members", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var members []struct {
		UserID string `json:"userId"`
		Online bool   `json:"online"`
	}
	if err := json.Unmarshal(raw, &members); err != nil {
		var page struct {
			Data []struct {
				UserID string `json:"userId"`
				Online bool   `json:"online"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("members %s: %v", raw, err)
		}
		members = page.Data
	}
	online := map[string]bool{}
	for _, m := range members {
		online[m.UserID] = m.Online
	}
	if !online["alice"] || !online["bob"] || len(online) != 2 {
		t.Errorf("members %s", raw)
	}
	js.disconnect("bob")
	testenv.WaitFor(t, 5*time.Second, func() error {
		if on, _ := e.chats.Online(context.Background(), []string{"bob"}); on["bob"] {
			return errors.New("bob still online")
		}
		return nil
	})
}

// TestServer_UploadOverBodyCap: attachment uploads are capped by the chat
// API (MaxUpload), not by the server-wide body cap (MaxBodyBytes, 1 MiB),
// which still applies to other requests.
func TestServer_UploadOverBodyCap(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	c := e.chat(t, "alice")
	alice := mintToken(t, "alice", time.Hour)
	post := func(path, ctype string, body io.Reader) int {
		t.Helper()
		req, _ := http.NewRequest("POST", e.URL+path, body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "big.txt")
	fw.Write(bytes.Repeat([]byte("x"), 2<<20))
	mw.Close()
	if st := post("/chats/"+c.ID+"/attachments", mw.FormDataContentType(), &body); st != http.StatusCreated {
		t.Errorf("2 MiB upload: %d, want 201", st)
	}
	big := `{"kind":"general","title":"` + strings.Repeat("x", 2<<20) + `"}`
	if st := post("/chats", "application/json", strings.NewReader(big)); st != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB JSON body: %d, want 413", st)
	}
}

// TestServer_ChatAPIUpload goes through the whole gateway (New, its guard's
// body cap and CORS, the mux): an upload over the general 1 MiB body cap
// is accepted up to MaxUpload, refused with 413 past it, and downloaded;
// CORS preflights and cookie writes from the CORS origins pass.
func TestServer_ChatAPIUpload(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, v, nil, Config{
		Files: store.Files{Dir: t.TempDir()}, MaxUpload: 3 << 20, CORSOrigins: []string{"https://app.example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, s)
	c, err := st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: "alice", MemberIDs: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string, headers ...string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}
	upload := func(n int) (string, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "big.txt")
		fw.Write(bytes.Repeat([]byte("x"), n))
		mw.Close()
		return body.String(), "Content-Type: " + mw.FormDataContentType()
	}
	alice := "Authorization: Bearer " + mintToken(t, "alice", time.Hour)
	bob := "Authorization: Bearer " + mintToken(t, "bob", time.Hour)
	path := "/chats/" + c.ID + "/attachments"

	body, ctype := upload(2 << 20)
	code, _, b := do("POST", path, body, ctype, alice)
	var a struct {
		Size int    `json:"size"`
		URL  string `json:"url"`
	}
	if err := json.Unmarshal(b, &a); code != http.StatusCreated || err != nil || a.Size != 2<<20 {
		t.Fatalf("upload: %d %s", code, b)
	}
	if code, _, b := do("GET", a.URL, "", bob); code != http.StatusOK || len(b) != 2<<20 {
		t.Fatalf("download: %d, %d bytes", code, len(b))
	}
	body, ctype = upload(3<<20 + 1)
	code, _, b = do("POST", path, body, ctype, alice)
	want(t, "over MaxUpload", fmt.Sprint(code, " ", strings.TrimSpace(string(b))),
		fmt.Sprintf(`413 {"statusCode":413,"message":"file: The file exceeds %d bytes.","error":"payload_too_large"}`, 3<<20))
	// CORS preflight for the chat API, and the CORS origins trusted with
	// the cookie on writes.
	code, hdr, _ := do("OPTIONS", path, "", "Origin: https://app.example.com", "Access-Control-Request-Method: POST")
	if code != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", code, hdr)
	}
	cookie := "Cookie: " + auth.CookieName + "=" + mintToken(t, "alice", time.Hour)
	create := `{"kind":"general","memberIds":[]}`
	if code, _, b := do("POST", "/chats", create, "Content-Type: application/json", cookie,
		"Origin: https://app.example.com", "Sec-Fetch-Site: cross-site"); code != http.StatusCreated {
		t.Fatalf("cookie write from a CORS origin: %d %s", code, b)
	}
	code, _, b = do("POST", "/chats", create, "Content-Type: application/json", cookie,
		"Origin: https://evil.example", "Sec-Fetch-Site: cross-site")
	want(t, "cross-origin cookie write", fmt.Sprint(code, " ", strings.TrimSpace(string(b))),
		`403 {"statusCode":403,"message":"Cross-origin request refused.","error":"forbidden"}`)
	// Other REST bodies keep the general cap.
	big := `{"kind":"general","memberIds":[],"title":"` + strings.Repeat("x", 2<<20) + `"}`
	if code, _, b := do("POST", "/chats", big, "Content-Type: application/json", alice); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB JSON body: %d %s", code, b)
	}
}
