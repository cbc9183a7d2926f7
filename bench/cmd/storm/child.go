package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

// The stormers run in a child process (this binary with -stormer-child),
// as they would on other machines: in the senders' process, 500 clients
// dialing and decoding 24,500 replayed messages at once delayed the
// senders' own goroutines, and the ack latencies measured that delay too
// (the first 100 ms of a storm had p99s of 50-110 ms while the server was
// not yet busy). Both processes still share the machine's 2 cores with
// the server: what the child costs the server is measured, not hidden.
//
// Protocol on the child's stdin and stdout, one line each: the parent
// writes the job (JSON) then, when the storm begins, "go"; the child
// answers "ready" once it has the job, then "c" when a stormer has
// connected, "r" when one is told `recovered`, and last "done N" (N
// messages replayed) or "fail REASON".

// job is what the child needs to run the storm.
type job struct {
	Addr    string   `json:"addr"`
	History int      `json:"history"`
	Tokens  []string `json:"tokens"`
	Groups  []group  `json:"groups"`
	// Delay is socket.io-client's reconnectionDelay: each stormer
	// reconnects after Delay × [0.5, 1.5) (its randomizationFactor 0.5,
	// the first attempt's backoff); 0: every stormer at the same instant.
	Delay time.Duration `json:"delay"`
}

// stormChild is the running child process.
type stormChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startChild starts the child and hands it the job; it returns once the
// child is ready.
func startChild(j job) (*stormChild, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-stormer-child")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &stormChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	b, _ := json.Marshal(j)
	if _, err := fmt.Fprintf(stdin, "%s\n", b); err != nil {
		c.kill()
		return nil, err
	}
	if !c.out.Scan() || c.out.Text() != "ready" {
		c.kill()
		return nil, fmt.Errorf("stormer child not ready: %q %v", c.out.Text(), c.out.Err())
	}
	return c, nil
}

// Pid is the child's process id (for /proc sampling).
func (c *stormChild) Pid() int { return c.cmd.Process.Pid }

// run starts the storm and follows it to its end, recording connects and
// recoveries in tl; it returns the messages replayed. The stormers stay
// connected, as reconnected clients do, until kill.
func (c *stormChild) run(tl *timeline) (int64, error) {
	if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
		return 0, err
	}
	for c.out.Scan() {
		line := c.out.Text()
		switch {
		case line == "c":
			tl.connect()
		case line == "r":
			tl.recover()
		case strings.HasPrefix(line, "done "):
			return strconv.ParseInt(strings.TrimPrefix(line, "done "), 10, 64)
		case strings.HasPrefix(line, "fail "):
			return 0, errors.New(strings.TrimPrefix(line, "fail "))
		}
	}
	return 0, fmt.Errorf("stormer child ended without a result: %v", c.out.Err())
}

// kill ends the child and with it the stormers' connections.
func (c *stormChild) kill() {
	_ = c.stdin.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// childMain is the child: it reads the job, says ready, waits for "go",
// runs every stormer at once and reports on stdout; its connections stay
// open until the parent kills it.
func childMain() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	var j job
	if !in.Scan() || json.Unmarshal(in.Bytes(), &j) != nil {
		fmt.Println("fail bad job")
		os.Exit(1)
	}
	fmt.Println("ready")
	if !in.Scan() || in.Text() != "go" {
		os.Exit(1)
	}
	events := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		w := bufio.NewWriter(os.Stdout)
		for e := range events {
			w.WriteString(e + "\n")
			if len(events) == 0 {
				w.Flush()
			}
		}
		w.Flush()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := stormAll(ctx, j, events)
	if err != nil {
		events <- "fail " + strings.ReplaceAll(err.Error(), "\n", " ")
	} else {
		events <- "done " + strconv.FormatInt(n, 10)
	}
	close(events)
	<-done
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done measuring
}

// stormAll reconnects every stormer at once and waits until each has been
// told `recovered` with every message of its chat after the first one.
func stormAll(ctx context.Context, j job, events chan<- string) (int64, error) {
	srv := &chatload.Server{Addr: j.Addr}
	var total atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, gr := range j.Groups {
		for _, m := range gr.Members {
			g.Go(func() error {
				if j.Delay > 0 {
					t := time.NewTimer(time.Duration((0.5 + rand.Float64()) * float64(j.Delay)))
					select {
					case <-t.C:
					case <-gctx.Done():
						t.Stop()
						return gctx.Err()
					}
				}
				n, err := recoverOne(gctx, srv, j.History, j.Tokens[m], gr.First, events)
				total.Add(int64(n))
				return err
			})
		}
	}
	err := g.Wait()
	return total.Load(), err
}

// recoverOne connects one stormer with lastMessageId and checks its replay.
func recoverOne(ctx context.Context, srv *chatload.Server, history int, tok, last string, events chan<- string) (int, error) {
	packets := make(chan []byte, 4*history+16)
	// The connection stays open until the process ends.
	if _, err := srv.Connect(ctx, chatload.Auth(tok, last), packets); err != nil {
		return 0, err
	}
	events <- "c"
	seen := map[string]bool{}
	want := history - 1
	for {
		var b []byte
		select {
		case b = <-packets:
		case <-ctx.Done():
			return len(seen), fmt.Errorf("no recovered event: %w", ctx.Err())
		}
		name, arg, ok := chatload.EventOf(b)
		switch {
		case !ok:
		case name == "message":
			var m struct{ ID string }
			_ = json.Unmarshal(arg, &m)
			seen[m.ID] = true
		case name == "recovered":
			var r struct {
				Count    int  `json:"count"`
				Complete bool `json:"complete"`
			}
			_ = json.Unmarshal(arg, &r)
			if r.Count != want || len(seen) != want || !r.Complete {
				return len(seen), fmt.Errorf("recovered %+v with %d distinct messages, want %d", r, len(seen), want)
			}
			events <- "r"
			return len(seen), nil
		}
	}
}
