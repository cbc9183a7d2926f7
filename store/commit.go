package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Group commit (issue 11): CreateMessage hands its message to a committer,
// which stores everything queued while its previous batch committed in one
// transaction, with a handful of statements whatever the batch's size, and
// answers each sender after that COMMIT. Concurrent senders thus share
// transactions and fsyncs; a lone message commits at once (no timer).
//
// A chat's messages always go to the same committer (a hash of its id), so
// a process's messages of one chat are stored in arrival order, and two
// committers never wait for each other's chat rows. Order across processes
// is still decided in the database: a batch locks its chat rows (sorted by
// id, so batches of several committers or processes cannot deadlock) before
// reading their last seq.

// Batch caps. A batch takes what is queued up to these; the first message
// is always taken. The parameters of its largest statement (the INSERT:
// 7 a message) stay far below PostgreSQL's 65535 and SQLite's 32766.
const (
	maxBatch            = 256
	maxBatchBytes       = 1 << 20 // message content
	maxBatchAttachments = 1024
	// attachmentsPerQuery bounds one attachment lookup's IN list.
	attachmentsPerQuery = 500
)

// errBatchRace aborts a batch whose checked state changed under it (a
// concurrent process took an attachment): its messages are retried one by one.
var errBatchRace = errors.New("store: batch raced with another writer")

// States of a sendReq: its caller and its committer race to move it out
// of queued; the one that wins decides whether it runs.
const (
	reqQueued    int32 = iota
	reqTaken           // in a batch: its caller waits for the batch's outcome
	reqAbandoned       // its caller's ctx ended first: it never runs
)

// sendReq is one CreateMessage waiting for its batch.
type sendReq struct {
	ctx   context.Context
	nm    NewMessage
	state atomic.Int32
	done  chan sendResult // 1-buffered: the committer never blocks on it
}

type sendResult struct {
	m       Message
	created bool
	err     error
}

// committer is one group-commit queue and the goroutine that drains it.
// Its queue holds one entry per CreateMessage caller blocked on it, so
// it is bounded by the callers (the gateway bounds events in flight).
type committer struct {
	s       *Store
	mu      sync.Mutex
	pending []*sendReq
	closed  bool
	wake    chan struct{} // 1-buffered: "pending changed"
}

// startCommitters starts n committers (n ≤ 0: none, CreateMessage then
// runs one transaction per message).
func (s *Store) startCommitters(n int) {
	s.commitSeed = maphash.MakeSeed()
	for range n {
		c := &committer{s: s, wake: make(chan struct{}, 1)}
		s.committers = append(s.committers, c)
		s.commitWG.Go(c.run)
	}
}

// stopCommitters lets the committers drain their queues and waits for
// them; later sends fail with ErrUnavailable.
func (s *Store) stopCommitters() {
	for _, c := range s.committers {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.signal()
	}
	s.commitWG.Wait()
}

// committerFor returns the committer of a chat.
func (s *Store) committerFor(chatID string) *committer {
	return s.committers[maphash.String(s.commitSeed, chatID)%uint64(len(s.committers))]
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues nm and waits for its batch. A ctx that ends while nm is
// still queued returns at once (nm never runs); once nm is in a batch,
// send waits for the batch's outcome, which the batch's own deadline
// bounds (commitBatch): the caller learns whether nm was stored.
func (c *committer) send(ctx context.Context, nm NewMessage) (Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, false, wrap("create message", err)
	}
	r := &sendReq{ctx: ctx, nm: nm, done: make(chan sendResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Message{}, false, fmt.Errorf("store: create message: %w: store closed", ErrUnavailable)
	}
	c.pending = append(c.pending, r)
	c.mu.Unlock()
	c.signal()
	var res sendResult
	select {
	case res = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return Message{}, false, wrap("create message", ctx.Err())
		}
		res = <-r.done
	}
	return res.m, res.created, res.err
}

// run commits batches until the committer is closed and drained.
func (c *committer) run() {
	for {
		batch, ok := c.take()
		if !ok {
			return
		}
		if len(batch) > 0 {
			c.s.commitBatch(batch)
		}
	}
}

// take waits for queued messages and returns the next batch: the oldest
// ones, within the caps, minus those whose caller gave up (their ctx
// ended before the batch began: answered with their ctx's error). ok is
// false once the committer is closed and its queue empty.
func (c *committer) take() (batch []*sendReq, ok bool) {
	c.mu.Lock()
	for len(c.pending) == 0 {
		if c.closed {
			c.mu.Unlock()
			return nil, false
		}
		c.mu.Unlock()
		<-c.wake
		c.mu.Lock()
	}
	n, size, atts := 0, 0, 0
	for ; n < len(c.pending) && n < maxBatch; n++ {
		nm := c.pending[n].nm
		size += len(nm.Content)
		atts += len(nm.AttachmentIDs)
		if n > 0 && (size > maxBatchBytes || atts > maxBatchAttachments) {
			break
		}
	}
	batch = c.pending[:n:n]
	if n == len(c.pending) {
		c.pending = nil
	} else {
		c.pending = slices.Clone(c.pending[n:])
	}
	c.mu.Unlock()
	live := batch[:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // abandoned: its caller returned
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- sendResult{err: wrap("create message", err)}
			continue
		}
		live = append(live, r)
	}
	return live, true
}

// batchContext is the context of a batch's statements: the first
// message's values without any cancellation, until the latest deadline of
// its messages (none if one has none). write adds commitGrace for the
// COMMIT. A member whose own deadline passes meanwhile still waits for the
// batch: it may commit, and the gateway delivers what committed.
func batchContext(batch []*sendReq) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(batch[0].ctx))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}

// commitBatch stores a batch in one transaction and answers each of its
// messages. Refusals (not a member, archived, a bad attachment...) answer
// only their message. A failure a retry may not meet answers all of them
// with it; anything else unexpected (a unique violation or a deadlock from
// a concurrent process, errBatchRace) rolls the batch back and stores its
// messages one transaction each.
func (s *Store) commitBatch(batch []*sendReq) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	var results []sendResult
	err := s.write(ctx, func(tx *gorm.DB) (err error) {
		results, err = s.insertBatch(tx, batch)
		return err
	})
	if err != nil && isUnavailable(err) {
		// The COMMIT may have succeeded (the connection died under it):
		// the batch is all or nothing, so one stored row says.
		if i := slices.IndexFunc(results, func(r sendResult) bool { return r.created }); i >= 0 {
			if _, ok := s.committed(ctx, results[i].m); ok {
				err = nil
			}
		}
	}
	switch {
	case err == nil:
		for i, r := range batch {
			r.done <- results[i]
		}
	case fallBack(err):
		for _, r := range batch {
			m, created, err := s.createMessage(r.ctx, r.nm)
			r.done <- sendResult{m: m, created: created, err: err}
		}
	default:
		err = wrap("create message", err)
		for _, r := range batch {
			r.done <- sendResult{err: err}
		}
	}
}

// fallBack reports a batch failure that per-message transactions may not
// meet: not the database unavailable, not the batch's deadline.
func fallBack(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := pgCodeOf(err); code == "40P01" || code == "40001" {
		return true // deadlock or serialization failure with another process
	}
	return !isUnavailable(err)
}

// batchChat is a locked chat row and, as the batch assigns seqs, its new head.
type batchChat struct {
	ID            string
	LastSeq       int64
	LastMessageID string
	ActivityAt    int64
	Archived      bool
	touched       bool
}

type senderKey struct{ sender, clientMsgID string }

type memberKey struct{ chat, user string }

// insertBatch is commitBatch's transaction. It returns one result per
// message (refusals in their err; created for the messages it stored); a
// non-nil error aborts the whole batch.
func (s *Store) insertBatch(tx *gorm.DB, batch []*sendReq) ([]sendResult, error) {
	p, err := s.readBatchState(tx, batch)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range batch {
		p.plan(i, now)
	}
	if err := p.write(tx); err != nil {
		return nil, err
	}
	if err := p.loadOriginals(tx); err != nil {
		return nil, err
	}
	for i, j := range p.dupOf {
		m := p.results[j].m
		m.Attachments = slices.Clone(m.Attachments)
		p.results[i] = sendResult{m: m}
	}
	return p.results, nil
}

// batchPlan is a batch's state in the database, read under the chats'
// locks, and what the batch decides to store.
type batchPlan struct {
	s       *Store
	batch   []*sendReq
	chats   map[string]*batchChat
	known   map[senderKey]messageRow // messages stored before, by idempotency key
	members map[memberKey]bool
	atts    map[string]Attachment

	results   []sendResult
	accepted  map[senderKey]int // the batch's first stored message of each key
	dupOf     map[int]int       // result i is a retry of stored message j
	originals []int             // results that are messages stored before
	rows      []messageRow
	claimed   map[string]bool // attachments linked by this batch
}

// readBatchState locks the batch's chats and reads what its checks need.
func (s *Store) readBatchState(tx *gorm.DB, batch []*sendReq) (*batchPlan, error) {
	p := &batchPlan{s: s, batch: batch, results: make([]sendResult, len(batch)),
		accepted: map[senderKey]int{}, dupOf: map[int]int{}, claimed: map[string]bool{}}
	var err error
	if p.chats, err = s.lockChats(tx, batch); err != nil {
		return nil, err
	}
	if p.known, err = s.messagesByKeys(tx, batch); err != nil {
		return nil, err
	}
	if p.members, err = s.batchMembers(tx, batch); err != nil {
		return nil, err
	}
	if p.atts, err = batchAttachments(tx, batch); err != nil {
		return nil, err
	}
	return p, nil
}

// plan decides message i: a retry of a stored message (or of one earlier
// in the batch), a refusal, or a new row with the chat's next seq.
func (p *batchPlan) plan(i int, now time.Time) {
	nm := p.batch[i].nm
	if p.retry(i, nm) {
		return
	}
	c := p.chats[nm.ChatID]
	if err := p.refusal(c, nm); err != nil {
		p.results[i].err = err
		return
	}
	linked, err := checkAttachments(nm, p.atts, p.claimed)
	if err != nil {
		p.results[i].err = err
		return
	}
	c.LastSeq++
	c.touched = true
	row := messageRow{
		ID:       p.s.ids.nextAfter(now, c.LastMessageID),
		ChatID:   nm.ChatID,
		Seq:      c.LastSeq,
		SenderID: nm.SenderID,
		Content:  nm.Content,
		// As insertMessage: never before the chat's previous message.
		CreatedAt: max(micros(now), c.ActivityAt),
	}
	c.LastMessageID, c.ActivityAt = row.ID, row.CreatedAt
	if nm.ClientMsgID != "" {
		row.ClientMsgID = &nm.ClientMsgID
		p.accepted[senderKey{nm.SenderID, nm.ClientMsgID}] = i
	}
	p.rows = append(p.rows, row)
	m := row.message()
	for _, a := range linked {
		p.claimed[a.ID] = true
		a.MessageID = row.ID
		m.Attachments = append(m.Attachments, a)
	}
	p.results[i] = sendResult{m: m, created: true}
}

// retry reports whether message i's idempotency key was stored before or
// earlier in this batch, and records its answer.
func (p *batchPlan) retry(i int, nm NewMessage) bool {
	if nm.ClientMsgID == "" {
		return false
	}
	key := senderKey{nm.SenderID, nm.ClientMsgID}
	if row, ok := p.known[key]; ok {
		if row.ChatID != nm.ChatID {
			p.results[i].err = clientMsgIDConflict(nm)
		} else {
			p.results[i].m = row.message()
			p.originals = append(p.originals, i)
		}
		return true
	}
	if j, ok := p.accepted[key]; ok {
		if p.batch[j].nm.ChatID != nm.ChatID {
			p.results[i].err = clientMsgIDConflict(nm)
		} else {
			p.dupOf[i] = j
		}
		return true
	}
	return false
}

// refusal is why nm cannot go into chat c (nil: it can).
func (p *batchPlan) refusal(c *batchChat, nm NewMessage) error {
	switch {
	case c == nil:
		return fmt.Errorf("%w: chat %q", ErrNotFound, nm.ChatID)
	case !p.members[memberKey{nm.ChatID, nm.SenderID}]:
		return fmt.Errorf("%w: %q is not a member of chat %q", ErrForbidden, nm.SenderID, nm.ChatID)
	case c.Archived:
		return fmt.Errorf("%w: chat %q", ErrArchived, nm.ChatID)
	}
	return nil
}

// write stores the planned rows, the chats' new heads and the attachment
// links.
func (p *batchPlan) write(tx *gorm.DB) error {
	if len(p.rows) == 0 {
		return nil
	}
	if err := insertMessageRows(tx, p.rows); err != nil {
		return err
	}
	if err := updateChatHeads(tx, p.chats); err != nil {
		return err
	}
	for _, r := range p.results {
		if r.created {
			if err := linkAttachments(tx, r.m); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadOriginals completes the answers of retries of messages stored
// before the batch with their attachments.
func (p *batchPlan) loadOriginals(tx *gorm.DB) error {
	if len(p.originals) == 0 {
		return nil
	}
	rows := make([]messageRow, len(p.originals))
	for k, i := range p.originals {
		rows[k] = p.known[senderKey{p.batch[i].nm.SenderID, p.batch[i].nm.ClientMsgID}]
	}
	ms, err := p.s.withAttachments(tx, rows)
	if err != nil {
		return err
	}
	for k, i := range p.originals {
		p.results[i].m = ms[k]
	}
	return nil
}

func clientMsgIDConflict(nm NewMessage) error {
	return fmt.Errorf("%w: clientMsgId %q was used in another chat", ErrConflict, nm.ClientMsgID)
}

// lockChats reads the batch's chats, locked until COMMIT: FOR UPDATE in id
// order on PostgreSQL (concurrent batches lock in the same order), the
// database write lock (BEGIN IMMEDIATE) on SQLite. Unknown chats are absent.
func (s *Store) lockChats(tx *gorm.DB, batch []*sendReq) (map[string]*batchChat, error) {
	ids := make([]string, 0, len(batch))
	for _, r := range batch {
		ids = append(ids, r.nm.ChatID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	q := "SELECT id, last_seq, last_message_id, activity_at, archived FROM chats WHERE id IN ? ORDER BY id"
	if s.dialect == DialectPostgres {
		q += " FOR UPDATE"
	}
	var rows []batchChat
	if err := tx.Raw(q, ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]*batchChat, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// messagesByKeys returns the stored messages of the batch's (sender,
// clientMsgId) pairs.
func (s *Store) messagesByKeys(tx *gorm.DB, batch []*sendReq) (map[senderKey]messageRow, error) {
	var pairs [][2]string
	for _, r := range batch {
		if r.nm.ClientMsgID != "" {
			pairs = append(pairs, [2]string{r.nm.SenderID, r.nm.ClientMsgID})
		}
	}
	var rows []messageRow
	if err := s.byPairs(tx, messageColumns, "messages", "sender_id", "client_msg_id", pairs, &rows); err != nil {
		return nil, err
	}
	out := make(map[senderKey]messageRow, len(rows))
	for _, r := range rows {
		out[senderKey{r.SenderID, *r.ClientMsgID}] = r
	}
	return out, nil
}

// batchMembers returns which of the batch's (chat, sender) pairs are
// memberships.
func (s *Store) batchMembers(tx *gorm.DB, batch []*sendReq) (map[memberKey]bool, error) {
	pairs := make([][2]string, len(batch))
	for i, r := range batch {
		pairs[i] = [2]string{r.nm.ChatID, r.nm.SenderID}
	}
	var rows []struct{ ChatID, UserID string }
	if err := s.byPairs(tx, "chat_id, user_id", "memberships", "chat_id", "user_id", pairs, &rows); err != nil {
		return nil, err
	}
	out := make(map[memberKey]bool, len(rows))
	for _, r := range rows {
		out[memberKey{r.ChatID, r.UserID}] = true
	}
	return out, nil
}

// byPairs scans into dest the columns cols of table's rows whose (a, b),
// a unique key, is one of pairs: one index lookup per pair in one
// statement. Lists of a values and of b values would let the planner,
// misled by stale statistics, scan every row of one a (every message of
// a sender); a plain join over a VALUES list scans the whole index on
// SQLite and may on PostgreSQL.
func (s *Store) byPairs(tx *gorm.DB, cols, table, a, b string, pairs [][2]string, dest any) error {
	slices.SortFunc(pairs, func(x, y [2]string) int { return strings.Compare(x[0]+"\x00"+x[1], y[0]+"\x00"+y[1]) })
	pairs = slices.Compact(pairs)
	if len(pairs) == 0 {
		return nil
	}
	var values strings.Builder
	args := make([]any, 0, 2*len(pairs))
	for i, p := range pairs {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(CAST(? AS TEXT), CAST(? AS TEXT))")
		args = append(args, p[0], p[1])
	}
	var q string
	if s.dialect == DialectPostgres {
		// LIMIT 1 keeps the subquery a lookup per pair: PostgreSQL
		// flattens a plain lateral join and plans it from the statistics.
		q = "SELECT t.* FROM (VALUES " + values.String() + ") AS k (a, b) CROSS JOIN LATERAL (SELECT " + cols +
			" FROM " + table + " WHERE " + a + " = k.a AND " + b + " = k.b LIMIT 1) t"
	} else {
		// CROSS JOIN makes k the outer loop in SQLite.
		q = "WITH k (a, b) AS (VALUES " + values.String() + ") SELECT " + cols +
			" FROM k CROSS JOIN " + table + " ON " + a + " = k.a AND " + b + " = k.b"
	}
	return tx.Raw(q, args...).Find(dest).Error
}

// batchAttachments returns the attachments the batch's messages name.
func batchAttachments(tx *gorm.DB, batch []*sendReq) (map[string]Attachment, error) {
	var ids []string
	for _, r := range batch {
		ids = append(ids, r.nm.AttachmentIDs...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ids = distinct(ids)
	out := make(map[string]Attachment, len(ids))
	for chunk := range slices.Chunk(ids, attachmentsPerQuery) {
		var rows []attachmentRow
		if err := tx.Raw("SELECT "+attachmentColumns+" FROM attachments WHERE id IN ?", chunk).Find(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.attachment()
		}
	}
	return out, nil
}

// checkAttachments applies attach's rules to nm's attachments, as loaded
// by batchAttachments; claimed are those earlier messages of the batch
// took. It returns them in nm's order, without duplicates.
func checkAttachments(nm NewMessage, atts map[string]Attachment, claimed map[string]bool) ([]Attachment, error) {
	var out []Attachment
	seen := map[string]bool{}
	for _, id := range nm.AttachmentIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		a, ok := atts[id]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: unknown attachment %q", ErrInvalid, id)
		case a.ChatID != nm.ChatID:
			return nil, fmt.Errorf("%w: attachment %q belongs to another chat", ErrInvalid, id)
		case a.UploaderID != nm.SenderID:
			return nil, fmt.Errorf("%w: attachment %q was uploaded by someone else", ErrForbidden, id)
		case a.MessageID != "" || claimed[id]:
			return nil, fmt.Errorf("%w: attachment %q is already attached to a message", ErrConflict, id)
		}
		out = append(out, a)
	}
	return out, nil
}

// insertMessageRows stores rows with one INSERT.
func insertMessageRows(tx *gorm.DB, rows []messageRow) error {
	var q strings.Builder
	q.WriteString("INSERT INTO messages (" + messageColumns + ") VALUES ")
	args := make([]any, 0, 7*len(rows))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, r.ChatID, r.Seq, r.SenderID, r.Content, r.ClientMsgID, r.CreatedAt)
	}
	return tx.Exec(q.String(), args...).Error
}

// updateChatHeads writes the new last_seq, last_message_id and activity_at
// of the chats the batch stored messages in, with one UPDATE.
func updateChatHeads(tx *gorm.DB, chats map[string]*batchChat) error {
	var q strings.Builder
	q.WriteString("WITH v (id, last_seq, last_message_id, activity_at) AS (VALUES ")
	var args []any
	n := 0
	for _, c := range chats {
		if !c.touched {
			continue
		}
		if n > 0 {
			q.WriteString(", ")
		}
		n++
		q.WriteString("(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT))")
		args = append(args, c.ID, c.LastSeq, c.LastMessageID, c.ActivityAt)
	}
	q.WriteString(") UPDATE chats SET last_seq = v.last_seq, last_message_id = v.last_message_id, activity_at = v.activity_at FROM v WHERE chats.id = v.id")
	res := tx.Exec(q.String(), args...)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != int64(n) {
		return fmt.Errorf("%w: %d of %d chats updated", errBatchRace, res.RowsAffected, n)
	}
	return nil
}

// linkAttachments points m's attachments at it. They were checked free
// in this transaction; one taken meanwhile (by another process) aborts
// the batch.
func linkAttachments(tx *gorm.DB, m Message) error {
	for _, a := range m.Attachments {
		res := tx.Exec("UPDATE attachments SET message_id = ? WHERE id = ? AND message_id IS NULL", m.ID, a.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("%w: attachment %q", errBatchRace, a.ID)
		}
	}
	return nil
}

// distinct returns ss sorted without duplicates.
func distinct(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return slices.Compact(ss)
}
