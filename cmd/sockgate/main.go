// Command sockgate serves the Socket.IO chat gateway; the README lists its
// flags. `sockgate token` mints a development JWT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sockgate/sockgate/internal/gcfloor"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "token" {
		os.Exit(runToken(os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fail(2, err)
	}
	if os.Getenv("GOGC") == "" { // an operator's GOGC wins
		defer gcfloor.Start(uint64(m.Config.GCFloor)).Stop()
	}
	if err := m.Run(ctx); err != nil {
		fail(1, err)
	}
	select {
	case <-ctx.Done():
	case <-m.Done(): // the listener failed
	}
	stop() // from now on a second signal kills the process
	if err := errors.Join(m.Err(), m.Close()); err != nil {
		fail(1, err)
	}
}

func fail(code int, err error) { fmt.Fprintln(os.Stderr, "sockgate:", err); os.Exit(code) }
