// Command nullserver is the cheapest server the load generator can talk to:
// just enough Engine.IO 4 / Socket.IO 5 over a raw WebSocket (no library
// layer, no JSON decoding, frames written directly by the goroutine that
// produces them) to run the benchmark workloads. Running a workload against
// it measures the load generator's ceiling: a real server measured close to
// that ceiling is limited by the load generator, not by itself.
//
// It answers `42<id>["echo",...]` with `43<id>[{}]`, and relays
// `42["fanout","<room>",<msg>]` as `42["msg",<msg>]` to every connection
// that connected with ?room=<room>. It prints "LISTEN <addr>" like the real
// servers.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/gobwas/ws"
)

type conn struct {
	nc  net.Conn
	wmu sync.Mutex
}

// write sends one unmasked server text frame in one write call.
func (c *conn) write(p []byte) error {
	var hdr [10]byte
	h := hdr[:2]
	hdr[0] = 0x81
	switch n := len(p); {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		hdr[1] = 127
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	bufs := net.Buffers{h, p}
	_, err := bufs.WriteTo(c.nc)
	return err
}

type server struct {
	mu    sync.RWMutex
	rooms map[string][]*conn
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullserver:", err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	s := &server{rooms: map[string][]*conn{}}
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go s.serve(nc)
	}
}

func (s *server) serve(nc net.Conn) {
	defer nc.Close()
	var room string
	u := ws.Upgrader{OnRequest: func(uri []byte) error {
		if i := bytes.Index(uri, []byte("room=")); i >= 0 {
			r := uri[i+5:]
			if j := bytes.IndexByte(r, '&'); j >= 0 {
				r = r[:j]
			}
			room = string(r)
		}
		return nil
	}}
	if _, err := u.Upgrade(nc); err != nil {
		return
	}
	c := &conn{nc: nc}
	if c.write([]byte(`0{"sid":"nullsid0000000000000","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)) != nil {
		return
	}
	br := bufio.NewReaderSize(nc, 1024)
	var (
		hb  = make([]byte, ws.MaxHeaderSize)
		buf []byte
		out []byte
	)
	for {
		h, err := ws.ReadHeaderBuffer(br, hb)
		if err != nil || h.Length > 1<<20 {
			s.leave(room, c)
			return
		}
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, h.Length)
		}
		p := buf[:h.Length]
		if _, err := io.ReadFull(br, p); err != nil {
			s.leave(room, c)
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		if h.OpCode == ws.OpClose {
			s.leave(room, c)
			return
		}
		switch {
		case bytes.Equal(p, []byte("40")):
			if c.write([]byte(`40{"sid":"nullsocket0000000000"}`)) != nil {
				return
			}
			if room != "" {
				s.join(room, c)
			}
		case bytes.HasPrefix(p, []byte(`42["fanout","`)):
			rest := p[len(`42["fanout","`):]
			i := bytes.IndexByte(rest, '"')
			if i < 0 || len(rest) < i+3 {
				continue
			}
			target, msg := string(rest[:i]), rest[i+2:len(rest)-1]
			out = append(append(out[:0], `42["msg",`...), msg...)
			out = append(out, ']')
			s.mu.RLock()
			for _, rc := range s.rooms[target] {
				_ = rc.write(out)
			}
			s.mu.RUnlock()
		case len(p) > 2 && p[0] == '4' && p[1] == '2' && p[2] >= '0' && p[2] <= '9':
			id, n := 0, 2
			for n < len(p) && p[n] >= '0' && p[n] <= '9' {
				id = id*10 + int(p[n]-'0')
				n++
			}
			out = strconv.AppendInt(append(out[:0], "43"...), int64(id), 10)
			out = append(out, `[{}]`...)
			if c.write(out) != nil {
				return
			}
		case bytes.Equal(p, []byte("3")): // pong
		}
	}
}

func (s *server) join(room string, c *conn) {
	s.mu.Lock()
	s.rooms[room] = append(s.rooms[room], c)
	s.mu.Unlock()
}

func (s *server) leave(room string, c *conn) {
	if room == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.rooms[room]
	for i, x := range l {
		if x == c {
			s.rooms[room] = append(l[:i], l[i+1:]...)
			break
		}
	}
}
