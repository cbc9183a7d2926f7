//go:build !unix

package engine

// directOK reports false: without a non-blocking writev, replies go
// through the writer.
func (wc *wsConn) directOK() bool { return false }

func (wc *wsConn) writeDirect(q []*Message) ([]*Message, error) { return q, nil }
