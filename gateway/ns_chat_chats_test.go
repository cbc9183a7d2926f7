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
	"github.com/sockgate/sockgate/gateway/internal/wire"
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
		if pe != (presenceEvent{UserID: "bob", Status: statusOnline}) {
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
				{"Empty", map[string]any{"chatId": c.ID, "content": "  "}, CodeInvalidPayload, "content: Must not be empty."},
				{"TooLong", map[string]any{"chatId": c.ID, "content": strings.Repeat("é", MaxChatContent+1)}, CodeInvalidPayload, "content: String must contain at most 4000 character(s)"},
				{"NoChatID", map[string]any{"content": "x"}, CodeInvalidPayload, "chatId: Required"},
				{"UnknownChat", map[string]any{"chatId": "nope", "content": "x"}, CodeNotFound, ""},
				{"UnknownAttachment", map[string]any{"chatId": c.ID, "content": "x", "attachments": []string{"nope"}}, CodeInvalidPayload, errBadAttachment.Message},
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
			js.emit("bob", "chat message", map[string]any{"chatId": c.ID, "content": strings.Repeat("x", MaxChatContent)}).arg(t, 0, &ack)
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
			ackFailed(t, js.emit("alice", "typing", map[string]any{"chatId": "other", "isTyping": true}), CodeForbidden)
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
			ackFailed(t, js.emit("bob", "read", map[string]any{"chatId": c.ID, "messageId": "nope"}), CodeNotFound)
		})

		t.Run("NonMemberDisconnected", func(t *testing.T) {
			js.mustConnect("carol", "/chat", authOpts(mintToken(t, "carol", time.Hour)))
			ackFailed(t, js.emit("carol", "join", map[string]any{"chatId": c.ID}), CodeForbidden)
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
			if pe != (presenceEvent{UserID: "bob", Status: statusOffline}) {
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
			ackFailed(t, js.emit("alice", "chat message", map[string]any{"chatId": c2.ID, "content": "late"}), CodeConflict)
		})

		// Last: the database goes away.
		t.Run("StoreDown", func(t *testing.T) {
			js.drain("bob")
			if err := e.st.Close(); err != nil {
				t.Fatal(err)
			}
			r := js.emit("alice", "chat message", map[string]any{"chatId": c.ID, "content": "lost", "clientMsgId": "m-down"})
			ackFailed(t, r, CodeUnavailable)
			js.absent("bob", "message", 300)
		})
	})
}

// TestChats_RateLimit: "/chat:chat message" allows 10 per second per user.
func TestChats_RateLimit(t *testing.T) {
	rules := map[string]ratelimit.Rule{"/chat:chat message": chatRateRules()["/chat:chat message"]}
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
			ackFailed(t, r, CodeRateLimited)
			limited++
		}
	}
	// 12 sends may straddle a window boundary; at least one is refused.
	if limited == 0 {
		t.Errorf("no send was rate limited")
	}
}

func TestChatSendReq_Validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  chatSendReq
		want string // "" = valid
	}{
		{"OK", chatSendReq{ChatID: "c", Content: "hi"}, ""},
		{"AttachmentOnly", chatSendReq{ChatID: "c", Attachments: []string{"a"}}, ""},
		{"Max", chatSendReq{ChatID: "c", Content: strings.Repeat("x", MaxChatContent)}, ""},
		{"MaxAstral", chatSendReq{ChatID: "c", Content: strings.Repeat("😀", MaxChatContent/2)}, ""},
		{"OverAstral", chatSendReq{ChatID: "c", Content: strings.Repeat("😀", MaxChatContent/2+1)}, "content: String must contain at most 4000 character(s)"},
		{"Empty", chatSendReq{ChatID: "c"}, "content: Must not be empty."},
		{"Blank", chatSendReq{ChatID: "c", Content: "\n \t"}, "content: Must not be empty."},
		{"NoChat", chatSendReq{Content: "x"}, "chatId: String must contain at least 1 character(s)"},
		{"LongChat", chatSendReq{ChatID: strings.Repeat("c", 65), Content: "x"}, "chatId: String must contain at most 64 character(s)"},
		{"TooManyAttachments", chatSendReq{ChatID: "c", Attachments: make([]string, 11)}, "attachments: Array must contain at most 10 element(s)"},
		{"EmptyAttachmentID", chatSendReq{ChatID: "c", Content: "x", Attachments: []string{""}}, "attachments.0: String must contain at least 1 character(s)"},
		{"ClientMsgIDControl", chatSendReq{ChatID: "c", Content: "x", ClientMsgID: "a\nb"}, "clientMsgId: Must be at most 64 characters without control characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			got := ""
			if err != nil {
				var we *wire.Error
				if !errors.As(err, &we) {
					t.Fatalf("error %T is not a *wire.Error", err)
				}
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Errorf("Validate = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStoreErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("x: %w", store.ErrUnavailable), CodeUnavailable},
		{fmt.Errorf("x: %w", store.ErrForbidden), CodeForbidden},
		{fmt.Errorf("x: %w", store.ErrArchived), CodeConflict},
		{fmt.Errorf("x: %w", store.ErrNotFound), CodeNotFound},
		{fmt.Errorf("x: %w", store.ErrConflict), CodeConflict},
		{fmt.Errorf("x: %w", store.ErrInvalid), CodeInvalidPayload},
		{errors.New("disk on fire"), CodeInternal},
	} {
		e, _ := replyOf(storeErr(tc.err))
		if e.Code != tc.code {
			t.Errorf("%v → %q, want %q", tc.err, e.Code, tc.code)
		}
		if !errors.Is(storeErr(tc.err), tc.err) {
			t.Errorf("%v: detail lost", tc.err)
		}
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
	var ut wire.UserTyping
	js.expect("b", "userTyping").arg(t, 0, &ut)
	if ut != (wire.UserTyping{Username: "ann", IsTyping: true}) {
		t.Errorf("userTyping = %+v", ut)
	}
	// With a chatId an anonymous socket is refused.
	ackFailed(t, js.emit("b", "typing", map[string]any{"chatId": "c", "isTyping": true}), CodeUnauthorized)
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
		ackFailed(t, js.emit("a", ev, map[string]any{"chatId": "c"}), CodeUnavailable)
	}
	ackFailed(t, js.emit("a", "typing", map[string]any{"chatId": "c", "isTyping": true}), CodeUnavailable)
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
