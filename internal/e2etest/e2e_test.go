package e2etest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/internal/testenv"
)

// scriptTimeout bounds one browser script; the suite's budget is minutes.
const scriptTimeout = 2 * time.Minute

// browser is what a browser test needs on this machine.
type browser struct {
	node, chromium string
	web            string // examples/web
	dist           string // its vite build, served with -static
	artifacts      string // screenshots
}

// needBrowser finds Chromium, node, examples/web's node_modules and dist.
func needBrowser(t *testing.T) browser {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b := browser{chromium: os.Getenv("CHROMIUM"), web: filepath.Join(root, "examples", "web")}
	b.dist = filepath.Join(b.web, "dist")
	if b.chromium == "" {
		b.chromium = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(b.chromium); err != nil {
		testenv.Unavailable(t, "chromium (.ci/services.sh installs Debian's chromium)", err)
	}
	if b.node, err = exec.LookPath("node"); err != nil {
		testenv.Unavailable(t, "node", err)
	}
	for what, path := range map[string]string{
		"playwright-core in examples/web/node_modules (make e2e runs npm ci)": filepath.Join(b.web, "node_modules", "playwright-core", "package.json"),
		"examples/web/dist/index.html (make e2e builds it)":                   filepath.Join(b.dist, "index.html"),
		"examples/web/dist/tutorial.html (make e2e builds it)":                filepath.Join(b.dist, "tutorial.html"),
	} {
		if _, err := os.Stat(path); err != nil {
			testenv.Unavailable(t, what, err)
		}
	}
	b.artifacts = os.Getenv("SOCKGATE_E2E_ARTIFACTS")
	if b.artifacts == "" {
		b.artifacts = filepath.Join(b.web, "e2e", "artifacts")
	} else if b.artifacts, err = filepath.Abs(b.artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// run runs examples/web/e2e/<script> with node (cwd examples/web, where
// playwright-core resolves) and env, logging its output line by line; a
// non-zero exit fails the test. The script and the browsers it starts are
// one process group, killed by its id if the script outlives
// scriptTimeout.
func (b browser) run(t *testing.T, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.node, filepath.Join("e2e", script))
	cmd.Dir = b.web
	cmd.Env = append(os.Environ(), append(env, "CHROMIUM="+b.chromium, "ARTIFACTS="+b.artifacts)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Logf("%s: %s", script, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s failed (%v); screenshots in %s", script, err, b.artifacts)
	}
}

// e2eSecret signs the test's tokens.
const e2eSecret = "e2e-test-secret-0123456789abcdefghij"

func token(t *testing.T, id, name string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(e2eSecret), auth.Identity{ID: id, Name: name}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWeb_Chat(t *testing.T) {
	b := needBrowser(t)
	s := testenv.StartSockgate(t, testenv.SockgateConfig{
		JWTSecret: e2eSecret,
		Args: []string{
			"-static", b.dist,
			// A browser that goes offline is noticed within 3 s by both ends.
			"-ping-interval", "1s", "-ping-timeout", "2s",
			// The history step seeds 75 messages at once.
			"-rate-limits", "/chat:chat message=0",
		},
	})
	alice, bob := token(t, "alice", "Alice"), token(t, "bob", "Bob")
	b.run(t, "chat.mjs", "BASE_URL="+s.URL, "TOKEN_ALICE="+alice, "TOKEN_BOB="+bob)

	// What the browsers did, as the server stored it: Bob's client marked
	// everything it showed him as read (the last marks may still be in
	// flight when the script ends).
	testenv.WaitFor(t, 10*time.Second, func() error { return allRead(s.URL, alice, bob) })
}

// chatsPage is the part of GET /chats the test reads.
type chatsPage struct {
	Data []struct {
		ID, Title     string
		LastMessageID string `json:"lastMessageId"`
		UnreadCount   *int64 `json:"unreadCount"`
	} `json:"data"`
}

// allRead checks that Bob has two chats with nothing unread, and that his
// read mark in each, as Alice sees it in the members list, is the chat's
// last message.
func allRead(base, alice, bob string) error {
	var page chatsPage
	if err := getJSON(base+"/chats", bob, &page); err != nil {
		return err
	}
	if len(page.Data) != 2 {
		return fmt.Errorf("Bob's chats %+v, want 2", page.Data)
	}
	for _, c := range page.Data {
		if c.UnreadCount == nil || *c.UnreadCount != 0 {
			return fmt.Errorf("Bob's chat %q: unreadCount %v, want 0 (his browser read it all)", c.Title, c.UnreadCount)
		}
		var members []struct {
			UserID            string `json:"userId"`
			LastReadMessageID string `json:"lastReadMessageId"`
		}
		if err := getJSON(base+"/chats/"+c.ID+"/members", alice, &members); err != nil {
			return err
		}
		for _, m := range members {
			if m.UserID == "bob" && m.LastReadMessageID != c.LastMessageID {
				return fmt.Errorf("chat %q: Bob's read mark %q, want the last message %q", c.Title, m.LastReadMessageID, c.LastMessageID)
			}
		}
	}
	return nil
}

func TestWeb_TutorialFlow(t *testing.T) {
	b := needBrowser(t)
	// The tutorial chat is anonymous: no JWT key, no store.
	s := testenv.StartSockgate(t, testenv.SockgateConfig{Args: []string{"-static", b.dist}})
	b.run(t, "tutorial.mjs", "BASE_URL="+s.URL)
}

// getJSON GETs url with a bearer token and decodes a 200 reply into v.
func getJSON(url, token string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s %v", url, res.Status, strings.TrimSpace(string(body)), err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
