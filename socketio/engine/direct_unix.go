//go:build unix

package engine

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// directOK reports whether the connection can take direct writes: plain
// TCP, where one non-blocking writev is possible on its raw socket (the
// one the reader uses). Called with Conn.mu held.
func (wc *wsConn) directOK() bool {
	_, ok := wc.nc.(*net.TCPConn)
	return ok && wc.rc != nil
}

// directWrite is one writev's arguments and results, pooled with the
// callback bound to it, so that a direct write allocates nothing.
type directWrite struct {
	iov   [maxFlush]syscall.Iovec
	cnt   int
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

var directPool = sync.Pool{New: func() any {
	d := &directWrite{}
	d.fn = d.writev
	return d
}}

// writev is the RawConn.Write callback: one attempt (EINTR aside), never
// a wait for writability.
func (d *directWrite) writev(fd uintptr) bool {
	for {
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&d.iov[0])), uintptr(d.cnt))
		if e != syscall.EINTR {
			d.n, d.errno = int(r), e
			return true
		}
	}
}

// writeDirect writes the frames of q with one non-blocking writev and
// returns what the socket did not take (a frame cut in two continues as a
// rawFrame). The poller's fd lock (RawConn.Write) keeps the descriptor
// from being closed and reused during the call; the callback never asks
// to wait.
func (wc *wsConn) writeDirect(q []*Message) (rest []*Message, err error) {
	wc.wmu.Lock()
	defer wc.wmu.Unlock()
	d := directPool.Get().(*directWrite)
	defer directPool.Put(d)
	total := 0
	for i, m := range q {
		b := m.frameBytes()
		d.iov[i].Base = unsafe.SliceData(b)
		d.iov[i].SetLen(len(b))
		total += len(b)
	}
	d.cnt = len(q)
	werr := wc.rc.Write(d.fn)
	n, errno := d.n, d.errno
	clear(d.iov[:len(q)]) // keep no frame alive in the pool
	switch {
	case werr != nil:
		return nil, werr
	case errno == syscall.EAGAIN:
		return q, nil
	case errno != 0:
		return nil, errno
	case n == total:
		return nil, nil
	}
	for i, m := range q {
		b := m.frameBytes()
		if n < len(b) {
			rest = append(rest, rawFrame(b[n:]))
			return append(rest, q[i+1:]...), nil
		}
		n -= len(b)
	}
	return nil, errors.New("engine: writev wrote more than it was given")
}
