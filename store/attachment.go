package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"gorm.io/gorm"
)

const attachmentColumns = "id, chat_id, uploader_id, message_id, name, size, content_type, sha256, created_at"

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CreateAttachment records an uploaded file's metadata (the bytes are
// already in Files or Blobs). An empty ID is generated; CreatedAt and MessageID are
// set by the store. The uploader must be a member (ErrForbidden) of an
// existing (ErrNotFound), non-archived (ErrArchived) chat.
func (s *Store) CreateAttachment(ctx context.Context, a Attachment) (Attachment, error) {
	if !sha256Hex.MatchString(a.SHA256) || a.Size < 0 || a.Name == "" || a.UploaderID == "" {
		return Attachment{}, fmt.Errorf("%w: attachment metadata (name, uploader, size, sha256)", ErrInvalid)
	}
	if a.ID == "" {
		a.ID = s.ids.next(s.now())
	}
	a.MessageID = ""
	now := s.nowMicros()
	a.CreatedAt = fromMicros(now)
	err := s.write(ctx, func(tx *gorm.DB) error {
		c, err := chatByID(tx, a.ChatID)
		if err != nil {
			return err
		}
		if _, err := membership(tx, a.ChatID, a.UploaderID); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %q is not a member of chat %q", ErrForbidden, a.UploaderID, a.ChatID)
		} else if err != nil {
			return err
		}
		if c.Archived {
			return fmt.Errorf("%w: chat %q", ErrArchived, a.ChatID)
		}
		err = tx.Exec("INSERT INTO attachments ("+attachmentColumns+") VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)",
			a.ID, a.ChatID, a.UploaderID, a.Name, a.Size, a.ContentType, a.SHA256, now).Error
		if err != nil && isUniqueViolation(err) {
			return fmt.Errorf("%w: attachment %q exists", ErrConflict, a.ID)
		}
		return err
	})
	if err != nil {
		return Attachment{}, wrap("create attachment", err)
	}
	return a, nil
}

// AttachmentByID returns an attachment's metadata; ErrNotFound if unknown.
// Access control (members only) is the caller's: compare ChatID.
func (s *Store) AttachmentByID(ctx context.Context, id string) (Attachment, error) {
	a, err := attachmentByID(s.db.WithContext(ctx), id)
	return a, wrap("attachment by id", err)
}

func attachmentByID(db *gorm.DB, id string) (Attachment, error) {
	var rows []attachmentRow
	if err := db.Raw("SELECT "+attachmentColumns+" FROM attachments WHERE id = ?", id).Find(&rows).Error; err != nil {
		return Attachment{}, err
	}
	if len(rows) == 0 {
		return Attachment{}, fmt.Errorf("%w: attachment %q", ErrNotFound, id)
	}
	return rows[0].attachment(), nil
}
