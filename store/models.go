package store

import "time"

// Chat kinds (Chat.Kind).
const (
	KindGeneral = "general"
	KindOrder   = "order"
)

// Membership roles (Membership.Role).
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// Page size limits for list methods: a limit ≤ 0 means DefaultLimit, and
// limits above MaxLimit are clamped to it.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// User is an authenticated person. ID is the JWT sub.
type User struct {
	ID       string
	Name     string // display name ("name" or "fullName" claim)
	Username string
	Email    string
}

// Chat is a stored conversation.
type Chat struct {
	ID            string
	Kind          string // KindGeneral or KindOrder
	OrderID       string // set for KindOrder
	Title         string
	CreatorID     string
	Archived      bool
	ArchivedAt    time.Time // zero unless Archived
	LastSeq       int64     // seq of the newest message; 0 when empty
	LastMessageID string    // "" when empty
	ActivityAt    time.Time // newest message time, else CreatedAt
	CreatedAt     time.Time
}

// Membership is a user's place in a chat.
type Membership struct {
	ChatID   string
	UserID   string
	Role     string // RoleOwner or RoleMember
	JoinedAt time.Time
}

// Message is a stored chat message.
type Message struct {
	ID          string // sortable id, unique across chats; within a chat, id order = Seq order
	ChatID      string
	Seq         int64 // 1, 2, 3... per chat, no gaps
	SenderID    string
	Content     string
	ClientMsgID string // "" when the client sent none
	CreatedAt   time.Time
	Attachments []Attachment // never nil; empty when none
}

// Attachment is the metadata of an uploaded file; the bytes live in Files
// or Blobs under SHA256.
type Attachment struct {
	ID          string
	ChatID      string
	UploaderID  string
	MessageID   string // "" until a message references it
	Name        string
	Size        int64
	ContentType string
	SHA256      string // lower-case hex
	CreatedAt   time.Time
}

// ReadMark is the newest message a user has read in a chat.
type ReadMark struct {
	ChatID    string
	UserID    string
	MessageID string
	Seq       int64
	ReadAt    time.Time
}

// NewChat is the input of CreateChat.
type NewChat struct {
	Kind      string // KindGeneral or KindOrder
	OrderID   string // required for KindOrder, must be empty for KindGeneral
	Title     string
	CreatorID string   // becomes RoleOwner
	MemberIDs []string // become RoleMember; duplicates and the creator are ignored
}

// NewMessage is the input of CreateMessage.
type NewMessage struct {
	ChatID        string
	SenderID      string
	Content       string
	ClientMsgID   string   // optional; a retry with the same (sender, id) returns the original
	AttachmentIDs []string // attachments uploaded to the same chat by the sender
}

// ChatFilter selects ChatsForUser's page.
type ChatFilter struct {
	Archived bool // include archived chats (otherwise only active ones)
	Page     int  // 1-based; < 1 means 1
	Limit    int  // ≤ 0 means DefaultLimit; clamped to MaxLimit
}

// Rows as stored. Times are microseconds since the epoch (see migrations).

type userRow struct {
	ID        string
	Name      string
	Username  string
	Email     string
	CreatedAt int64
	UpdatedAt int64
}

type chatRow struct {
	ID            string
	Kind          string
	OrderID       string
	Title         string
	CreatorID     string
	Archived      bool
	ArchivedAt    *int64
	LastSeq       int64
	LastMessageID string
	ActivityAt    int64
	CreatedAt     int64
}

func (r chatRow) chat() Chat {
	c := Chat{
		ID: r.ID, Kind: r.Kind, OrderID: r.OrderID, Title: r.Title, CreatorID: r.CreatorID,
		Archived: r.Archived, LastSeq: r.LastSeq, LastMessageID: r.LastMessageID,
		ActivityAt: fromMicros(r.ActivityAt), CreatedAt: fromMicros(r.CreatedAt),
	}
	if r.ArchivedAt != nil {
		c.ArchivedAt = fromMicros(*r.ArchivedAt)
	}
	return c
}

type membershipRow struct {
	ChatID   string
	UserID   string
	Role     string
	JoinedAt int64
}

func (r membershipRow) membership() Membership {
	return Membership{ChatID: r.ChatID, UserID: r.UserID, Role: r.Role, JoinedAt: fromMicros(r.JoinedAt)}
}

type messageRow struct {
	ID          string
	ChatID      string
	Seq         int64
	SenderID    string
	Content     string
	ClientMsgID *string
	CreatedAt   int64
}

func (r messageRow) message() Message {
	m := Message{
		ID: r.ID, ChatID: r.ChatID, Seq: r.Seq, SenderID: r.SenderID, Content: r.Content,
		CreatedAt: fromMicros(r.CreatedAt), Attachments: []Attachment{},
	}
	if r.ClientMsgID != nil {
		m.ClientMsgID = *r.ClientMsgID
	}
	return m
}

type attachmentRow struct {
	ID          string
	ChatID      string
	UploaderID  string
	MessageID   *string
	Name        string
	Size        int64
	ContentType string
	SHA256      string `gorm:"column:sha256"`
	CreatedAt   int64
}

func (r attachmentRow) attachment() Attachment {
	a := Attachment{
		ID: r.ID, ChatID: r.ChatID, UploaderID: r.UploaderID, Name: r.Name, Size: r.Size,
		ContentType: r.ContentType, SHA256: r.SHA256, CreatedAt: fromMicros(r.CreatedAt),
	}
	if r.MessageID != nil {
		a.MessageID = *r.MessageID
	}
	return a
}

type readMarkRow struct {
	ChatID    string
	UserID    string
	MessageID string
	Seq       int64
	ReadAt    int64
}

func (r readMarkRow) readMark() ReadMark {
	return ReadMark{ChatID: r.ChatID, UserID: r.UserID, MessageID: r.MessageID, Seq: r.Seq, ReadAt: fromMicros(r.ReadAt)}
}

func clampPage(page, limit int) (offset, lim int) {
	if page < 1 {
		page = 1
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	return (page - 1) * limit, limit
}
