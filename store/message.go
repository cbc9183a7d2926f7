package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

const messageColumns = "id, chat_id, seq, sender_id, content, client_msg_id, created_at"

// CreateMessage stores a message and returns it once committed.
//
// With a ClientMsgID, the insert is idempotent per sender: if (SenderID,
// ClientMsgID) was stored before, the original message is returned with
// created=false and nothing is written, whatever the new content says; the
// same ClientMsgID in another chat is ErrConflict. Errors: ErrNotFound (no
// such chat), ErrForbidden (sender not a member, or an attachment uploaded
// by someone else), ErrArchived, ErrInvalid (empty content and no
// attachments, unknown attachment, attachment of another chat), ErrConflict
// (attachment already used by another message).
//
// Concurrent calls share transactions (group commit, Config.Committers,
// commit.go), each returned only after its own message's COMMIT; a
// refused message (the errors above) fails alone, its batch-mates are
// stored. A deadline or cancellation of ctx never interrupts a COMMIT:
// while the message waits for its batch, ctx ending returns ctx's error
// and the message is not stored; once in a batch, the batch's statements
// and COMMIT are bounded by the latest deadline of its messages (plus
// Config.StatementTimeout), not interrupted by one of them, and the call
// returns the batch's outcome even after ctx ended. Without group commit
// ctx interrupts the statements before the COMMIT (see write). Either way
// the message is stored and returned, or not stored. A COMMIT that fails
// with the connection (its outcome unknown) is resolved by looking a row
// up.
//
// Ordering: the chat row is locked first (the chat's row lock on
// PostgreSQL, the database write lock on SQLite); seq and id are assigned
// under that lock, so concurrent inserts from any number of processes get
// consecutive seqs and ids that increase with seq, and one process's
// messages of a chat are stored in the order the calls queued them.
func (s *Store) CreateMessage(ctx context.Context, nm NewMessage) (Message, bool, error) {
	if err := checkNewMessage(nm); err != nil {
		return Message{}, false, err
	}
	if len(s.committers) == 0 {
		return s.createMessage(ctx, nm)
	}
	return s.committerFor(nm.ChatID).send(ctx, nm)
}

// createMessage stores one message in its own transaction: CreateMessage
// without group commit, and the retry of a batch that failed unexpectedly
// (commitBatch).
func (s *Store) createMessage(ctx context.Context, nm NewMessage) (Message, bool, error) {
	db := s.db.WithContext(ctx)
	if nm.ClientMsgID != "" {
		if m, ok, err := s.byClientMsgID(db, nm); err != nil || ok {
			return m, false, wrap("create message", err)
		}
	}
	var out Message
	err := s.write(ctx, func(tx *gorm.DB) (err error) {
		out, err = s.insertMessage(tx, nm)
		return err
	})
	if err != nil && out.ID != "" && isUnavailable(err) {
		// The COMMIT itself failed (the connection died): it may have
		// committed. Its row says.
		if m, ok := s.committed(ctx, out); ok {
			return m, true, nil
		}
	}
	if err != nil && nm.ClientMsgID != "" && isUniqueViolation(err) {
		// A concurrent retry with the same clientMsgId committed first.
		m, ok, lerr := s.byClientMsgID(db, nm)
		switch {
		case lerr == nil && ok:
			return m, false, nil
		case errors.Is(lerr, ErrConflict): // the winner used it in another chat
			return Message{}, false, lerr
		}
	}
	if err != nil {
		return Message{}, false, wrap("create message", err)
	}
	return out, true, nil
}

// committed resolves a COMMIT whose outcome is unknown: it reports
// whether m's row exists, asked on another connection within commitGrace
// (even if ctx ended: the question is whether m must be delivered).
func (s *Store) committed(ctx context.Context, m Message) (Message, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.commitGrace)
	defer cancel()
	var n int64
	if err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM messages WHERE id = ?", m.ID).Find(&n).Error; err != nil || n == 0 {
		return Message{}, false
	}
	s.writeFailed.Store(nil)
	return m, true
}

// checkNewMessage refuses what no database state makes valid.
func checkNewMessage(nm NewMessage) error {
	if nm.ChatID == "" || nm.SenderID == "" {
		return fmt.Errorf("%w: empty chat or sender id", ErrInvalid)
	}
	if nm.Content == "" && len(nm.AttachmentIDs) == 0 {
		return fmt.Errorf("%w: empty message", ErrInvalid)
	}
	return nil
}

// insertMessage is CreateMessage's transaction: it checks the sender,
// takes the next seq, stores the message and links its attachments.
func (s *Store) insertMessage(tx *gorm.DB, nm NewMessage) (Message, error) {
	if err := checkSender(tx, nm); err != nil {
		return Message{}, err
	}
	head, err := nextSeq(tx, nm.ChatID)
	if err != nil {
		return Message{}, err
	}
	now := s.now()
	row := messageRow{
		ID:       s.ids.nextAfter(now, head.LastMessageID),
		ChatID:   nm.ChatID,
		Seq:      head.LastSeq,
		SenderID: nm.SenderID,
		Content:  nm.Content,
		// Never before the previous message (clocks of several
		// instances may disagree): created_at order = seq order.
		CreatedAt: max(micros(now), head.ActivityAt),
	}
	if nm.ClientMsgID != "" {
		row.ClientMsgID = &nm.ClientMsgID
	}
	if err := insertMessageRow(tx, row); err != nil {
		return Message{}, err
	}
	out := row.message()
	if out.Attachments, err = s.attach(tx, nm, row.ID); err != nil {
		return Message{}, err
	}
	return out, nil
}

// checkSender returns ErrForbidden unless the sender is a member of the
// chat, ErrNotFound if there is no such chat.
func checkSender(tx *gorm.DB, nm NewMessage) error {
	_, err := membership(tx, nm.ChatID, nm.SenderID)
	if errors.Is(err, ErrNotFound) {
		if _, cerr := chatByID(tx, nm.ChatID); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: %q is not a member of chat %q", ErrForbidden, nm.SenderID, nm.ChatID)
	}
	return err
}

// chatHead is a chat's state as the next message sees it.
type chatHead struct {
	LastSeq       int64
	LastMessageID string
	ActivityAt    int64
}

// nextSeq increments the chat's last_seq, which locks the chat row
// (PostgreSQL) or the database (SQLite) until commit, and returns the new
// seq with the previous message's id and time. ErrArchived or ErrNotFound
// if no row was updated.
func nextSeq(tx *gorm.DB, chatID string) (chatHead, error) {
	var locked []chatHead
	if err := tx.Raw("UPDATE chats SET last_seq = last_seq + 1 WHERE id = ? AND archived = ? RETURNING last_seq, last_message_id, activity_at",
		chatID, false).Find(&locked).Error; err != nil {
		return chatHead{}, err
	}
	if len(locked) == 0 {
		if _, err := chatByID(tx, chatID); err != nil {
			return chatHead{}, err
		}
		return chatHead{}, fmt.Errorf("%w: chat %q", ErrArchived, chatID)
	}
	return locked[0], nil
}

// insertMessageRow stores the row and makes it the chat's last message.
func insertMessageRow(tx *gorm.DB, row messageRow) error {
	if err := tx.Exec("INSERT INTO messages ("+messageColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		row.ID, row.ChatID, row.Seq, row.SenderID, row.Content, row.ClientMsgID, row.CreatedAt).Error; err != nil {
		return err
	}
	return tx.Exec("UPDATE chats SET last_message_id = ?, activity_at = ? WHERE id = ?",
		row.ID, row.CreatedAt, row.ChatID).Error
}

// byClientMsgID finds the message a previous attempt stored.
func (s *Store) byClientMsgID(db *gorm.DB, nm NewMessage) (Message, bool, error) {
	var rows []messageRow
	if err := db.Raw("SELECT "+messageColumns+" FROM messages WHERE sender_id = ? AND client_msg_id = ?",
		nm.SenderID, nm.ClientMsgID).Find(&rows).Error; err != nil {
		return Message{}, false, err
	}
	if len(rows) == 0 {
		return Message{}, false, nil
	}
	if rows[0].ChatID != nm.ChatID {
		return Message{}, false, fmt.Errorf("%w: clientMsgId %q was used in another chat", ErrConflict, nm.ClientMsgID)
	}
	ms, err := s.withAttachments(db, rows)
	if err != nil {
		return Message{}, false, err
	}
	return ms[0], true, nil
}

// attach links the message's attachments after checking each one.
func (s *Store) attach(tx *gorm.DB, nm NewMessage, messageID string) ([]Attachment, error) {
	out := []Attachment{}
	seen := map[string]bool{}
	for _, id := range nm.AttachmentIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		a, err := attachmentByID(tx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown attachment %q", ErrInvalid, id)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case a.ChatID != nm.ChatID:
			return nil, fmt.Errorf("%w: attachment %q belongs to another chat", ErrInvalid, id)
		case a.UploaderID != nm.SenderID:
			return nil, fmt.Errorf("%w: attachment %q was uploaded by someone else", ErrForbidden, id)
		case a.MessageID != "":
			return nil, fmt.Errorf("%w: attachment %q is already attached to a message", ErrConflict, id)
		}
		if err := tx.Exec("UPDATE attachments SET message_id = ? WHERE id = ? AND message_id IS NULL", messageID, id).Error; err != nil {
			return nil, err
		}
		a.MessageID = messageID
		out = append(out, a)
	}
	return out, nil
}

// withAttachments converts rows and loads their attachments in one query.
func (s *Store) withAttachments(db *gorm.DB, rows []messageRow) ([]Message, error) {
	out := make([]Message, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	index := make(map[string]int, len(rows))
	for i, r := range rows {
		out[i] = r.message()
		ids[i] = r.ID
		index[r.ID] = i
	}
	var atts []attachmentRow
	if err := db.Raw("SELECT "+attachmentColumns+" FROM attachments WHERE message_id IN ? ORDER BY created_at, id", ids).Find(&atts).Error; err != nil {
		return nil, err
	}
	for _, a := range atts {
		i := index[*a.MessageID]
		out[i].Attachments = append(out[i].Attachments, a.attachment())
	}
	return out, nil
}

// MessageByID returns one message; ErrNotFound if unknown.
func (s *Store) MessageByID(ctx context.Context, id string) (Message, error) {
	db := s.db.WithContext(ctx)
	var rows []messageRow
	if err := db.Raw("SELECT "+messageColumns+" FROM messages WHERE id = ?", id).Find(&rows).Error; err != nil {
		return Message{}, wrap("message by id", err)
	}
	if len(rows) == 0 {
		return Message{}, fmt.Errorf("%w: message %q", ErrNotFound, id)
	}
	ms, err := s.withAttachments(db, rows)
	if err != nil {
		return Message{}, wrap("message by id", err)
	}
	return ms[0], nil
}

// MessagesPage returns page (1-based) of the chat's history, newest first,
// and the number of messages in the chat. ErrNotFound if the chat does not
// exist. Pages are offsets, so a message arriving between two requests
// shifts later pages by one; clients that need exact paging use
// MessagesBefore.
func (s *Store) MessagesPage(ctx context.Context, chatID string, page, limit int) ([]Message, int, error) {
	offset, limit := clampPage(page, limit)
	db := s.db.WithContext(ctx)
	c, err := chatByID(db, chatID)
	if err != nil {
		return nil, 0, wrap("messages page", err)
	}
	// Seqs are gap-free and messages are never deleted, so the chat's
	// last_seq is its message count: no COUNT(*) over the history.
	total := c.LastSeq
	ms, err := s.messages(db, "chat_id = ? ORDER BY seq DESC LIMIT ? OFFSET ?", chatID, limit, offset)
	if err != nil {
		return nil, 0, wrap("messages page", err)
	}
	return ms, int(total), nil
}

// MessagesBefore returns up to limit messages older than beforeID in the
// chat, newest first (the next page of history). ErrNotFound if the chat
// does not exist or beforeID is not one of its messages.
func (s *Store) MessagesBefore(ctx context.Context, chatID, beforeID string, limit int) ([]Message, error) {
	_, limit = clampPage(1, limit)
	db := s.db.WithContext(ctx)
	seq, err := seqOf(db, chatID, beforeID)
	if err != nil {
		return nil, wrap("messages before", err)
	}
	ms, err := s.messages(db, "chat_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?", chatID, seq, limit)
	return ms, wrap("messages before", err)
}

// MessagesAfter returns up to limit messages newer than afterID in the
// chat, oldest first (catching up). ErrNotFound as for MessagesBefore.
func (s *Store) MessagesAfter(ctx context.Context, chatID, afterID string, limit int) ([]Message, error) {
	_, limit = clampPage(1, limit)
	db := s.db.WithContext(ctx)
	seq, err := seqOf(db, chatID, afterID)
	if err != nil {
		return nil, wrap("messages after", err)
	}
	ms, err := s.messages(db, "chat_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?", chatID, seq, limit)
	return ms, wrap("messages after", err)
}

// MissedMessages returns what userID missed since sinceMessageID, for a
// reconnecting client: messages of the chats userID is a member of now
// (archived ones included) whose id is greater than sinceMessageID, in id
// order, at most limit of them. Ids are compared, so sinceMessageID may
// belong to any chat, or be a message the user can no longer see; it must be
// a well-formed id (ErrInvalid). Call again with the last id returned until
// fewer than limit come back: no duplicates, no gaps within a chat.
//
// Caveat (documented contract): a message is found only once committed, and
// across different chats ids come from the inserting instance's clock. A
// message committed in chat B after the client fetched, but with an id below
// the last id the client saw from chat A (two instances, clock skew, or a
// slow transaction in the same millisecond) is not "since" that id. Within
// one chat ids increase with seq, so per-chat recovery (MessagesAfter) is
// exact.
func (s *Store) MissedMessages(ctx context.Context, userID, sinceMessageID string, limit int) ([]Message, error) {
	if !validID(sinceMessageID) {
		return nil, fmt.Errorf("%w: message id %q", ErrInvalid, sinceMessageID)
	}
	_, limit = clampPage(1, limit)
	db := s.db.WithContext(ctx)
	ms, err := s.messages(db, "chat_id IN (SELECT chat_id FROM memberships WHERE user_id = ?) AND id > ? ORDER BY id ASC LIMIT ?",
		userID, sinceMessageID, limit)
	return ms, wrap("missed messages", err)
}

func (s *Store) messages(db *gorm.DB, where string, args ...any) ([]Message, error) {
	var rows []messageRow
	if err := db.Raw("SELECT "+messageColumns+" FROM messages WHERE "+where, args...).Find(&rows).Error; err != nil {
		return nil, err
	}
	return s.withAttachments(db, rows)
}

// seqOf returns the seq of messageID in chatID.
func seqOf(db *gorm.DB, chatID, messageID string) (int64, error) {
	var rows []struct{ Seq int64 }
	if err := db.Raw("SELECT seq FROM messages WHERE id = ? AND chat_id = ?", messageID, chatID).Find(&rows).Error; err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		if _, err := chatByID(db, chatID); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: message %q in chat %q", ErrNotFound, messageID, chatID)
	}
	return rows[0].Seq, nil
}
