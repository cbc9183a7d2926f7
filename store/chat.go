package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

const chatColumns = "c.id, c.kind, c.order_id, c.title, c.creator_id, c.archived, c.archived_at, c.last_seq, c.last_message_id, c.activity_at, c.created_at"

// UpsertUser records or refreshes a user from their token claims. Empty
// fields do not overwrite stored values (a token without an email keeps the
// email a previous token gave). Claims that change nothing cost a read and
// no write, so updated_at is when the claims last changed: every "/chat"
// connection upserts its user, and a reconnect storm of 500 users must not
// queue 500 write transactions in front of the messages being sent (one
// writer on SQLite, one fsync each on PostgreSQL).
func (s *Store) UpsertUser(ctx context.Context, u User) error {
	if u.ID == "" {
		return fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	cur, err := s.UserByID(ctx, u.ID)
	switch {
	case err == nil && cur == cur.refreshed(u):
		return nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	now := s.nowMicros()
	err = s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO users (id, name, username, email, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
	name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE users.name END,
	username = CASE WHEN excluded.username <> '' THEN excluded.username ELSE users.username END,
	email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE users.email END,
	updated_at = excluded.updated_at`, u.ID, u.Name, u.Username, u.Email, now, now).Error
	})
	return wrap("upsert user", err)
}

// refreshed is u with the non-empty claims of c, as the upsert stores them.
func (u User) refreshed(c User) User {
	if c.Name != "" {
		u.Name = c.Name
	}
	if c.Username != "" {
		u.Username = c.Username
	}
	if c.Email != "" {
		u.Email = c.Email
	}
	return u
}

// UserByID returns a user; ErrNotFound if unknown. Users named only as chat
// members before they ever connected exist with empty names.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var rows []userRow
	if err := s.db.WithContext(ctx).Raw("SELECT id, name, username, email, created_at, updated_at FROM users WHERE id = ?", id).Find(&rows).Error; err != nil {
		return User{}, wrap("user by id", err)
	}
	if len(rows) == 0 {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, id)
	}
	r := rows[0]
	return User{ID: r.ID, Name: r.Name, Username: r.Username, Email: r.Email}, nil
}

// UsersByID returns the known users among ids, keyed by id (unknown ids are
// absent), in one query: for rendering senders of a page of history.
func (s *Store) UsersByID(ctx context.Context, ids []string) (map[string]User, error) {
	out := make(map[string]User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []userRow
	if err := s.db.WithContext(ctx).Raw("SELECT id, name, username, email, created_at, updated_at FROM users WHERE id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, wrap("users by id", err)
	}
	for _, r := range rows {
		out[r.ID] = User{ID: r.ID, Name: r.Name, Username: r.Username, Email: r.Email}
	}
	return out, nil
}

// ensureUsers creates placeholder rows for user ids not seen yet, so that a
// chat can name members who have not connected (their names arrive with
// their first UpsertUser).
func (s *Store) ensureUsers(tx *gorm.DB, ids []string, now int64) error {
	if len(ids) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 3*len(ids))
	b.WriteString("INSERT INTO users (id, created_at, updated_at) VALUES ")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		args = append(args, id, now, now)
	}
	b.WriteString(" ON CONFLICT (id) DO NOTHING")
	return tx.Exec(b.String(), args...).Error
}

// CreateChat creates a chat whose creator is its owner and whose other
// MemberIDs are members. Unknown user ids are created as placeholders.
func (s *Store) CreateChat(ctx context.Context, nc NewChat) (Chat, error) {
	switch {
	case nc.CreatorID == "":
		return Chat{}, fmt.Errorf("%w: empty creator id", ErrInvalid)
	case nc.Kind == KindOrder && nc.OrderID == "":
		return Chat{}, fmt.Errorf("%w: an order chat needs an orderId", ErrInvalid)
	case nc.Kind == KindGeneral && nc.OrderID != "":
		return Chat{}, fmt.Errorf("%w: a general chat has no orderId", ErrInvalid)
	case nc.Kind != KindOrder && nc.Kind != KindGeneral:
		return Chat{}, fmt.Errorf("%w: chat kind %q (want general or order)", ErrInvalid, nc.Kind)
	}
	members := []string{}
	seen := map[string]bool{nc.CreatorID: true}
	for _, id := range nc.MemberIDs {
		if id == "" {
			return Chat{}, fmt.Errorf("%w: empty member id", ErrInvalid)
		}
		if !seen[id] {
			seen[id] = true
			members = append(members, id)
		}
	}
	now := s.nowMicros()
	row := chatRow{
		ID: s.ids.next(s.now()), Kind: nc.Kind, OrderID: nc.OrderID, Title: nc.Title,
		CreatorID: nc.CreatorID, ActivityAt: now, CreatedAt: now,
	}
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := s.ensureUsers(tx, append([]string{nc.CreatorID}, members...), now); err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO chats (id, kind, order_id, title, creator_id, archived, last_seq, last_message_id, activity_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, 0, '', ?, ?)`, row.ID, row.Kind, row.OrderID, row.Title, row.CreatorID, false, now, now).Error; err != nil {
			return err
		}
		if err := tx.Exec("INSERT INTO memberships (chat_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
			row.ID, nc.CreatorID, RoleOwner, now).Error; err != nil {
			return err
		}
		for _, id := range members {
			if err := tx.Exec("INSERT INTO memberships (chat_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
				row.ID, id, RoleMember, now).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Chat{}, wrap("create chat", err)
	}
	return row.chat(), nil
}

// ChatByID returns a chat; ErrNotFound if it does not exist.
func (s *Store) ChatByID(ctx context.Context, id string) (Chat, error) {
	c, err := chatByID(s.db.WithContext(ctx), id)
	return c, wrap("chat by id", err)
}

func chatByID(db *gorm.DB, id string) (Chat, error) {
	var rows []chatRow
	if err := db.Raw("SELECT "+chatColumns+" FROM chats c WHERE c.id = ?", id).Find(&rows).Error; err != nil {
		return Chat{}, err
	}
	if len(rows) == 0 {
		return Chat{}, fmt.Errorf("%w: chat %q", ErrNotFound, id)
	}
	return rows[0].chat(), nil
}

// AddMember adds userID to the chat with role (RoleOwner or RoleMember;
// "" means RoleMember). Authorization is the caller's: check the adder's
// Membership first. ErrNotFound: no such chat; ErrArchived: the chat is
// read-only; ErrConflict: already a member.
func (s *Store) AddMember(ctx context.Context, chatID, userID, role string) (Membership, error) {
	if role == "" {
		role = RoleMember
	}
	if role != RoleMember && role != RoleOwner {
		return Membership{}, fmt.Errorf("%w: role %q (want owner or member)", ErrInvalid, role)
	}
	if userID == "" {
		return Membership{}, fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	now := s.nowMicros()
	err := s.write(ctx, func(tx *gorm.DB) error {
		c, err := chatByID(tx, chatID)
		if err != nil {
			return err
		}
		if c.Archived {
			return fmt.Errorf("%w: chat %q", ErrArchived, chatID)
		}
		if err := s.ensureUsers(tx, []string{userID}, now); err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO memberships (chat_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)
ON CONFLICT (chat_id, user_id) DO NOTHING`, chatID, userID, role, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: %q is already a member of chat %q", ErrConflict, userID, chatID)
		}
		return nil
	})
	if err != nil {
		return Membership{}, wrap("add member", err)
	}
	return Membership{ChatID: chatID, UserID: userID, Role: role, JoinedAt: fromMicros(now)}, nil
}

// Membership returns userID's membership in chatID; ErrNotFound when the
// user is not a member (or the chat does not exist).
func (s *Store) Membership(ctx context.Context, chatID, userID string) (Membership, error) {
	m, err := membership(s.db.WithContext(ctx), chatID, userID)
	return m, wrap("membership", err)
}

func membership(db *gorm.DB, chatID, userID string) (Membership, error) {
	var rows []membershipRow
	if err := db.Raw("SELECT chat_id, user_id, role, joined_at FROM memberships WHERE chat_id = ? AND user_id = ?", chatID, userID).Find(&rows).Error; err != nil {
		return Membership{}, err
	}
	if len(rows) == 0 {
		return Membership{}, fmt.Errorf("%w: %q is not a member of chat %q", ErrNotFound, userID, chatID)
	}
	return rows[0].membership(), nil
}

// IsMember reports whether userID belongs to chatID (false for an unknown chat).
func (s *Store) IsMember(ctx context.Context, chatID, userID string) (bool, error) {
	_, err := s.Membership(ctx, chatID, userID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Members returns the chat's memberships, owners first, then by join time.
func (s *Store) Members(ctx context.Context, chatID string) ([]Membership, error) {
	var rows []membershipRow
	err := s.db.WithContext(ctx).Raw(`SELECT chat_id, user_id, role, joined_at FROM memberships WHERE chat_id = ?
ORDER BY CASE WHEN role = 'owner' THEN 0 ELSE 1 END, joined_at, user_id`, chatID).Find(&rows).Error
	if err != nil {
		return nil, wrap("members", err)
	}
	out := make([]Membership, len(rows))
	for i, r := range rows {
		out[i] = r.membership()
	}
	return out, nil
}

// ChatsForUser returns one page of userID's chats, newest activity first
// (last message time, else creation time; ties by id, newest first), and the
// number of chats matching the filter.
func (s *Store) ChatsForUser(ctx context.Context, userID string, f ChatFilter) ([]Chat, int, error) {
	offset, limit := clampPage(f.Page, f.Limit)
	where := "m.user_id = ?"
	args := []any{userID}
	if !f.Archived {
		where += " AND c.archived = ?"
		args = append(args, false)
	}
	db := s.db.WithContext(ctx)
	var total int64
	if err := db.Raw("SELECT COUNT(*) FROM chats c JOIN memberships m ON m.chat_id = c.id WHERE "+where, args...).Find(&total).Error; err != nil {
		return nil, 0, wrap("chats for user", err)
	}
	var rows []chatRow
	err := db.Raw("SELECT "+chatColumns+" FROM chats c JOIN memberships m ON m.chat_id = c.id WHERE "+where+
		" ORDER BY c.activity_at DESC, c.id DESC LIMIT ? OFFSET ?", append(args, limit, offset)...).Find(&rows).Error
	if err != nil {
		return nil, 0, wrap("chats for user", err)
	}
	out := make([]Chat, len(rows))
	for i, r := range rows {
		out[i] = r.chat()
	}
	return out, int(total), nil
}

// ChatIDsForUser returns the ids of all of userID's chats, archived ones
// included (presence and reconnects need them all), in id order.
func (s *Store) ChatIDsForUser(ctx context.Context, userID string) ([]string, error) {
	var ids []string
	if err := s.db.WithContext(ctx).Raw("SELECT chat_id FROM memberships WHERE user_id = ? ORDER BY chat_id", userID).Find(&ids).Error; err != nil {
		return nil, wrap("chat ids for user", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// ArchiveChat makes a chat read-only. Only an owner may archive
// (ErrForbidden otherwise, including for non-members); ErrNotFound if the
// chat does not exist. Archiving an archived chat is a no-op that returns it.
func (s *Store) ArchiveChat(ctx context.Context, chatID, byUserID string) (Chat, error) {
	var out Chat
	err := s.write(ctx, func(tx *gorm.DB) error {
		c, err := chatByID(tx, chatID)
		if err != nil {
			return err
		}
		m, err := membership(tx, chatID, byUserID)
		if errors.Is(err, ErrNotFound) || (err == nil && m.Role != RoleOwner) {
			return fmt.Errorf("%w: only an owner may archive chat %q", ErrForbidden, chatID)
		}
		if err != nil {
			return err
		}
		if !c.Archived {
			if err := tx.Exec("UPDATE chats SET archived = ?, archived_at = ? WHERE id = ? AND archived = ?",
				true, s.nowMicros(), chatID, false).Error; err != nil {
				return err
			}
		}
		out, err = chatByID(tx, chatID)
		return err
	})
	return out, wrap("archive chat", err)
}
