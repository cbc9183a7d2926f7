package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/tutorial"
	"github.com/sockgate/sockgate/internal/testenv"
)

// chromium returns Debian's Chromium (SOCKGATE_CHROMIUM overrides), or
// reports it unavailable (a failure under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SOCKGATE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		testenv.Unavailable(t, "chromium", err)
	}
	return path
}

// adminUIDir is the UI bundle of the npm package @socket.io/admin-ui.
func adminUIDir(t *testing.T) string {
	t.Helper()
	_, nodePath := testenv.Node(t)
	dir := filepath.Join(nodePath, "@socket.io", "admin-ui", "ui", "dist")
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Fatalf("admin UI bundle: %v", err)
	}
	return dir
}

// TestAdmin_UIInChromium is the acceptance test of the Admin UI support:
// the real @socket.io/admin-ui bundle from npm, served on another origin,
// logs in to sockgate's /admin in Chromium, lists a socket and its room,
// and its disconnect button disconnects that socket. The screenshots go to
// SOCKGATE_ADMIN_SCREENSHOTS (docs/screenshots for the committed ones),
// else to a temporary directory.
func TestAdmin_UIInChromium(t *testing.T) {
	browser := chromium(t)
	ui := httptest.NewServer(http.FileServer(http.Dir(adminUIDir(t))))
	t.Cleanup(ui.Close)
	cfg := Config{Admin: adminConfig(t), CORSOrigins: []string{ui.URL}, CORSCredentials: true}
	ts := newTestServer(t, unlimited(), cfg)

	c := startAdminClient(t, ts.URL)
	user := c.connect("u", "/", nil)
	c.send(map[string]any{"op": "emit", "c": "u", "event": tutorial.EventJoinRoom, "args": []any{tutorial.JoinRoom{
		User: tutorial.User{UserID: "u1", UserName: "alice", SocketID: user}, RoomName: "lobby", EventName: tutorial.EventJoinRoom,
	}}, "ack": true})
	if l := c.await("join_room ack", func(l adminLine) bool { return l.C == "u" && l.Op == "ack" }); len(l.Args) == 0 || compact(l.Args[0]) != "true" {
		t.Fatalf("join_room: %+v", l)
	}

	shots := os.Getenv("SOCKGATE_ADMIN_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	script, err := filepath.Abs(filepath.Join("testdata", "admin_ui.js"))
	if err != nil {
		t.Fatal(err)
	}
	b := testenv.StartNode(t, script, ui.URL, ts.URL, "admin", "secret", user, "lobby", shots, browser)
	for _, step := range []string{"connected", "listed socket", "listed room", "clicked"} {
		l := browserStep(t, b)
		if got := strings.TrimSpace(l.Op + " " + l.What); got != step {
			t.Fatalf("browser: %q (%s), want %q", got, l.Text+l.Message, step)
		}
		t.Logf("browser: %s %q", step, l.Text)
	}
	if l := c.await("u disconnected", func(l adminLine) bool { return l.C == "u" && l.Op == "disconnect" }); l.Reason != "io server disconnect" {
		t.Errorf("the UI's disconnect: the socket saw %q, want io server disconnect", l.Reason)
	}
	for _, step := range []string{"gone", "done"} {
		if l := browserStep(t, b); l.Op != step {
			t.Fatalf("browser: %q (%s), want %q", l.Op, l.Message, step)
		}
	}
}

type browserLine struct {
	Op, What, Text, Message string
}

func browserStep(t *testing.T, b *testenv.NodeScript) browserLine {
	t.Helper()
	select {
	case s, ok := <-b.Lines:
		if !ok {
			t.Fatal("browser script exited")
		}
		var l browserLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("browser line %q: %v", s, err)
		}
		if l.Op == "error" {
			t.Fatalf("browser: %s", l.Message)
		}
		return l
	case <-time.After(60 * time.Second):
		t.Fatal(errors.New("browser: no step within 60s"))
		return browserLine{}
	}
}
