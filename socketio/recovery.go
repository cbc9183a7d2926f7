package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/socketio/engine"
	"github.com/sockgate/sockgate/socketio/parser"
)

// RecoveryConfig turns on connection-state recovery (Node's
// connectionStateRecovery, see package doc); zero values select the
// defaults written beside them.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long a disconnected socket's session
	// and the logged packets are kept. Zero means 2 minutes (Node's).
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares skips the namespace's middleware for a recovered
	// socket. Node's default is true; ours is the zero value, false: the
	// middleware runs again (it sees Socket.Recovered).
	SkipMiddlewares bool
	// MaxLogBytes bounds the memory of MemorySessionAdapter's packet log
	// (payload, attachments and bookkeeping); the oldest packets are
	// dropped beyond it, and a session whose missed packets were dropped
	// is not recovered. Zero means 64 MiB per namespace.
	MaxLogBytes int64
}

func (rc RecoveryConfig) withDefaults() *RecoveryConfig {
	if rc.MaxDisconnectionDuration <= 0 {
		rc.MaxDisconnectionDuration = 2 * time.Minute
	}
	if rc.MaxLogBytes <= 0 {
		rc.MaxLogBytes = 64 << 20
	}
	return &rc
}

// recoveryIOTimeout bounds PersistSession and RestoreSession calls.
const recoveryIOTimeout = 5 * time.Second

// maxTapPackets bounds what a namespace tap keeps before it knows the
// rooms of the socket being restored (i.e. during RestoreSession); beyond
// it the restore is abandoned and the client gets a new session.
const maxTapPackets = 1 << 16

// recoverable reports whether a socket that disconnected for reason may be
// recovered (Node's RECOVERABLE_DISCONNECT_REASONS).
func recoverable(reason string) bool {
	switch reason {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose,
		ReasonPingTimeout, ReasonServerShuttingDown, ReasonForcedServerClose:
		return true
	}
	return false
}

// socketRecovery is the recovery state of a socket of a namespace with
// recovery on (nil otherwise, so that sockets without it pay one pointer).
type socketRecovery struct {
	// pid and offset are, until runConnect has decided, what the client
	// offered; then the session's private id and the offset from which a
	// client that reports none must be replayed (PersistSession's Offset).
	pid, offset string
	recovered   bool

	// While gating, writes to the socket are held (the replay goes first);
	// open sends them, minus those the replay carried.
	gating atomic.Bool
	mu     sync.Mutex
	held   []heldWrite

	// ended is set, and done (created by a waiter) closed, once the socket's
	// end (runClose) is over: its session, if any, is persisted.
	ended bool
	done  chan struct{}
}

// end records that the socket's disconnection is over.
func (r *socketRecovery) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	if r.done != nil {
		close(r.done)
	}
}

// ending returns a channel closed once end has been called.
func (r *socketRecovery) ending() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
		if r.ended {
			close(r.done)
		}
	}
	return r.done
}

// takeOver ends a connected socket whose client came back on another
// connection with its pid (proof that it owns the session): the old
// transport is dead but the server may not know it before its ping timeout
// (a polling client, a half-open TCP connection), and the session is
// persisted only when the old socket disconnects. It closes the socket
// (reason "transport close") and, unless the successor uses it too, its
// connection, and waits until its session is persisted or ctx ends.
func (s *Socket) takeOver(ctx context.Context, by *client) {
	s.onClose(ReasonTransportClose)
	if s.client != by {
		s.client.close(ReasonTransportClose)
	}
	select {
	case <-s.rec.ending():
	case <-ctx.Done():
	}
}

type heldWrite struct {
	msgs     []*engine.Message
	volatile bool
	off      string
}

// hold keeps a write while the socket is gating; false when it is not.
func (r *socketRecovery) hold(msgs []*engine.Message, volatile bool, off string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.gating.Load() {
		return false
	}
	r.held = append(r.held, heldWrite{msgs: msgs, volatile: volatile, off: off})
	return true
}

// open writes the held writes whose offset is not in sent, in order, and
// stops gating.
func (r *socketRecovery) open(c *client, sent map[string]struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.held {
		if _, dup := sent[h.off]; h.off != "" && dup {
			continue
		}
		c.write(h.msgs, h.volatile)
	}
	r.held = nil
	r.gating.Store(false)
}

// splitRecoveryAuth takes pid and offset out of a CONNECT payload (Node's
// client adds them to the auth object). The other members keep their order.
func splitRecoveryAuth(auth json.RawMessage) (pid, offset string, rest json.RawMessage) {
	if len(auth) == 0 || !bytes.Contains(auth, []byte(`"pid"`)) {
		return "", "", auth
	}
	dec := json.NewDecoder(bytes.NewReader(auth))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", "", auth
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		var val json.RawMessage
		if err != nil || !ok || dec.Decode(&val) != nil {
			return "", "", auth
		}
		switch key {
		case "pid":
			_ = json.Unmarshal(val, &pid)
		case "offset":
			_ = json.Unmarshal(val, &offset)
		default:
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(key)
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
		}
	}
	b.WriteByte('}')
	return pid, offset, b.Bytes()
}

// logged reports whether a broadcast of p with opts gets an offset: an
// EVENT without ack id, not volatile (Node's addOffsetIfNecessary).
func logged(p *parser.Packet, opts BroadcastOptions) bool {
	return p.Type == parser.Event && !p.HasID && !opts.Flags.Volatile
}

// appendOffset adds off as the last argument of EVENT packet p (whose
// Data is a JSON array with the event name at least). off needs no JSON
// escaping (our offsets and Redis stream ids do not).
func appendOffset(p *parser.Packet, off string) {
	d := bytes.TrimRight(p.Data, " \t\r\n")
	data := make(json.RawMessage, 0, len(d)+len(off)+3)
	data = append(data, d[:len(d)-1]...)
	if len(bytes.TrimSpace(d[1:len(d)-1])) > 0 {
		data = append(data, ',')
	}
	data = append(data, '"')
	data = append(data, off...)
	data = append(data, '"', ']')
	p.Data = data
	if p.Elems != nil {
		q := data[len(data)-len(off)-3 : len(data)-1 : len(data)-1]
		if q[0] == ',' {
			q = q[1:]
		}
		p.Elems = append(p.Elems[:len(p.Elems):len(p.Elems)], json.RawMessage(q))
	}
}

// packetOffset returns the offset carried by logged packet p: its last
// argument when it is a plain string ("" if none).
func packetOffset(p *parser.Packet) string {
	if p.Type != parser.Event || p.HasID {
		return ""
	}
	if n := len(p.Elems); n > 1 {
		s, _ := plainJSONString(p.Elems[n-1])
		return s
	}
	d := bytes.TrimRight(p.Data, " \t\r\n")
	if len(d) < 4 || d[len(d)-1] != ']' {
		return ""
	}
	d = bytes.TrimRight(d[:len(d)-1], " \t\r\n")
	if len(d) < 2 || d[len(d)-1] != '"' {
		return ""
	}
	i := bytes.LastIndexByte(d[:len(d)-1], '"')
	if i < 1 {
		return ""
	}
	before := bytes.TrimRight(d[:i], " \t\r\n")
	if len(before) == 0 || before[len(before)-1] != ',' {
		return ""
	}
	s, _ := plainJSONString(d[i:])
	return s
}

// plainJSONString decodes a JSON string without escapes.
func plainJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || bytes.IndexByte(raw[1:len(raw)-1], '\\') >= 0 || bytes.IndexByte(raw[1:len(raw)-1], '"') >= 0 {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// includes is Node's shouldIncludePacket: would a socket in rooms receive
// a broadcast with opts?
func includes(rooms []string, opts BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		for _, x := range opts.Except {
			if r == x {
				return false
			}
		}
		if !in {
			for _, t := range opts.Rooms {
				if r == t {
					in = true
					break
				}
			}
		}
	}
	return in
}

// tap records what the namespace delivers while a socket is being
// restored (see Namespace.startTap). Deliver records before it matches the
// receivers, and the tap is stopped after the socket has joined its rooms:
// a packet is therefore either recorded or matched to the socket (or both,
// de-duplicated by offset).
type tap struct {
	mu       sync.Mutex
	rooms    []string // once filtered, only matching packets are kept
	filtered bool
	stopped  bool
	pkts     []tapped
	overflow bool
}

type tapped struct {
	msgs     []*engine.Message
	opts     BroadcastOptions
	volatile bool
	off      string
}

func (t *tap) record(msgs []*engine.Message, opts BroadcastOptions, off string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.stopped, t.filtered && !includes(t.rooms, opts):
		return
	case !t.filtered && len(t.pkts) >= maxTapPackets:
		t.overflow = true
		return
	}
	t.pkts = append(t.pkts, tapped{msgs: msgs, opts: opts, volatile: opts.Flags.Volatile, off: off})
}

// filter keeps, from now on and among what was recorded, only the packets
// a socket in rooms receives. It reports false if the tap overflowed.
func (t *tap) filter(rooms []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rooms, t.filtered = rooms, true
	kept := t.pkts[:0]
	for _, p := range t.pkts {
		if includes(rooms, p.opts) {
			kept = append(kept, p)
		}
	}
	clear(t.pkts[len(kept):])
	t.pkts = kept
	return !t.overflow
}

// stop ends the recording and returns what was recorded.
func (t *tap) stop() []tapped {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	return t.pkts
}

// startTap makes Deliver record every packet it delivers until stopTap.
func (n *Namespace) startTap() *tap {
	t := &tap{}
	n.tapMu.Lock()
	n.taps = append(n.taps[:len(n.taps):len(n.taps)], t)
	n.ntaps.Add(1)
	n.tapMu.Unlock()
	return t
}

func (n *Namespace) stopTap(t *tap) {
	n.tapMu.Lock()
	defer n.tapMu.Unlock()
	for i, x := range n.taps {
		if x == t {
			taps := make([]*tap, 0, len(n.taps)-1)
			taps = append(taps, n.taps[:i]...)
			n.taps = append(taps, n.taps[i+1:]...)
			n.ntaps.Add(-1)
			return
		}
	}
}

// tapDelivery hands a delivery to the active taps.
func (n *Namespace) tapDelivery(msgs []*engine.Message, opts BroadcastOptions, off string) {
	n.tapMu.Lock()
	taps := n.taps
	n.tapMu.Unlock()
	for _, t := range taps {
		t.record(msgs, opts, off)
	}
}

// noteOffset records off as the newest offset delivered in the namespace.
func (n *Namespace) noteOffset(off string) {
	n.offMu.Lock()
	n.lastOff = off
	n.offMu.Unlock()
}

func (n *Namespace) lastOffset() string {
	n.offMu.Lock()
	defer n.offMu.Unlock()
	return n.lastOff
}

// restoring is a recovery in progress in runConnect.
type restoring struct {
	tap  *tap
	sess *Session
}

// restore looks the client's session up. It returns nil when the socket
// gets a new session (pid and connect offset then assigned), else the
// session, with the socket's id, data and handshake restored and a tap
// recording what the namespace delivers until the socket has joined its
// rooms.
func (s *Socket) restore() *restoring {
	r, n := s.rec, s.ns
	if r.pid != "" {
		ctx, cancel := context.WithTimeout(n.srv.ctx, recoveryIOTimeout)
		if old := n.socketByPID(r.pid); old != nil {
			old.takeOver(ctx, s.client)
		}
		t := n.startTap()
		sess, err := n.sessions.RestoreSession(ctx, r.pid, r.offset)
		cancel()
		switch {
		case err != nil:
			s.client.logger().Warn("socketio: restore session", "ns", n.name, "err", err)
		case sess != nil && sess.SID != "" && n.Socket(sess.SID) == nil && t.filter(sess.Rooms):
			s.id = sess.SID
			if r.offset == "" {
				r.offset = sess.Offset
			}
			r.recovered = true
			if len(sess.Data) > 0 {
				s.data = sess.Data
			}
			return &restoring{tap: t, sess: sess}
		}
		n.stopTap(t)
	}
	r.pid = newID()
	r.offset = n.lastOffset()
	return nil
}

// replay ends a restore once the socket has joined its rooms: the missed
// packets, then what the tap recorded that they do not carry, then the
// writes held meanwhile (less those already sent), all before anything
// else reaches the socket.
func (s *Socket) replay(rs *restoring) {
	pkts := rs.tap.stop()
	s.ns.stopTap(rs.tap)
	sent := make(map[string]struct{}, len(rs.sess.MissedPackets))
	for _, p := range rs.sess.MissedPackets {
		if off := packetOffset(p); off != "" {
			sent[off] = struct{}{}
		}
		s.client.write(encodeMessages(p), false)
	}
	for _, t := range pkts {
		if _, dup := sent[t.off]; t.off != "" && dup {
			continue
		}
		if t.off != "" {
			sent[t.off] = struct{}{}
		}
		s.client.write(t.msgs, t.volatile)
	}
	s.rec.open(s.client, sent)
}

// persist saves the session of a socket that disconnected for a
// recoverable reason; rooms were read before it left them.
func (s *Socket) persist(rooms []string) {
	sess := &Session{SID: s.id, PID: s.rec.pid, Rooms: rooms, Data: socketData(s.Data()), Offset: s.rec.offset}
	ctx, cancel := context.WithTimeout(context.Background(), recoveryIOTimeout)
	defer cancel()
	if err := s.ns.sessions.PersistSession(ctx, sess); err != nil {
		s.client.logger().Warn("socketio: persist session", "ns", s.ns.name, "socket", s.id, "err", err)
	}
}

// Recovered reports whether the socket's state (id, rooms, data) was
// recovered from a previous connection, the missed packets replayed
// (Node's socket.recovered). Set before the middleware runs.
func (s *Socket) Recovered() bool { return s.rec != nil && s.rec.recovered }

// connectReply is the CONNECT payload: {sid} or, with recovery, {sid, pid}.
func connectReply(id, pid string) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"sid":`)
	q, _ := json.Marshal(id)
	b.Write(q)
	if pid != "" {
		b.WriteString(`,"pid":`)
		q, _ = json.Marshal(pid)
		b.Write(q)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
