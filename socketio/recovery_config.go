package socketio

// Recovery returns the server's Config.Recovery with its defaults applied,
// and false when it is not set. It is fixed when the server opens, so a
// cluster adapter may read it from its factory on, from any goroutine: to
// know whether its broadcasts carry offsets and how long sessions live.
// (Recovery is on in a namespace when it is set and the namespace's
// adapter is a SessionAdapter.)
func (n *Namespace) Recovery() (RecoveryConfig, bool) {
	rc := n.srv.cfg.Recovery
	if rc == nil {
		return RecoveryConfig{}, false
	}
	return *rc, true
}
