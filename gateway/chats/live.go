package chats

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/store"
)

// Live "message" delivery (issue 9 item 2): every instance emits each
// chat's messages to its own sockets in seq (commit) order, whatever order
// their senders finish in, here or on other instances.
//
//   - A sender, once its message committed, hands it to its instance's
//     sequencer (deliver) and, with a cluster adapter, to every other
//     instance with ServerSideEmit(liveEvent): one Redis publish, like the
//     broadcast it replaces. Each instance's sequencer then emits it with a
//     Local broadcast to the chat's room. (So a Node server sharing the
//     adapter does not see stored-chat messages: it serves none.)
//   - The sequencer keeps, per chat, the next seq it expects. A message
//     with that seq is emitted at once, with the consecutive ones it held;
//     a later one is held until the missing ones arrive or gapWait (250ms)
//     passes — a sender that died between its commit and its publish, or a
//     publish lost with Redis. The sequencer then reads the missing ones
//     from the store (they committed: seqs have no gaps), after the last
//     message it emitted, within gapFetchTimeout, emits them and the held
//     ones in order, and ignores them if their own publish comes later.
//     What the store cannot give (it is down) is skipped: recovery and
//     REST have it. One that arrives after its successors were emitted is
//     emitted anyway: late rather than lost.
//   - The first message of a chat an instance sees (since it started, or
//     since the chat was idle for lineIdle and forgotten) is held up to
//     gapWait unless it is seq 1: its predecessor may still be on its way.
//   - Sockets replaying missed messages (recovery.go) are in recoveringRoom,
//     which the broadcast excludes; deliver hands them the message instead,
//     under recovering's read lock, which a replay takes exclusively only to
//     go live (no I/O under it).
//   - A replay reads the store, so it may send a message the line has not
//     emitted yet: one held (first sight, a gap) or not pushed yet (its
//     sender between COMMIT and deliver). Before going live it tells the
//     line how far it went per chat (seen); the line's later emits up to
//     that seq skip the socket (by its own room), so it never gets a
//     message twice. Such a mark ends when the line emits past it, or
//     after aheadTTL.
//
// A chat's emits are serialised by its line's mutex (the emit is a local
// enqueue; the only I/O under it is the store read after a gap, bounded by
// gapFetchTimeout); chats never wait for each other.
const (
	gapWait = 250 * time.Millisecond
	// gapFetchTimeout bounds the store read of missing messages.
	gapFetchTimeout = time.Second
	lineIdle        = 10 * time.Minute
	// aheadTTL bounds how long a line remembers that a socket got its
	// messages up to a seq from a replay (seen).
	aheadTTL = 10 * time.Second
	// maxLines is the number of chats remembered before idle ones are
	// swept.
	maxLines = 10000
	// liveEvent is the server-side event carrying a committed message to
	// the other instances.
	liveEvent = "sockgate:chat message"
)

// liveMsg is a committed message on its way to the sockets.
type liveMsg struct {
	ChatID string `json:"chatId"`
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	// Message is the "message" event's payload: a restMessage here, its
	// JSON from another instance.
	Message any `json:"message"`
}

// remoteMsg is liveMsg as another instance's ServerSideEmit carries it.
type remoteMsg struct {
	ChatID  string          `json:"chatId"`
	Seq     int64           `json:"seq"`
	ID      string          `json:"id"`
	Message json.RawMessage `json:"message"`
}

// sequencer orders each chat's live messages on this instance.
type sequencer struct {
	// emit sends m to the chat's sockets but those whose ids are in
	// except (they have it from a replay).
	emit func(m liveMsg, except []string)
	// fetch reads up to n messages of a chat after afterID from the store
	// (nil: none).
	fetch func(chatID, afterID string, n int) []liveMsg

	mu    sync.Mutex
	lines map[string]*line
}

// line is one chat's state.
type line struct {
	mu      sync.Mutex
	next    int64 // seq expected next; 0: none seen yet
	lastID  string
	pending map[int64]liveMsg
	// healed are seqs read from the store after a gap, whose own
	// publish, if it still comes, is dropped.
	healed map[int64]bool
	timer  *time.Timer
	used   time.Time
	// ahead holds the sockets that have this chat's messages up to a seq
	// from a replay, by socket id (seen).
	ahead map[string]aheadMark
}

// aheadMark is how far a socket's replay went, and when it said so.
type aheadMark struct {
	seq int64
	at  time.Time
}

func newSequencer(emit func(m liveMsg, except []string), fetch func(chatID, afterID string, n int) []liveMsg) *sequencer {
	return &sequencer{emit: emit, fetch: fetch, lines: make(map[string]*line)}
}

// line returns the chat's line, creating it (and sweeping idle lines when
// there are many).
func (s *sequencer) line(chatID string) *line {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines[chatID]
	if l == nil {
		if len(s.lines) >= maxLines {
			s.sweep(now)
		}
		l = &line{pending: make(map[int64]liveMsg), healed: make(map[int64]bool)}
		s.lines[chatID] = l
	}
	l.used = now
	return l
}

// sweep forgets lines idle for lineIdle with nothing held. s.mu is held.
func (s *sequencer) sweep(now time.Time) {
	for id, l := range s.lines {
		if l.mu.TryLock() {
			if len(l.pending) == 0 && now.Sub(l.used) > lineIdle {
				delete(s.lines, id)
			}
			l.mu.Unlock()
		}
	}
}

// push hands a committed message to the sequencer.
func (s *sequencer) push(m liveMsg) {
	l := s.line(m.ChatID)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.next == 0 && m.Seq <= 1, m.Seq == l.next:
		s.out(l, m)
		s.flush(l, false)
	case m.Seq < l.next && l.next != 0:
		if l.healed[m.Seq] {
			delete(l.healed, m.Seq) // emitted from the store already
			return
		}
		s.emit(m, l.except(m.Seq)) // late: its successors went out after gapWait
	default:
		l.pending[m.Seq] = m
		if l.timer == nil {
			l.timer = time.AfterFunc(gapWait, func() { s.gapExpired(l) })
		}
	}
}

// flush emits the held messages that are next in line; with skip it first
// gives up on the missing ones. l.mu is held.
func (s *sequencer) flush(l *line, skip bool) {
	if skip && len(l.pending) > 0 {
		seqs := make([]int64, 0, len(l.pending))
		for q := range l.pending {
			seqs = append(seqs, q)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		l.next = seqs[0]
	}
	for {
		m, ok := l.pending[l.next]
		if !ok {
			break
		}
		delete(l.pending, l.next)
		s.out(l, m)
	}
	if len(l.pending) == 0 && l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// out emits the next message of a line. l.mu is held.
func (s *sequencer) out(l *line, m liveMsg) {
	s.emit(m, l.except(m.Seq))
	l.next, l.lastID = m.Seq+1, m.ID
}

// seen records that socket sid got chatID's messages up to seq from a
// replay: the line's emits of those skip it.
func (s *sequencer) seen(chatID, sid string, seq int64) {
	l := s.line(chatID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next > seq {
		return // emitted past it already
	}
	if l.ahead == nil {
		l.ahead = make(map[string]aheadMark)
	}
	l.ahead[sid] = aheadMark{seq: seq, at: time.Now()}
}

// except returns the sockets that have the message of seq from a replay,
// and forgets the marks this emit reaches or that expired. l.mu is held.
func (l *line) except(seq int64) []string {
	if len(l.ahead) == 0 {
		return nil
	}
	var out []string
	now := time.Now()
	for sid, a := range l.ahead {
		if a.seq >= seq && now.Sub(a.at) < aheadTTL {
			out = append(out, sid)
		}
		if a.seq <= seq || now.Sub(a.at) >= aheadTTL {
			delete(l.ahead, sid)
		}
	}
	return out
}

// gapExpired emits what a line held for gapWait: first the missing
// messages the store has, then the held ones, skipping what is still
// missing.
func (s *sequencer) gapExpired(l *line) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	s.heal(l)
	for len(l.pending) > 0 {
		s.flush(l, true)
	}
}

// heal emits the missing messages before the first held one that the
// store has. l.mu is held.
func (s *sequencer) heal(l *line) {
	if s.fetch == nil || l.lastID == "" || len(l.pending) == 0 {
		return // first sight: what was emitted before is unknown
	}
	first := int64(0)
	var chatID string
	for q, m := range l.pending {
		if first == 0 || q < first {
			first, chatID = q, m.ChatID
		}
	}
	if first <= l.next {
		return
	}
	if len(l.healed) > maxLines { // publishes that never came
		clear(l.healed)
	}
	for _, m := range s.fetch(chatID, l.lastID, int(first-l.next)) {
		if m.Seq != l.next {
			break
		}
		l.healed[m.Seq] = true
		s.out(l, m)
	}
	s.flush(l, false)
}

// deliver sends a committed message to the chat's sockets on every
// instance, in seq order (see above).
func (ch *Chats) deliver(ctx context.Context, m liveMsg) {
	ch.seq.push(m)
	err := ch.n.IO().ServerSideEmit(context.WithoutCancel(ctx), liveEvent, m)
	if err != nil && !errors.Is(err, socketio.ErrNotSupported) {
		ch.n.Pipeline().Logger().Error("message not published to the other instances", "chat_id", m.ChatID, "seq", m.Seq, "err", err)
	}
}

// missing is the sequencer's fetch: up to n messages of chatID after
// afterID, from the store, within gapFetchTimeout (none on failure,
// logged).
func (ch *Chats) missing(chatID, afterID string, n int) []liveMsg {
	ctx, cancel := context.WithTimeout(ch.n.Pipeline().Context(), gapFetchTimeout)
	defer cancel()
	msgs, err := ch.st.MessagesAfter(ctx, chatID, afterID, min(n, store.MaxLimit))
	if err != nil {
		ch.n.Pipeline().Logger().Warn("missing live messages not read from the store", "chat_id", chatID, "err", err)
		return nil
	}
	users := newRESTUsers(ch.st)
	out := make([]liveMsg, 0, len(msgs))
	for _, m := range msgs {
		u, err := users.get(ctx, m.SenderID)
		if err != nil {
			break
		}
		out = append(out, liveMsg{ChatID: m.ChatID, Seq: m.Seq, ID: m.ID, Message: restMessageOf(m, u)})
	}
	return out
}

// remote takes a message another instance committed.
func (ch *Chats) remote(args socketio.Args, _ func(any)) {
	var m remoteMsg
	if err := args.Decode(0, &m); err != nil || m.ChatID == "" {
		ch.n.Pipeline().Logger().Warn("malformed message from another instance", "err", err)
		return
	}
	ch.seq.push(liveMsg{ChatID: m.ChatID, Seq: m.Seq, ID: m.ID, Message: m.Message})
}

// emitLive is the sequencer's emit: the chat's room except the recovering
// sockets, which get it from their replay, and except the sockets whose
// replay sent it already.
func (ch *Chats) emitLive(m liveMsg, except []string) {
	ch.rec.mu.RLock()
	defer ch.rec.mu.RUnlock()
	ch.n.Emit(ch.n.IO().Local().To(chatRoom(m.ChatID)).Except(append(except, recoveringRoom)...), "message", m.Message)
	for r := range ch.rec.byChat[m.ChatID] {
		r.buffer(m)
	}
}
