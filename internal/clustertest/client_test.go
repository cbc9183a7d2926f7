package clustertest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testenv"
)

// plan is the input of testdata/client.js.
type plan struct {
	Clients map[string]clientOpts `json:"clients"`
	Steps   []step                `json:"steps"`
}

// clientOpts says how one socket.io-client connects.
type clientOpts struct {
	LocalAddress string   `json:"localAddress"`         // source address (picks the instance)
	Transports   []string `json:"transports,omitempty"` // default: polling, then upgrade
	Origin       string   `json:"origin,omitempty"`     // Origin of the WebSocket request, as a browser sends
}

// step is one instruction of testdata/client.js.
type step struct {
	Op    string `json:"op"`
	C     string `json:"c"`
	NS    string `json:"ns,omitempty"`
	Event string `json:"event,omitempty"`
	Args  []any  `json:"args,omitempty"`
	Path  string `json:"path,omitempty"`
}

// reply is one output line of testdata/client.js.
type reply struct {
	C         string            `json:"c"`
	Op        string            `json:"op"`
	ID        string            `json:"id"`
	SID       string            `json:"sid"`
	Transport string            `json:"transport"`
	Message   string            `json:"message"`
	Args      []json.RawMessage `json:"args"`
	Status    int               `json:"status"`
	Body      json.RawMessage   `json:"body"`
	Raw       string            `json:"-"`
}

// clients is a running testdata/client.js.
type clients struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

// startClients runs the plan against base (the load balancer's URL). The
// script is killed, by process group, when the test ends.
func startClients(t *testing.T, base string, p plan) *clients {
	t.Helper()
	node, nodePath := testenv.Node(t)
	script, err := filepath.Abs(filepath.Join("testdata", "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, base, string(js))
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = logWriter{t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	c := &clients{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 256), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		go func() {
			for range c.lines { // unblock the reader if the test stopped reading
			}
		}()
		<-c.done
	})
	return c
}

// next returns the script's next output line, failing the test if none
// comes within d.
func (c *clients) next(d time.Duration) reply {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatal("client.js exited early")
		}
		var r reply
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			c.t.Fatalf("client.js printed %q: %v", l, err)
		}
		r.Raw = l
		return r
	case <-time.After(d):
		c.t.Fatalf("client.js printed nothing for %v", d)
		return reply{}
	}
}

// close closes the script's stdin: it disconnects its sockets and exits.
func (c *clients) close() {
	c.t.Helper()
	_ = c.stdin.Close()
	if r := c.next(10 * time.Second); r.Op != "closed" {
		c.t.Fatalf("client.js: want closed, got %s", r.Raw)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("client.js did not exit")
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", p)
	return len(p), nil
}
