package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/gobwas/ws"
)

// wsReadBuffer is the size of the read buffers of WebSocket connections.
// A connection holds one only while it has unread bytes: the reader takes
// it from readBufs when bytes arrive and gives it back once the burst is
// read, so an idle connection holds none (a kept buffer, even 512 B, was
// the largest single item of an idle connection's heap). Payloads longer
// than the buffer are read straight into the message.
const wsReadBuffer = 4096

var readBufs = sync.Pool{New: func() any { b := make([]byte, wsReadBuffer); return &b }}

var errHeaderLength = errors.New("engine: websocket: frame length with the most significant bit set")

// buffered returns how many unread bytes the connection holds.
func (wc *wsConn) buffered() int { return wc.rend - wc.rpos }

// release gives the read buffer back once it is drained.
func (wc *wsConn) release() {
	if wc.rb == nil || wc.rpos < wc.rend {
		return
	}
	if cap(*wc.rb) == wsReadBuffer {
		readBufs.Put(wc.rb)
	}
	wc.rb, wc.rpos, wc.rend = nil, 0, 0
}

// await waits until the connection has bytes to read and buffers them,
// holding no buffer while it waits. On a socket (rc) the wait is the
// poller's readiness wait inside syscall.RawConn.Read, a shallow frame;
// the callback takes a buffer only when read(2) returns data. Other
// connections (TLS, pipes) wait in a one-byte Read.
func (wc *wsConn) await() error {
	wc.release()
	if wc.buffered() > 0 {
		return nil
	}
	if wc.rc == nil {
		n, err := wc.nc.Read(wc.one[:])
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		wc.rb = readBufs.Get().(*[]byte)
		(*wc.rb)[0] = wc.one[0]
		wc.rpos, wc.rend = 0, 1
		return nil
	}
	wc.rerr = nil
	if err := wc.rc.Read(wc.rawRead); err != nil {
		return err
	}
	return wc.rerr
}

// rawReadFunc is await's RawConn.Read callback: one read(2) into a pooled
// buffer, false (wait for readiness) when there is nothing to read.
func (wc *wsConn) rawReadFunc(fd uintptr) bool {
	b := readBufs.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			readBufs.Put(b)
			return false
		case err != nil:
			wc.rerr = os.NewSyscallError("read", err)
		case n == 0:
			wc.rerr = io.EOF
		default:
			wc.rb, wc.rpos, wc.rend = b, 0, n
			return true
		}
		readBufs.Put(b)
		return true
	}
}

// fill buffers at least n bytes (n <= wsReadBuffer). It blocks in Read,
// holding the buffer: it runs inside a frame, not between messages.
func (wc *wsConn) fill(n int) error {
	for wc.buffered() < n {
		if wc.rb == nil {
			wc.rb = readBufs.Get().(*[]byte)
		}
		b := *wc.rb
		if len(b)-wc.rpos < n {
			wc.rend = copy(b, b[wc.rpos:wc.rend])
			wc.rpos = 0
		}
		m, err := wc.nc.Read(b[wc.rend:])
		wc.rend += m
		if err != nil && wc.buffered() < n {
			return err
		}
	}
	return nil
}

// readFull reads exactly len(p) bytes: the buffered ones, then (for what
// does not fit the buffer) straight from the connection.
func (wc *wsConn) readFull(p []byte) error {
	for len(p) > 0 {
		if wc.buffered() == 0 {
			if len(p) >= wsReadBuffer {
				if _, err := io.ReadFull(wc.nc, p); err != nil {
					return err
				}
				return nil
			}
			if err := wc.fill(len(p)); err != nil {
				return err
			}
		}
		n := copy(p, (*wc.rb)[wc.rpos:wc.rend])
		wc.rpos += n
		p = p[n:]
	}
	return nil
}

// readHeader reads one frame header (RFC 6455 §5.2).
func (wc *wsConn) readHeader() (ws.Header, error) {
	if err := wc.fill(2); err != nil {
		return ws.Header{}, err
	}
	b := (*wc.rb)[wc.rpos:wc.rend]
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	if err := wc.fill(n); err != nil {
		return ws.Header{}, err
	}
	b = (*wc.rb)[wc.rpos : wc.rpos+n]
	wc.rpos += n
	h := ws.Header{
		Fin:    b[0]&0x80 != 0,
		Rsv:    (b[0] & 0x70) >> 4,
		OpCode: ws.OpCode(b[0] & 0x0f),
		Masked: b[1]&0x80 != 0,
		Length: int64(b[1] & 0x7f),
	}
	b = b[2:]
	switch h.Length {
	case 126:
		h.Length, b = int64(binary.BigEndian.Uint16(b)), b[2:]
	case 127:
		u := binary.BigEndian.Uint64(b)
		if u>>63 != 0 {
			return ws.Header{}, errHeaderLength
		}
		h.Length, b = int64(u), b[8:]
	}
	if h.Masked {
		copy(h.Mask[:], b)
	}
	return h, nil
}

// discard reads and drops up to limit bytes, until an error (the
// lingering close's drain).
func (wc *wsConn) discard(limit int) {
	for limit > 0 {
		if wc.buffered() == 0 {
			wc.release()
			if wc.fill(1) != nil {
				return
			}
		}
		n := min(wc.buffered(), limit)
		wc.rpos += n
		limit -= n
	}
	wc.release()
}
