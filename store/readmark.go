package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// SetReadMark records that userID has read chatID up to messageID and
// returns the mark now stored. Marks never move backwards: marking an older
// message returns the newer mark unchanged (ReadAt included). ErrNotFound:
// no such chat or the message is not in it; ErrForbidden: not a member.
// Archived chats accept read marks (reading is not writing to the chat).
func (s *Store) SetReadMark(ctx context.Context, chatID, userID, messageID string) (ReadMark, error) {
	var out ReadMark
	err := s.write(ctx, func(tx *gorm.DB) error {
		if _, err := membership(tx, chatID, userID); errors.Is(err, ErrNotFound) {
			if _, cerr := chatByID(tx, chatID); cerr != nil {
				return cerr
			}
			return fmt.Errorf("%w: %q is not a member of chat %q", ErrForbidden, userID, chatID)
		} else if err != nil {
			return err
		}
		seq, err := seqOf(tx, chatID, messageID)
		if err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO read_marks (chat_id, user_id, message_id, seq, read_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (chat_id, user_id) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq, read_at = excluded.read_at
WHERE read_marks.seq < excluded.seq`, chatID, userID, messageID, seq, s.nowMicros()).Error; err != nil {
			return err
		}
		var rows []readMarkRow
		if err := tx.Raw("SELECT chat_id, user_id, message_id, seq, read_at FROM read_marks WHERE chat_id = ? AND user_id = ?",
			chatID, userID).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("read mark vanished")
		}
		out = rows[0].readMark()
		return nil
	})
	return out, wrap("set read mark", err)
}

// ReadMarks returns the chat's read marks, by user id.
func (s *Store) ReadMarks(ctx context.Context, chatID string) ([]ReadMark, error) {
	var rows []readMarkRow
	if err := s.db.WithContext(ctx).Raw("SELECT chat_id, user_id, message_id, seq, read_at FROM read_marks WHERE chat_id = ? ORDER BY user_id",
		chatID).Find(&rows).Error; err != nil {
		return nil, wrap("read marks", err)
	}
	out := make([]ReadMark, len(rows))
	for i, r := range rows {
		out[i] = r.readMark()
	}
	return out, nil
}
