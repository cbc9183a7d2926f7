// Command conformance is the reference server the official protocol test
// suites (github.com/socketio/engine.io-protocol and socket.io-protocol)
// run against. It is a test fixture, not a product binary.
//
//	conformance -mode engine   -addr :3000   # Engine.IO suite: /engine.io/
//	conformance -mode socketio -addr :3000   # Socket.IO suite: /socket.io/
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	mode := flag.String("mode", "engine", "protocol to serve: engine or socketio")
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	var err error
	switch *mode {
	case "engine":
		err = runEngine(*addr)
	case "socketio":
		err = runSocketIO(*addr)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}
