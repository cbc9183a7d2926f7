package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// member is one chat member: a Socket.IO client of namespace "/chat" over
// a WebSocket (Engine.IO 4, no polling), written here because the core's
// own test client is internal to socketio. It reconnects by itself with
// auth.lastMessageId (the newest message it saw) and records everything
// the assertions need: every attempt to send, every message received.
type member struct {
	name, user, chat, token string
	addr                    string        // host:port of sockgate
	ackWait                 time.Duration // how long an ack is awaited: the deadline

	mu       sync.Mutex
	conn     *wsConn // nil while disconnected
	gen      int     // connection number
	nextAck  int
	pending  map[int]*attempt // ack id → attempt of the current connection
	syncing  map[int]bool     // ack ids of sync requests
	ready    bool             // joined or recovered: may send
	seen     map[string]received
	lastSeq  map[string]int64 // chat → seq of the last message received
	newest   string           // greatest message id received
	problems []string         // seq inversions and duplicates
	drops    int              // connections lost
	msgs     []*outMsg        // everything this member sends
	queue    []*outMsg        // awaiting a (re)send
	notReady []string         // why connections failed (last few)
}

// received is one message as a member got it.
type received struct {
	seq  int64
	how  string // "live", "replay" (before recovered), "sync"
	at   time.Time
	conn int
}

// outMsg is one message a member sends, retried with its clientMsgId until
// acked.
type outMsg struct {
	clientMsgID, content string
	attempts             []*attempt
	ackedID              string // id of the stored message, once acked
	ackedSeq             int64
	retryAt              time.Time
}

// attempt is one emit of an outMsg and its outcome.
type attempt struct {
	msg      *outMsg
	conn     int
	sent     time.Time
	answered time.Time // zero: no answer
	code     string    // "" success, else the error code
	lostAt   time.Time // the connection closed before the answer
	gaveUp   bool      // not answered within ackWait while connected
}

// latency is how long the attempt's answer took (0 if none).
func (a *attempt) latency() time.Duration {
	if a.answered.IsZero() {
		return 0
	}
	return a.answered.Sub(a.sent)
}

func newMember(name, user, chat, token, addr string, ackWait time.Duration) *member {
	return &member{
		name: name, user: user, chat: chat, token: token, addr: addr, ackWait: ackWait,
		pending: map[int]*attempt{}, syncing: map[int]bool{},
		seen: map[string]received{}, lastSeq: map[string]int64{},
	}
}

// run keeps the member connected until ctx ends: one session after
// another, 100 ms apart.
func (m *member) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.session(ctx)
		if ctx.Err() != nil {
			err = nil // the test stopped the member
		}
		m.lost(err, ctx.Err() == nil)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lost ends a connection: its unanswered attempts are lost and queued
// again; count says whether it is a lost connection (not the test's stop).
func (m *member) lost(err error, count bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.c.Close()
		m.conn = nil
		if count {
			m.drops++
		}
	}
	m.ready = false
	now := time.Now()
	for id, a := range m.pending {
		a.lostAt = now
		m.requeue(a.msg, now)
		delete(m.pending, id)
	}
	clear(m.syncing)
	if err != nil {
		m.notReady = append(m.notReady, fmt.Sprintf("%s: %v", now.Format("15:04:05.000"), err))
		if len(m.notReady) > 5 {
			m.notReady = m.notReady[1:]
		}
	}
}

// requeue schedules msg to be sent again in 200 ms, unless it is queued
// already or acked. m.mu held.
func (m *member) requeue(msg *outMsg, now time.Time) {
	if msg.ackedID != "" {
		return
	}
	for _, q := range m.queue {
		if q == msg {
			return
		}
	}
	msg.retryAt = now.Add(200 * time.Millisecond)
	m.queue = append(m.queue, msg)
}

// session dials, connects to "/chat" (with lastMessageId once it has one),
// joins its chat on a first connection, and reads until the connection
// fails.
func (m *member) session(ctx context.Context) error {
	c, err := dialEngine(ctx, m.addr)
	if err != nil {
		return err
	}
	defer context.AfterFunc(ctx, func() { c.c.Close() })()
	m.mu.Lock()
	m.gen++
	m.conn, m.nextAck = c, 0
	auth := map[string]string{"token": m.token}
	if m.newest != "" {
		auth["lastMessageId"] = m.newest
	}
	m.mu.Unlock()
	b, _ := json.Marshal(auth)
	if err := c.write("40/chat," + string(b)); err != nil {
		return err
	}
	for {
		pkt, err := c.read()
		if err != nil {
			return err
		}
		if err := m.handle(c, pkt); err != nil {
			return err
		}
	}
}

// handle is one Engine.IO packet from the server.
func (m *member) handle(c *wsConn, pkt string) error {
	switch {
	case pkt == "2":
		return c.write("3")
	case pkt == "1":
		return errors.New("engine.io close")
	case strings.HasPrefix(pkt, "4"):
		return m.handleSIO(c, parseSIO(pkt[1:]))
	}
	return nil
}

// handleSIO is one Socket.IO packet of namespace "/chat".
func (m *member) handleSIO(c *wsConn, p sioPacket) error {
	if p.nsp != "/chat" {
		return nil
	}
	switch p.typ {
	case '0': // CONNECT
		return m.connected(c)
	case '1':
		return errors.New("disconnected by the server")
	case '4':
		return fmt.Errorf("connect_error %s", p.data)
	case '2':
		m.event(p.data)
	case '3':
		m.ack(p.id, p.data)
	}
	return nil
}

// connected follows the CONNECT reply: a first connection joins the chat
// (acked), a reconnection awaits `recovered`.
func (m *member) connected(c *wsConn) error {
	m.mu.Lock()
	recovering := m.newest != ""
	m.mu.Unlock()
	if recovering {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"chatId": m.chat})
	return c.write(`42/chat,` + strconv.Itoa(joinAck) + `["join",` + string(b) + `]`)
}

// joinAck is the ack id of the one join a member sends (first connection);
// attempts count from 0 and never reach it.
const joinAck = 1 << 30

// event records `message`, and `recovered` (the member may send again).
func (m *member) event(data string) {
	var args []json.RawMessage
	if json.Unmarshal([]byte(data), &args) != nil || len(args) < 1 {
		return
	}
	var name string
	_ = json.Unmarshal(args[0], &name)
	switch name {
	case "message":
		var msg wireMessage
		if len(args) > 1 && json.Unmarshal(args[1], &msg) == nil {
			m.mu.Lock()
			how := "live"
			if !m.ready {
				how = "replay"
			}
			m.record(msg, how)
			m.mu.Unlock()
		}
	case "recovered":
		var r struct {
			Complete bool `json:"complete"`
		}
		if len(args) > 1 {
			_ = json.Unmarshal(args[1], &r)
		}
		m.mu.Lock()
		m.ready = true
		if !r.Complete {
			m.sync()
		}
		m.mu.Unlock()
	}
}

// wireMessage is the part of a `message` event (and of acks) the tests read.
type wireMessage struct {
	ID          string `json:"id"`
	ChatID      string `json:"chatId"`
	Seq         int64  `json:"seq"`
	ClientMsgID string `json:"clientMsgId"`
}

// record notes a received message and checks its seq against the last
// one of its chat. m.mu held.
func (m *member) record(msg wireMessage, how string) {
	if prev, dup := m.seen[msg.ID]; dup {
		if how != "sync" {
			m.problems = append(m.problems, fmt.Sprintf("%s: message %s (seq %d) received again %s (first %s)", m.name, msg.ID, msg.Seq, how, prev.how))
		}
		return
	}
	if last := m.lastSeq[msg.ChatID]; msg.Seq <= last && how != "sync" {
		m.problems = append(m.problems, fmt.Sprintf("%s: seq inversion in chat %s: %s seq %d after seq %d", m.name, msg.ChatID, how, msg.Seq, last))
	}
	m.lastSeq[msg.ChatID] = max(m.lastSeq[msg.ChatID], msg.Seq)
	m.seen[msg.ID] = received{seq: msg.Seq, how: how, at: time.Now(), conn: m.gen}
	if msg.ID > m.newest {
		m.newest = msg.ID
	}
}

// sync asks for messages after the newest one (recovery reported
// incomplete). m.mu held.
func (m *member) sync() {
	if m.conn == nil {
		return
	}
	id := m.nextAck
	m.nextAck++
	m.syncing[id] = true
	b, _ := json.Marshal(map[string]string{"lastMessageId": m.newest})
	go m.conn.write(`42/chat,` + strconv.Itoa(id) + `["sync",` + string(b) + `]`)
}

// ack resolves the join, a sync or an attempt.
func (m *member) ack(id int, data string) {
	var args []ackReply
	_ = json.Unmarshal([]byte(data), &args)
	var r ackReply
	if len(args) > 0 {
		r = args[0]
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case id == joinAck:
		m.ready = r.Success
	case m.syncing[id]:
		delete(m.syncing, id)
		for _, msg := range r.Messages {
			m.record(msg, "sync")
		}
		if !r.Complete && r.Success {
			m.sync()
		}
	default:
		m.resolve(id, r, now)
	}
}

// ackReply is an ack of join, sync or chat message.
type ackReply struct {
	Success  bool          `json:"success"`
	Message  wireMessage   `json:"message"`
	Messages []wireMessage `json:"messages"`
	Complete bool          `json:"complete"`
	Error    struct {
		Code string `json:"code"`
	} `json:"error"`
}

// resolve records the answer of an attempt (late ones included, once
// given up). m.mu held.
func (m *member) resolve(id int, r ackReply, now time.Time) {
	a, ok := m.pending[id]
	if !ok {
		return
	}
	delete(m.pending, id)
	a.answered = now
	if !r.Success {
		a.code = r.Error.Code
		if a.code == "" {
			a.code = "(no code)"
		}
		m.requeue(a.msg, now)
		return
	}
	if a.msg.ackedID == "" {
		a.msg.ackedID, a.msg.ackedSeq = r.Message.ID, r.Message.Seq
	}
	for i, q := range m.queue { // a late success of an attempt given up
		if q == a.msg {
			m.queue = append(m.queue[:i], m.queue[i+1:]...)
			break
		}
	}
}

// emit sends msg now (a new attempt) if the member is ready and fewer than
// maxPending attempts are unanswered.
func (m *member) emit(msg *outMsg, maxPending int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ready || m.conn == nil || m.outstanding() >= maxPending {
		return false
	}
	id := m.nextAck
	m.nextAck++
	a := &attempt{msg: msg, conn: m.gen, sent: time.Now()}
	msg.attempts = append(msg.attempts, a)
	m.pending[id] = a
	b, _ := json.Marshal(map[string]string{"chatId": m.chat, "content": msg.content, "clientMsgId": msg.clientMsgID})
	c := m.conn
	go func() { // a write blocked by a full socket must not hold m.mu
		if err := c.write(`42/chat,` + strconv.Itoa(id) + `["chat message",` + string(b) + `]`); err != nil {
			c.c.Close()
		}
	}()
	return true
}

// outstanding counts the attempts awaiting an answer, given up or not.
// m.mu held.
func (m *member) outstanding() int { return len(m.pending) }

// giveUp marks attempts unanswered after ackWait and queues their message
// again (a client's ack timeout); their answer, if it ever comes, is
// still recorded.
func (m *member) giveUp(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.pending {
		if !a.gaveUp && now.Sub(a.sent) > m.ackWait {
			a.gaveUp = true
			m.requeue(a.msg, now)
		}
	}
}

// next returns the message to send: a due retry first, else a new one
// when fresh is set (nil: nothing to send now).
func (m *member) next(now time.Time, fresh bool, seq *int) *outMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, q := range m.queue {
		if !now.Before(q.retryAt) {
			m.queue = append(m.queue[:i], m.queue[i+1:]...)
			return q
		}
	}
	if !fresh || !m.ready {
		return nil // no backlog of new messages while disconnected
	}
	return m.newMsg(seq)
}

// newMsg makes the member's next message. m.mu held.
func (m *member) newMsg(seq *int) *outMsg {
	*seq++
	msg := &outMsg{clientMsgID: fmt.Sprintf("%s-%d", m.name, *seq), content: fmt.Sprintf("%s says %d", m.name, *seq)}
	m.msgs = append(m.msgs, msg)
	return msg
}

// state reads the member under its lock.
func (m *member) state(f func() bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f()
}

// lastErrors returns why the last connections ended.
func (m *member) lastErrors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.notReady...)
}

// ackedAfter reports whether a message first sent at or after since was
// acked.
func (m *member) ackedAfter(since time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		msg := m.msgs[i]
		if len(msg.attempts) > 0 && msg.attempts[0].sent.Before(since) {
			return false
		}
		if msg.ackedID != "" && len(msg.attempts) > 0 {
			return true
		}
	}
	return false
}

// unacked counts the messages not acked yet.
func (m *member) unacked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, msg := range m.msgs {
		if msg.ackedID == "" {
			n++
		}
	}
	return n
}

// unqueue puts back a message that could not be sent.
func (m *member) unqueue(msg *outMsg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append([]*outMsg{msg}, m.queue...)
}

// ---- Engine.IO over WebSocket ----

// wsConn is one Engine.IO WebSocket connection: one reader (the session),
// writers serialised.
type wsConn struct {
	c        net.Conn
	r        io.Reader
	rw       io.ReadWriter // control frames (pong, close) are answered on it
	readWait time.Duration // ping interval + ping timeout

	wmu sync.Mutex
}

// dialEngine opens ws://addr/socket.io/?EIO=4&transport=websocket and
// reads the open packet.
func dialEngine(ctx context.Context, addr string) (*wsConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{Timeout: 3 * time.Second}.Dial(ctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		return nil, err
	}
	c := &wsConn{c: conn, r: conn, readWait: 5 * time.Second}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	c.rw = struct {
		io.Reader
		io.Writer
	}{c.r, lockedWriter{c}}
	open, err := c.read()
	if err != nil {
		conn.Close()
		return nil, err
	}
	var o struct{ PingInterval, PingTimeout int }
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &o) != nil {
		conn.Close()
		return nil, fmt.Errorf("not an open packet: %q", open)
	}
	c.readWait = time.Duration(o.PingInterval+o.PingTimeout)*time.Millisecond + time.Second
	return c, nil
}

func (c *wsConn) read() (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(c.readWait))
	b, _, err := wsutil.ReadServerData(c.rw)
	return string(b), err
}

func (c *wsConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	return wsutil.WriteClientText(c.c, []byte(s))
}

// lockedWriter serialises the reader's control-frame replies with write.
type lockedWriter struct{ c *wsConn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	_ = w.c.c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	return w.c.c.Write(p)
}

// sioPacket is a decoded Socket.IO packet (no binary attachments).
type sioPacket struct {
	typ  byte
	nsp  string
	id   int // -1 when absent
	data string
}

// parseSIO decodes "<type>[/nsp,][id][json]".
func parseSIO(s string) sioPacket {
	p := sioPacket{id: -1, nsp: "/"}
	if s == "" {
		return p
	}
	p.typ, s = s[0], s[1:]
	if strings.HasPrefix(s, "/") {
		nsp, rest, _ := strings.Cut(s, ",")
		p.nsp, s = nsp, rest
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		p.id, _ = strconv.Atoi(s[:i])
	}
	p.data = s[i:]
	return p
}
