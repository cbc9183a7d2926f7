package engine

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/sockgate/sockgate/internal/testenv"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv = <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

func pipePair(t *testing.T) (srv, cli net.Conn) {
	srv, cli = net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// TestWSConn_ReadBuffer reads frames of every header form and of sizes
// around the read buffer's, written in small pieces, on a socket (the raw
// readiness wait) and on a pipe (the blocking fallback), and checks that a
// drained connection holds no read buffer until bytes arrive again.
func TestWSConn_ReadBuffer(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, wsReadBuffer - 14, wsReadBuffer, wsReadBuffer + 1, 65535, 65536, 70000}
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		pair func(*testing.T) (net.Conn, net.Conn)
		raw  bool
	}{{"TCP", tcpPair, true}, {"Pipe", pipePair, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := tc.pair(t)
			wc := newWSConn(srv, nil)
			if (wc.rc != nil) != tc.raw {
				t.Fatalf("raw conn %v, want %v", wc.rc != nil, tc.raw)
			}
			var all bytes.Buffer
			for _, n := range sizes {
				ws.WriteFrame(&all, ws.MaskFrame(ws.NewBinaryFrame(payload(n))))
			}
			wrote := make(chan error, 1)
			go func() {
				b := all.Bytes()
				for len(b) > 0 {
					n := min(len(b), 1000)
					if _, err := cli.Write(b[:n]); err != nil {
						wrote <- err
						return
					}
					b = b[n:]
				}
				wrote <- nil
			}()
			srv.SetReadDeadline(time.Now().Add(10 * time.Second))
			for _, n := range sizes {
				if wc.buffered() == 0 {
					if err := wc.await(); err != nil {
						t.Fatalf("await: %v", err)
					}
				}
				h, err := wc.readHeader()
				if err != nil || h.Length != int64(n) || !h.Masked || !h.Fin || h.OpCode != ws.OpBinary {
					t.Fatalf("size %d: header %+v, %v", n, h, err)
				}
				p := make([]byte, h.Length)
				if err := wc.readFull(p); err != nil {
					t.Fatalf("size %d: payload: %v", n, err)
				}
				ws.Cipher(p, h.Mask, 0)
				if !bytes.Equal(p, payload(n)) {
					t.Fatalf("size %d: payload differs", n)
				}
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if wc.buffered() != 0 {
				t.Fatalf("%d bytes left", wc.buffered())
			}
			wc.release()
			if wc.rb != nil {
				t.Fatal("a drained connection keeps its read buffer")
			}
			go ws.WriteFrame(cli, ws.MaskFrame(ws.NewTextFrame([]byte("4again"))))
			if err := wc.await(); err != nil || wc.rb == nil || wc.buffered() == 0 {
				t.Fatalf("await after idle: %v, buffered %d", err, wc.buffered())
			}
			h, err := wc.readHeader()
			p := make([]byte, h.Length)
			if err != nil || wc.readFull(p) != nil {
				t.Fatalf("read after idle: %v", err)
			}
			ws.Cipher(p, h.Mask, 0)
			if string(p) != "4again" {
				t.Fatalf("after idle: %q", p)
			}
		})
	}
	t.Run("LengthMSB", func(t *testing.T) {
		srv, cli := tcpPair(t)
		wc := newWSConn(srv, nil)
		go cli.Write([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := wc.await(); err != nil {
			t.Fatal(err)
		}
		if _, err := wc.readHeader(); err != errHeaderLength {
			t.Fatalf("err %v, want errHeaderLength", err)
		}
	})
}

// TestConn_QueueShrinksAfterBurst: once a burst is written, a connection
// keeps no queue the size of that burst for the next one.
func TestConn_QueueShrinksAfterBurst(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := ts.dialWS(t, "transport=websocket")
	c.mustRead()
	rec := ts.nextConn(t)
	burst := make([]*Message, 500)
	for i := range burst {
		burst[i] = TextMessage("m")
	}
	if err := rec.c.Send(burst...); err != nil {
		t.Fatal(err)
	}
	for range burst {
		if m := c.mustRead(); m != "4m" {
			t.Fatalf("got %q", m)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		rec.c.mu.Lock()
		defer rec.c.mu.Unlock()
		if rec.c.writing || cap(rec.c.spare) >= len(burst) || cap(rec.c.queue) >= len(burst) {
			return fmt.Errorf("writing %v, spare capacity %d, queue capacity %d", rec.c.writing, cap(rec.c.spare), cap(rec.c.queue))
		}
		return nil
	})
}
