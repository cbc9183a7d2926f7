package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// NodeProcess is a long-running Node.js script driven over stdin: the test
// writes one JSON command per line with Send and reads the script's stdout
// lines from Lines.
type NodeProcess struct {
	Lines <-chan string // stdout, one line at a time; closed when the script exits

	mu    sync.Mutex
	stdin io.WriteCloser
	done  chan struct{}
}

var serverModulesOnce sync.Once
var serverModulesErr error

// StartNodeProcess runs `node script args...` like StartNode (NODE_PATH set,
// stderr to the test log, killed when the test ends) with a stdin pipe. It
// also makes sure the server-side modules of the lockfile (socket.io,
// @socket.io/redis-adapter, @socket.io/redis-emitter, redis) are installed,
// running `npm ci` when a node_modules predates them.
func StartNodeProcess(t testing.TB, script string, args ...string) *NodeProcess {
	t.Helper()
	node, nodePath := Node(t)
	serverModulesOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(nodePath, "@socket.io", "redis-emitter", "package.json")); err != nil {
			_ = os.Remove(filepath.Join(nodePath, "socket.io-client", "package.json")) // forces ensureModules' npm ci
			serverModulesErr = ensureModules(nodeDir())
		}
	})
	if serverModulesErr != nil {
		Unavailable(t, "npm modules", serverModulesErr)
	}
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
	p := &NodeProcess{Lines: lines, stdin: stdin, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		go func() {
			for range lines { // unblock the reader if the test stopped reading
			}
		}()
		<-p.done
	})
	return p
}

// Send writes v as one JSON line on the script's stdin.
func (p *NodeProcess) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("testenv: node stdin: %w", err)
	}
	return nil
}
