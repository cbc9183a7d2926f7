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
)

type config struct {
	bin      string
	db       string
	senders  string
	modes    string
	hot      int
	warmup   time.Duration
	duration time.Duration
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
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	failed := false
	for _, mode := range strings.Split(c.modes, ",") {
		for _, n := range strings.Split(c.senders, ",") {
			var senders int
			if _, err := fmt.Sscan(n, &senders); err != nil || senders < 2 {
				fmt.Fprintf(os.Stderr, "durable: bad -senders %q\n", n)
				os.Exit(2)
			}
			r, err := runOne(ctx, c, mode, senders)
			if err != nil {
				fmt.Fprintf(os.Stderr, "durable: %s %d senders: %v\n", mode, senders, err)
				failed = true
				continue
			}
			fmt.Println(r)
		}
	}
	if failed {
		os.Exit(1)
	}
}
