package socketio

import (
	"context"
	"slices"
	"time"
)

// socketContext is a Socket seen as its Context. A context.WithCancel per
// socket cost a cancelCtx, an entry in the server context's children map,
// a children map of its own for the first derived context, and its Done
// channel; applications that hang a timer or a derived context on every
// socket (the gateway does, at connect) paid that for each idle socket.
// This one costs nothing until used: Done makes the channel on first call,
// and AfterFunc (which the context package uses for contexts derived from
// it, and for context.AfterFunc) keeps its callbacks in a slice, so no
// derived context starts a goroutine.
//
// It ends with the socket (end), when the socket starts disconnecting for
// whatever reason: Shutdown's drain and, past its deadline, its close of
// every socket included, so it needs no link to the server's context. It
// carries no values.
type socketContext Socket

var _ context.Context = (*socketContext)(nil)

// afterFunc is one callback registered by socketContext.AfterFunc.
type afterFunc struct {
	id uint64
	f  func()
}

// Context is cancelled when the socket disconnects (or the server shuts
// down). It allocates nothing until a Done channel or a derived context is
// asked for.
func (s *Socket) Context() context.Context { return (*socketContext)(s) }

// end cancels the socket's Context: Done closes, the AfterFunc callbacks
// run, each on its own goroutine.
func (s *Socket) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.done != nil {
		close(s.done)
	}
	fs := s.afters
	s.afters = nil
	s.mu.Unlock()
	for _, a := range fs {
		go a.f()
	}
}

func (c *socketContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *socketContext) Done() <-chan struct{} {
	s := (*Socket)(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.ended {
			close(s.done)
		}
	}
	return s.done
}

func (c *socketContext) Err() error {
	s := (*Socket)(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return context.Canceled
	}
	return nil
}

func (c *socketContext) Value(any) any { return nil }

// AfterFunc arranges for f to run on its own goroutine once the context
// ends (at once if it has); stop deregisters f and reports whether it did
// so before f was started.
func (c *socketContext) AfterFunc(f func()) (stop func() bool) {
	s := (*Socket)(c)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	s.afterSeq++
	id := s.afterSeq
	s.afters = append(s.afters, afterFunc{id, f})
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		i := slices.IndexFunc(s.afters, func(a afterFunc) bool { return a.id == id })
		if i < 0 {
			return false
		}
		s.afters = slices.Delete(s.afters, i, i+1)
		if len(s.afters) == 0 {
			s.afters = nil
		}
		return true
	}
}

func (c *socketContext) String() string { return "socketio.Socket(" + c.id + ").Context" }
