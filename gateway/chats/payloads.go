package chats

import (
	"strconv"
	"strings"

	"github.com/sockgate/sockgate/gateway/event"
)

// Limits of chat payloads.
const (
	MaxChatContent     = 4000
	MaxChatAttachments = 10
	maxChatIDLen       = 64
	maxClientMsgIDLen  = 64
)

// checkID checks an id field (chat, message or attachment id).
func checkID(c *event.Check, path, v string) { c.Text(path, v, 1, maxChatIDLen) }

// validID is checkID alone.
func validID(path, v string) error {
	var c event.Check
	checkID(&c, path, v)
	return c.Err()
}

type joinReq struct {
	ChatID string `json:"chatId"`
}

func (p joinReq) Validate() error { return validID("chatId", p.ChatID) }

type joinReply struct {
	Success bool   `json:"success"`
	ChatID  string `json:"chatId"`
}

type userJoinedEvent struct {
	UserID string `json:"userId"`
	ChatID string `json:"chatId"`
}

type sendReq struct {
	ChatID      string   `json:"chatId"`
	Content     string   `json:"content"`
	Attachments []string `json:"attachments,omitempty"`
	ClientMsgID string   `json:"clientMsgId,omitempty"`
}

func (p sendReq) Validate() error {
	var c event.Check
	checkID(&c, "chatId", p.ChatID)
	if strings.TrimSpace(p.Content) == "" && len(p.Attachments) == 0 {
		c.Add("content", "Must not be empty.")
	} else {
		c.Length("content", p.Content, 0, MaxChatContent)
	}
	if c.MaxItems("attachments", len(p.Attachments), MaxChatAttachments) {
		for i, id := range p.Attachments {
			checkID(&c, "attachments."+strconv.Itoa(i), id)
		}
	}
	if p.ClientMsgID != "" {
		c.Text("clientMsgId", p.ClientMsgID, 0, maxClientMsgIDLen)
	}
	return c.Err()
}

type sendReply struct {
	Success bool        `json:"success"`
	Message restMessage `json:"message"`
}

type typingEvent struct {
	ChatID   string `json:"chatId"`
	UserID   string `json:"userId"`
	IsTyping bool   `json:"isTyping"`
}

type readReq struct {
	ChatID    string `json:"chatId"`
	MessageID string `json:"messageId"`
}

func (p readReq) Validate() error {
	var c event.Check
	checkID(&c, "chatId", p.ChatID)
	checkID(&c, "messageId", p.MessageID)
	return c.Err()
}

type readEvent struct {
	ChatID    string     `json:"chatId"`
	UserID    string     `json:"userId"`
	MessageID string     `json:"messageId"`
	ReadAt    event.Time `json:"readAt"`
}

type readReply struct {
	Success bool      `json:"success"`
	Read    readEvent `json:"read"`
}
