// Command durable measures durable `/chat` messages on the real sockgate
// binary (issue 11, "durable messages"): -senders clients each keep one
// `chat message` in flight (closed loop) for -duration, either in direct
// chats (pairs of senders) or all in one hot chat of -hot members. It
// reports acked messages/s and the ack p50/p99, and verifies: every ack is
// a success with a message id never seen before, and at the end the store
// holds exactly the acked messages (counted over REST).
//
// `go run ./cmd/durable` uses SQLite in a temporary directory;
// `-db postgres://postgres@127.0.0.1:5432/postgres` creates a fresh
// database there for the run and drops it after. Run from bench/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sockgate/sockgate/bench/internal/chatload"
)

type config struct {
	bin      string
	db       string
	senders  string
	modes    string
	hot      int
	warmup   time.Duration
	duration time.Duration
	rate     float64
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "sockgate binary (built from ../cmd/sockgate when empty)")
	flag.StringVar(&c.db, "db", "", "PostgreSQL server URL (a fresh database is created on it); empty: SQLite")
	flag.StringVar(&c.senders, "senders", "50,500", "sender counts to run, comma-separated")
	flag.StringVar(&c.modes, "modes", "direct,hot", "direct: pairs of senders in direct chats; hot: every sender in one chat of -hot members")
	flag.IntVar(&c.hot, "hot", 50, "members of the hot chat (senders beyond it share the members' accounts)")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before the measurement window")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measurement window")
	flag.Float64Var(&c.rate, "rate", 0, "messages/s of all senders together, each sender paced at rate/senders with one in flight (open loop: latency from each send's scheduled time); 0: closed loop")
	flag.Parse()
	os.Exit(run(c))
}

// run builds the binary once, runs every (mode, senders) and returns the
// exit code: 1 if a run failed, 2 for a bad flag.
func run(c config) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if c.bin == "" {
		dir, err := os.MkdirTemp("", "sockgate-durable-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "durable:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if c.bin, err = chatload.Build(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "durable: build:", err)
			return 1
		}
	}
	code := 0
	for _, mode := range strings.Split(c.modes, ",") {
		for _, n := range strings.Split(c.senders, ",") {
			var senders int
			if _, err := fmt.Sscan(n, &senders); err != nil || senders < 2 {
				fmt.Fprintf(os.Stderr, "durable: bad -senders %q\n", n)
				return 2
			}
			r, err := runOne(ctx, c, mode, senders)
			if err != nil {
				fmt.Fprintf(os.Stderr, "durable: %s %d senders: %v\n", mode, senders, err)
				code = 1
				continue
			}
			fmt.Println(r)
		}
	}
	return code
}
