package chats

import (
	"context"
	"errors"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
)

// restChat is a chat as the REST API shows it.
type restChat struct {
	ID            string      `json:"id"`
	Kind          string      `json:"kind"`
	OrderID       string      `json:"orderId,omitempty"`
	Title         string      `json:"title"`
	CreatorID     string      `json:"creatorId"`
	Archived      bool        `json:"archived"`
	ArchivedAt    *event.Time `json:"archivedAt,omitempty"`
	LastSeq       int64       `json:"lastSeq"`
	LastMessageID string      `json:"lastMessageId,omitempty"`
	ActivityAt    event.Time  `json:"activityAt"`
	CreatedAt     event.Time  `json:"createdAt"`
	// UnreadCount is set by GET /chats only (omitted elsewhere): the
	// caller's unread messages, store.UnreadCounts (others' messages above
	// the caller's read mark).
	UnreadCount *int64 `json:"unreadCount,omitempty"`
}

func restChatOf(c store.Chat) restChat {
	v := restChat{
		ID: c.ID, Kind: c.Kind, OrderID: c.OrderID, Title: c.Title, CreatorID: c.CreatorID,
		Archived: c.Archived, LastSeq: c.LastSeq, LastMessageID: c.LastMessageID,
		ActivityAt: event.Time(c.ActivityAt), CreatedAt: event.Time(c.CreatedAt),
	}
	if c.Archived {
		t := event.Time(c.ArchivedAt)
		v.ArchivedAt = &t
	}
	return v
}

// restMembership is the reply of POST /chats/{id}/members.
type restMembership struct {
	ChatID   string     `json:"chatId"`
	UserID   string     `json:"userId"`
	Role     string     `json:"role"`
	JoinedAt event.Time `json:"joinedAt"`
}

// restMember is one entry of GET /chats/{id}/members.
type restMember struct {
	UserID   string     `json:"userId"`
	Name     string     `json:"name"`
	Username string     `json:"username,omitempty"`
	Role     string     `json:"role"`
	JoinedAt event.Time `json:"joinedAt"`
	Online   bool       `json:"online"`
	// LastReadMessageID is the member's read mark ("" before their first
	// read): what a client shows as read receipts after a reload.
	LastReadMessageID string `json:"lastReadMessageId,omitempty"`
}

// restSender is a message author, as in the socket "message" event.
type restSender struct {
	ID       string `json:"id"`
	FullName string `json:"fullName"`
}

// restMessage is a stored message in the shape of the /chat namespace's
// "message" event (SPEC §3) plus seq and clientMsgId.
type restMessage struct {
	ID          string           `json:"id"`
	ChatID      string           `json:"chatId"`
	Seq         int64            `json:"seq"`
	SenderID    string           `json:"senderId"`
	Content     string           `json:"content"`
	ClientMsgID string           `json:"clientMsgId,omitempty"`
	Timestamp   event.Time       `json:"timestamp"`
	Attachments []restAttachment `json:"attachments"`
	Sender      restSender       `json:"sender"`
}

// restPage is the envelope of paged lists. Page and Total are omitted for
// cursor pages of messages.
type restPage[T any] struct {
	Data    []T  `json:"data"`
	Page    int  `json:"page,omitempty"`
	Limit   int  `json:"limit"`
	Total   *int `json:"total,omitempty"`
	HasMore bool `json:"hasMore"`
}

func restMessageOf(m store.Message, sender store.User) restMessage {
	v := restMessage{
		ID: m.ID, ChatID: m.ChatID, Seq: m.Seq, SenderID: m.SenderID, Content: m.Content,
		ClientMsgID: m.ClientMsgID, Timestamp: event.Time(m.CreatedAt),
		Attachments: make([]restAttachment, 0, len(m.Attachments)),
		Sender:      restSender{ID: m.SenderID, FullName: sender.Name},
	}
	for _, at := range m.Attachments {
		v.Attachments = append(v.Attachments, restAttachmentOf(at))
	}
	return v
}

// restUsers looks each user up once per request. A user the store does not
// know (never connected, never named) shows with an empty name.
type restUsers struct {
	st    *store.Store
	users map[string]store.User
}

func newRESTUsers(st *store.Store) *restUsers {
	return &restUsers{st: st, users: map[string]store.User{}}
}

func (c *restUsers) get(ctx context.Context, id string) (store.User, error) {
	if u, ok := c.users[id]; ok {
		return u, nil
	}
	u, err := c.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		u, err = store.User{ID: id}, nil
	}
	if err != nil {
		return store.User{}, err
	}
	c.users[id] = u
	return u, nil
}
