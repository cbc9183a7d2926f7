package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/internal/testenv"
)

// TestMain_CloseDrainsREST: a REST request in flight when Close starts
// finishes with the store still open (Close waits for the HTTP server
// before releasing the store). The request's body is held back until the
// listener has closed, so the write happens during the drain. The
// request's "Expect: 100-continue" proves its handler runs before Close
// starts (net/http drops a request it reads after Shutdown began).
func TestMain_CloseDrainsREST(t *testing.T) {
	const secret = "drain-secret-0123456789abcdef0123"
	m, logs := runMain(t, "-jwt-secret", secret, "-data-dir", t.TempDir(), "-shutdown-timeout", "20s")
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	tok, err := auth.Mint([]byte(secret), auth.Identity{ID: "alice", Name: "Alice"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"kind":"general","title":"drained","memberIds":["bob"]}`
	head := fmt.Sprintf("POST /chats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", tok, len(body))
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line ending the interim response
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(body[:10])); err != nil {
		t.Fatal(err)
	}

	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	testenv.WaitFor(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", m.Addr())
		if err == nil {
			c.Close()
			return errors.New("still accepting")
		}
		return nil
	})
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response to the request in flight: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("request in flight during Close: %d, want 201 (store closed under it?)", res.StatusCode)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
