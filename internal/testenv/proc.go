package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a server process owned by one test: nginx, redis-server or
// sockgate, started by StartProcess. It runs in a process group of its own
// and dies with the test process (SIGKILL on the parent's death), so neither
// a failed test nor a killed test binary leaves it behind. Its stdout and
// stderr go to a log file in the test's temporary directory; the log's tail
// is printed when the test fails.
type Process struct {
	Name    string // for messages: "redis-server", "sockgate-1", ...
	LogPath string // stdout and stderr of the process

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, valid after done

	mu       sync.Mutex
	stopping bool // Stop or Kill was called: an exit is expected
}

// StopGrace is how long Stop waits after SIGTERM before it kills the process
// group.
const StopGrace = 10 * time.Second

// StartProcess starts cmd (path and args set; Env, Dir, SysProcAttr optional) as a
// process owned by t: it is stopped by Stop at cleanup, and an exit before
// that fails the test (a crashed server must not go unnoticed). The log is
// named after name in dir.
func StartProcess(t testing.TB, name, dir string, cmd *exec.Cmd) *Process {
	t.Helper()
	p, err := startProcess(name, dir, cmd)
	if err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	p.ownedBy(t)
	return p
}

// ownedBy registers the cleanup that stops p when t ends.
func (p *Process) ownedBy(t testing.TB) {
	t.Cleanup(func() {
		unexpected := p.exitedUnexpectedly()
		p.Stop()
		if unexpected {
			t.Errorf("testenv: %s exited before the test ended (%v)", p.Name, p.err)
		}
		if t.Failed() {
			t.Logf("testenv: last lines of %s (%s):\n%s", p.Name, p.LogPath, p.Tail(40))
		}
	})
}

// startProcess starts cmd without registering any cleanup: the caller owns
// the process (used when a start may be retried on another port).
func startProcess(name, dir string, cmd *exec.Cmd) (*Process, error) {
	log, err := os.CreateTemp(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+"-*.log")
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil { // the caller's (a Credential, say) is kept
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Pdeathsig = true, syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Name: name, LogPath: log.Name(), cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err returns how the process exited (nil: status 0), once Exited is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("testenv: " + p.Name + " still running")
	}
}

// Signal sends sig to the process group (SIGSTOP and SIGCONT pause and
// resume a server, for fault tests).
func (p *Process) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Pid(), sig)
}

// Stop ends the process: SIGTERM to its group, then SIGKILL after StopGrace.
// It returns once the process has exited. Idempotent.
func (p *Process) Stop() {
	p.expectExit()
	select {
	case <-p.done:
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL) // children it may have left
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopGrace):
	}
	p.Kill()
}

// Kill ends the process group with SIGKILL (an instance that dies) and
// waits for the process to exit.
func (p *Process) Kill() {
	p.expectExit()
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

func (p *Process) expectExit() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
}

func (p *Process) exitedUnexpectedly() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return !p.stopping
	default:
		return false
	}
}

// Log returns the whole log of the process so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines of the log.
func (p *Process) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls ready until it returns nil, the process exits, or d
// passes; it returns the last error.
func (p *Process) waitReady(d time.Duration, ready func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready: %v\n%s", p.Name, p.err, err, p.Tail(20))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v\n%s", p.Name, d, err, p.Tail(20))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it: servers that
// cannot listen on port 0 are started by a helper that retries on another
// port (startOnFreePort).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startOnFreePort starts a server that must be told its port: start builds
// the command for port, ready reports when p serves on it. A start that fails
// (most likely: the port was taken meanwhile) is retried on another port, up
// to three times. The process is owned by t as with StartProcess.
func startOnFreePort(t testing.TB, name, dir string, start func(port int) *exec.Cmd, ready func(p *Process, port int) error) (*Process, int) {
	t.Helper()
	var errs []error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		p, err := startProcess(name, dir, start(port))
		if err != nil {
			t.Fatalf("testenv: start %s: %v", name, err)
		}
		if err := p.waitReady(15*time.Second, func() error { return ready(p, port) }); err != nil {
			p.Kill()
			errs = append(errs, err)
			continue
		}
		p.ownedBy(t)
		return p, port
	}
	t.Fatalf("testenv: %s did not start: %v", name, errors.Join(errs...))
	return nil, 0
}

// lookBinary finds a server binary on PATH or in the sbin directories
// (Debian installs nginx in /usr/sbin, which a user's PATH may lack). A
// missing binary makes the test Unavailable, naming the Debian package.
func lookBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	Unavailable(t, name, fmt.Errorf("not found on PATH nor in /usr/sbin (Debian package %s; `make services` installs it)", pkg))
	return ""
}

// raceReport returns the data race reports in a log, if any.
func raceReport(log string) string {
	i := strings.Index(log, "WARNING: DATA RACE")
	if i < 0 {
		return ""
	}
	return log[i:min(len(log), i+8000)]
}

// lines splits b into non-empty lines.
func lines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}
