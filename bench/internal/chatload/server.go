package chatload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Options start a sockgate process.
type Options struct {
	// Bin is the sockgate binary; Build makes one.
	Bin string
	// DataDir is its -data-dir (SQLite store and attachments by default).
	DataDir string
	// DB is its -db ("" = SQLite in DataDir).
	DB string
	// RateLimits is its -rate-limits (turn off the limits of measured paths).
	RateLimits string
	// Args are more flags.
	Args []string
	// CPU, when set, pins the server to these CPUs (taskset -c), so that
	// the load generator (pinned elsewhere by its caller) does not take
	// the server's CPU.
	CPU string
}

// Server is a sockgate process under test.
type Server struct {
	Addr   string
	Secret string // its HS256 key (Token signs with it)
	cmd    *exec.Cmd
	log    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Build compiles sockgate into dir, in the product's module (bench's
// go.sum does not cover the store's drivers); run from bench/.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "sockgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sockgate")
	build.Dir, build.Stderr = "..", os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build sockgate: %w", err)
	}
	return bin, nil
}

// Start starts sockgate on a free loopback port with a random JWT secret
// and waits until /readyz answers 200.
func Start(ctx context.Context, o Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	s := &Server{Addr: addr, Secret: hex.EncodeToString(key), log: &lockedBuffer{}}
	args := []string{"-addr", addr, "-jwt-secret", s.Secret, "-data-dir", o.DataDir, "-log-level", "warn"}
	if o.RateLimits != "" {
		args = append(args, "-rate-limits", o.RateLimits)
	}
	if o.DB != "" {
		args = append(args, "-db", o.DB)
	}
	argv := append([]string{o.Bin}, append(args, o.Args...)...)
	if o.CPU != "" {
		argv = append([]string{"taskset", "-c", o.CPU}, argv...)
	}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			return nil, errors.Join(errors.New("sockgate not ready: "+s.Tail()), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits (SIGKILL after 10 s).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Pid is the process id (for /proc sampling).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Tail returns the end of the server's log, quoted.
func (s *Server) Tail() string {
	l := s.log.String()
	if len(l) > 2000 {
		l = l[len(l)-2000:]
	}
	return fmt.Sprintf("%q", l)
}
