package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/chats"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/internal/testenv"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// chatTestSecret signs the tests' HS256 tokens.
var chatTestSecret = []byte("sockgate-test-secret-0123456789abcdef")

// chatEnv is a gateway with authentication and stored chats on httptest.
type chatEnv struct {
	srv   *Server
	chats *chats.Chats
	st    *store.Store
	dsn   string // the store's database
	URL   string
}

// chatEnvConfig tunes newChatEnv.
type chatEnvConfig struct {
	dialect string // store dialect; "" means SQLite
	modes   map[string]AuthMode
	rules   map[string]ratelimit.Rule // nil: none
	auth    auth.Config               // the verifier's; a zero Secret means chatTestSecret
	log     io.Writer                 // the gateway's text log at Info; nil: none
	gw      func(*Config)             // adjusts the gateway's Config; nil: none
	timeout time.Duration             // Config.EventTimeout; 0: the default
}

// newChatEnv starts a gateway whose "/chat" has stored chats on a fresh
// database, stopped when the test ends.
func newChatEnv(t *testing.T, ec chatEnvConfig) *chatEnv {
	t.Helper()
	if ec.dialect == "" {
		ec.dialect = store.DialectSQLite
	}
	dsn := storetest.DSN(t, ec.dialect)
	st := storetest.OpenConfig(t, store.Config{DSN: dsn})
	if ec.auth.Secret == nil {
		ec.auth.Secret = chatTestSecret
	}
	v, err := auth.NewVerifier(ec.auth)
	if err != nil {
		t.Fatal(err)
	}
	var lim *ratelimit.Limiter
	if ec.rules != nil {
		if lim, err = ratelimit.New(ratelimit.Config{Rules: ec.rules}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Auth: ec.modes, Files: store.Files{Dir: t.TempDir()}, EventTimeout: ec.timeout}
	if ec.log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(ec.log, nil))
	}
	if ec.gw != nil {
		ec.gw(&cfg)
	}
	s, err := New(st, v, lim, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if lim != nil {
		t.Cleanup(func() { _ = lim.Close() }) // after serve's cleanup
	}
	return &chatEnv{srv: s, chats: s.chats, st: st, dsn: dsn, URL: serve(t, s)}
}

// mintToken mints a token for user id (name "<id> Name", username id, email
// id@example.com) valid for ttl.
func mintToken(t *testing.T, id string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Mint(chatTestSecret, auth.Identity{ID: id, Name: id + " Name", Username: id, Email: id + "@example.com"}, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// chat creates a chat owned by owner with members.
func (e *chatEnv) chat(t *testing.T, owner string, members ...string) store.Chat {
	t.Helper()
	c, err := e.st.CreateChat(context.Background(), store.NewChat{Kind: store.KindGeneral, Title: "t", CreatorID: owner, MemberIDs: members})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jsClient drives testdata/chat_client.js: real socket.io-client sockets,
// one command at a time.
type jsClient struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
	mu    sync.Mutex
	seq   int
}

// jsReply is one answer of the driver.
type jsReply struct {
	Seq     int               `json:"seq"`
	C       string            `json:"c"`
	Op      string            `json:"op"`
	ID      string            `json:"id"`
	Args    []json.RawMessage `json:"args"`
	Message string            `json:"message"`
	Data    json.RawMessage   `json:"data"`
	Events  []jsEvent         `json:"events"`

	line string // the whole answer, for drivers with other fields
}

type jsEvent struct {
	Event string            `json:"event"`
	Args  []json.RawMessage `json:"args"`
}

// arg decodes argument i into v.
func (r jsReply) arg(t *testing.T, i int, v any) {
	t.Helper()
	if i >= len(r.Args) {
		t.Fatalf("%s %s: no argument %d: %+v", r.C, r.Op, i, r)
	}
	if err := json.Unmarshal(r.Args[i], v); err != nil {
		t.Fatalf("%s %s: argument %d %s: %v", r.C, r.Op, i, r.Args[i], err)
	}
}

// startJS starts the driver against url; it exits when the test ends.
func startJS(t *testing.T, url string) *jsClient {
	t.Helper()
	return startScript(t, "chat_client.js", url)
}

// startScript starts testdata/<name>, a driver speaking chat_client.js's
// protocol (one seq-numbered JSON answer per command), against url.
func startScript(t *testing.T, name, url string) *jsClient {
	t.Helper()
	node, nodePath := testenv.Node(t)
	script, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script, url)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	lines := make(chan string, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
		cancel()
		go func() {
			for range lines {
			}
		}()
		<-done
		_ = cmd.Wait()
		if s := stderr.String(); s != "" {
			t.Logf("node stderr: %s", s)
		}
	})
	return &jsClient{t: t, in: in, lines: lines}
}

// do sends one command and returns its answer.
func (j *jsClient) do(cmd map[string]any) jsReply {
	j.t.Helper()
	j.mu.Lock()
	j.seq++
	seq := j.seq
	j.mu.Unlock()
	cmd["seq"] = seq
	b, err := json.Marshal(cmd)
	if err != nil {
		j.t.Fatal(err)
	}
	if _, err := j.in.Write(append(b, '\n')); err != nil {
		j.t.Fatalf("driver stdin: %v", err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-j.lines:
			if !ok {
				j.t.Fatalf("driver exited while waiting for %s", b)
			}
			var r jsReply
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				j.t.Fatalf("driver line %q: %v", line, err)
			}
			r.line = line
			if r.Op == "error" {
				j.t.Fatalf("driver error on %s: %s", b, r.Message)
			}
			if r.Seq != seq {
				j.t.Fatalf("driver answered %d while waiting for %d: %s", r.Seq, seq, line)
			}
			return r
		case <-deadline:
			j.t.Fatalf("driver did not answer %s", b)
		}
	}
}

// connect connects client c to ns with socket.io-client options opts.
func (j *jsClient) connect(c, ns string, opts map[string]any) jsReply {
	j.t.Helper()
	return j.do(map[string]any{"op": "connect", "c": c, "ns": ns, "opts": opts})
}

// mustConnect connects and fails the test on connect_error.
func (j *jsClient) mustConnect(c, ns string, opts map[string]any) jsReply {
	j.t.Helper()
	r := j.connect(c, ns, opts)
	if r.Op != "connect" {
		j.t.Fatalf("%s: %s %s %s", c, r.Op, r.Message, r.Data)
	}
	return r
}

// emit emits event with one argument and waits for the ack.
func (j *jsClient) emit(c, event string, arg any) jsReply {
	j.t.Helper()
	r := j.do(map[string]any{"op": "emit", "c": c, "event": event, "args": []any{arg}, "ack": true})
	if r.Op != "ack" {
		j.t.Fatalf("%s %s: %s", c, event, r.Op)
	}
	return r
}

// emitAsync emits event with one argument and returns at once; the ack
// arrives in c's inbox as an "ack" event [tag, ack...].
func (j *jsClient) emitAsync(c, event, tag string, arg any) {
	j.t.Helper()
	if r := j.do(map[string]any{"op": "emit", "c": c, "event": event, "args": []any{arg}, "ack": true, "async": true, "tag": tag}); r.Op != "sent" {
		j.t.Fatalf("%s %s: %s", c, event, r.Op)
	}
}

// expect waits (up to 5s) for the next event named event of c.
func (j *jsClient) expect(c, event string) jsReply {
	j.t.Helper()
	r := j.do(map[string]any{"op": "expect", "c": c, "event": event})
	if r.Op != "event" {
		j.t.Fatalf("%s: no %q event", c, event)
	}
	return r
}

// absent fails if c received event within ms milliseconds (and not consumed).
func (j *jsClient) absent(c, event string, ms int) {
	j.t.Helper()
	if r := j.do(map[string]any{"op": "absent", "c": c, "event": event, "ms": ms}); r.Op != "absent" {
		j.t.Fatalf("%s: unexpected %q event: %s", c, event, r.Args)
	}
}

// drain returns and clears c's inbox.
func (j *jsClient) drain(c string) []jsEvent {
	j.t.Helper()
	return j.do(map[string]any{"op": "drain", "c": c}).Events
}

func (j *jsClient) disconnect(c string) {
	j.t.Helper()
	j.do(map[string]any{"op": "disconnect", "c": c})
}

// exception is the "exception" event as the tests decode it.
type exception struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// ackFailure is an object ack of a failed event.
type ackFailure struct {
	Success bool        `json:"success"`
	Error   event.Error `json:"error"`
}

// ackFailed decodes a failed ack and checks its code.
func ackFailed(t *testing.T, r jsReply, code string) event.Error {
	t.Helper()
	var f ackFailure
	r.arg(t, 0, &f)
	if f.Success || f.Error.Code != code {
		t.Fatalf("ack %s: want failure with code %q", r.Args[0], code)
	}
	return f.Error
}
