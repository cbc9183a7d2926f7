package engine

import (
	"os"
	"sync"
	"syscall"
)

// idlePoller holds the readers of idle WebSocket connections without a
// goroutine each: a parked reader is an entry in parked, its socket is
// registered (level-triggered, one-shot) in an epoll instance of ours, and
// when the socket becomes readable (bytes, the peer's FIN or an error) the
// reader continues on a new goroutine. The epoll instance is itself waited
// on through the runtime's poller (its fd is readable while events are
// ready), so no thread blocks in epoll_wait. An idle connection then costs
// its heap only: no stack, no goroutine, and none of the GC headroom the
// runtime grants per byte of stack.
//
// Ownership of a parked reader passes to whoever takes it out of parked
// (the poll loop, wake, or stop), under mu; the goroutine that parked it
// never touches it again once park returned true.
type idlePoller struct {
	s    *Server
	once sync.Once
	epfd int
	f    *os.File      // epfd, for the runtime's poller; nil if setup failed
	done chan struct{} // closed when loop returns

	mu     sync.Mutex
	next   uint64
	parked map[uint64]*wsReader
	closed bool
}

// start creates the epoll instance and its poll loop, on first use.
func (p *idlePoller) start() bool {
	p.once.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			p.s.log.Warn("engine: epoll unavailable, idle readers keep their goroutine", "err", err)
			return
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fd)
			return
		}
		p.epfd = fd
		p.f = os.NewFile(uintptr(fd), "engine-idle-epoll")
		p.mu.Lock() // parked is mu's, whoever reads it
		p.parked = make(map[uint64]*wsReader)
		p.mu.Unlock()
		p.done = make(chan struct{})
		go p.loop()
	})
	return p.f != nil
}

// park registers r's idle connection and reports whether r is parked (its
// goroutine must then return without touching r). It returns false when
// the connection cannot be parked (no raw socket, closing, Shutdown, an
// epoll error): the caller goes on reading.
func (p *idlePoller) park(r *wsReader) bool {
	wc := r.wc
	if wc.rc == nil || !p.start() {
		return false
	}
	p.mu.Lock()
	if p.closed || wc.noPark {
		p.mu.Unlock()
		return false
	}
	p.next++
	tok := p.next
	p.parked[tok] = r
	wc.parkTok = tok
	p.mu.Unlock()
	// Registered after the entry exists, so that an event finds it. The
	// registration runs inside Control, which keeps the fd from being
	// closed (and its number reused) meanwhile.
	var cerr error
	err := wc.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(tok)), Pad: int32(uint32(tok >> 32))}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		if cerr == syscall.ENOENT {
			cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err == nil {
		err = cerr
	}
	if err == nil {
		return true
	}
	p.mu.Lock()
	mine := p.parked[tok] == r
	if mine {
		delete(p.parked, tok)
		wc.parkTok = 0
	}
	p.mu.Unlock()
	return !mine
}

// take removes the reader parked under tok (nil if none).
func (p *idlePoller) takeLocked(tok uint64) *wsReader {
	r := p.parked[tok]
	if r != nil {
		delete(p.parked, tok)
		r.wc.parkTok = 0
	}
	return r
}

// wake resumes wc's reader if it is parked and keeps it from parking again:
// called before the connection is closed or given a read deadline by
// another goroutine, which the reader must see as it would have in a wait.
func (p *idlePoller) wake(wc *wsConn) {
	p.mu.Lock()
	wc.noPark = true
	var r *wsReader
	if wc.parkTok != 0 {
		r = p.takeLocked(wc.parkTok)
	}
	p.mu.Unlock()
	if r != nil {
		p.s.goTracked(r.loop)
	}
}

// stop ends parking (Shutdown): the parked readers resume on goroutines,
// which Shutdown waits for, and stop returns once the poll loop has ended.
// A poller not started yet never starts.
func (p *idlePoller) stop() {
	p.once.Do(func() {})
	p.resumeAll()
	if p.f != nil {
		p.f.Close()
		<-p.done
	}
}

// resumeAll ends parking and resumes every parked reader.
func (p *idlePoller) resumeAll() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	rs := make([]*wsReader, 0, len(p.parked))
	for tok := range p.parked {
		rs = append(rs, p.takeLocked(tok))
	}
	p.mu.Unlock()
	for _, r := range rs {
		p.s.goTracked(r.loop)
	}
}

// loop resumes the readers whose sockets became readable, until stop
// closes the epoll instance. Should the wait fail otherwise, parking ends
// rather than leaving readers parked with nobody to resume them.
func (p *idlePoller) loop() {
	defer close(p.done)
	defer p.resumeAll()
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	events := make([]syscall.EpollEvent, 128)
	rc.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return true
			}
			for _, ev := range events[:n] {
				tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
				p.mu.Lock()
				r := p.takeLocked(tok)
				p.mu.Unlock()
				if r != nil {
					p.s.goTracked(r.loop)
				}
			}
			if n < len(events) {
				return false // drained: wait for the epoll fd to be readable
			}
		}
	})
}
