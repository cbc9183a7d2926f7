//go:build !linux

package engine

// idlePoller parks idle readers on Linux only (idlepoll_linux.go); here a
// reader always keeps its goroutine.
type idlePoller struct{ s *Server }

func (p *idlePoller) park(r *wsReader) bool { return false }
func (p *idlePoller) wake(wc *wsConn)       {}
func (p *idlePoller) stop()                 {}
