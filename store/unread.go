package store

import (
	"context"
)

// UnreadCounts returns, for each of chatIDs, how many messages userID has
// not read: messages of other senders whose seq is above userID's read mark
// in that chat (every message of others when there is no mark). The user's
// own messages never count. Every requested chat is in the result, zero
// when nothing is unread; membership is the caller's to check (the REST
// chat list asks only about the caller's chats).
//
// One query for the whole list: each chat's count is a range of the
// (chat_id, seq) unique index above the mark.
func (s *Store) UnreadCounts(ctx context.Context, userID string, chatIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(chatIDs))
	if len(chatIDs) == 0 {
		return out, nil
	}
	for _, id := range chatIDs {
		out[id] = 0
	}
	var rows []struct {
		ChatID string
		Unread int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT m.chat_id AS chat_id, COUNT(*) AS unread
FROM messages m LEFT JOIN read_marks r ON r.chat_id = m.chat_id AND r.user_id = ?
WHERE m.chat_id IN ? AND m.sender_id <> ? AND m.seq > COALESCE(r.seq, 0)
GROUP BY m.chat_id`, userID, chatIDs, userID).Find(&rows).Error
	if err != nil {
		return nil, wrap("unread counts", err)
	}
	for _, r := range rows {
		out[r.ChatID] = r.Unread
	}
	return out, nil
}
