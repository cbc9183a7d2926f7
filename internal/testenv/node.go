package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// nodeDir is the npm project holding the pinned socket.io-client.
func nodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

var npmOnce sync.Once
var npmErr error

// Node returns the path of the node binary and the NODE_PATH under which
// scripts resolve "socket.io-client". It runs `npm ci` from the committed
// lockfile once per test process when node_modules is missing (guarded by a
// file lock so parallel test binaries do not race).
func Node(t testing.TB) (node, nodePath string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Unavailable(t, "node", err)
	}
	dir := nodeDir()
	npmOnce.Do(func() { npmErr = ensureModules(dir) })
	if npmErr != nil {
		Unavailable(t, "npm modules", npmErr)
	}
	return node, filepath.Join(dir, "node_modules")
}

func ensureModules(dir string) error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "sockgate-npm.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if modulesInstalled(dir) {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci: %v\n%s", err, out)
	}
	return nil
}

// modulesInstalled reports whether every dependency of dir's package.json
// is in node_modules (a node_modules older than a new dependency is not).
func modulesInstalled(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return false
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if json.Unmarshal(b, &pkg) != nil || len(pkg.Dependencies) == 0 {
		return false
	}
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
			return false
		}
	}
	return true
}

// NodeScript is a running Node.js script: the test reads its stdout lines
// and may write it JSON commands on stdin (Send).
type NodeScript struct {
	cmd   *exec.Cmd
	Lines <-chan string // stdout, one line at a time; closed when the script exits
	done  chan struct{}
	err   error

	mu    sync.Mutex
	stdin io.WriteCloser
}

// Send writes v as one JSON line on the script's stdin.
func (n *NodeScript) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("testenv: node stdin: %w", err)
	}
	return nil
}

// StartNode runs `node script args...` with NODE_PATH set so the script can
// require("socket.io-client"). The script is killed when the test ends;
// stderr goes to the test log.
func StartNode(t testing.TB, script string, args ...string) *NodeScript {
	t.Helper()
	node, nodePath := Node(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	cmd.Stderr = testWriter{t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatalf("testenv: node stdin: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("testenv: node stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("testenv: start node: %v", err)
	}
	lines := make(chan string, 4096)
	ns := &NodeScript{cmd: cmd, Lines: lines, done: make(chan struct{}), stdin: stdin}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		ns.err = cmd.Wait()
		close(ns.done)
	}()
	t.Cleanup(func() {
		cancel()
		go func() {
			for range lines { // unblock the reader if the test stopped reading
			}
		}()
		<-ns.done
	})
	return ns
}

// Wait waits for the script to exit and returns its error (nil on exit 0).
func (n *NodeScript) Wait(ctx context.Context) error {
	select {
	case <-n.done:
		return n.err
	case <-ctx.Done():
		return errors.Join(ctx.Err(), errors.New("testenv: node script still running"))
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", p)
	return len(p), nil
}
