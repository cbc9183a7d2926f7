package chats

import (
	"errors"
	"fmt"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
)

// Refusals of the stored chats, socket events and REST alike. Messages are
// sent to clients.
var (
	// ErrDisabled answers the stored-chat events of a server without a
	// store (Disable) and a typing with chatId there.
	ErrDisabled = &event.Error{Code: event.CodeUnavailable, Message: "Stored chats are not available on this server."}

	errJoinForbidden  = &event.Error{Code: event.CodeForbidden, Message: "You are not a member of this chat."}
	errNotJoined      = &event.Error{Code: event.CodeForbidden, Message: "Join the chat first."}
	errChatArchived   = &event.Error{Code: event.CodeConflict, Message: "This chat is archived and read-only."}
	errStoreDown      = &event.Error{Code: event.CodeUnavailable, Message: "The chat store is unavailable; try again later."}
	errChatMissing    = &event.Error{Code: event.CodeNotFound, Message: "Chat or message not found."}
	errChatConflict   = &event.Error{Code: event.CodeConflict, Message: "Conflicts with an existing message or attachment."}
	errChatBadRequest = &event.Error{Code: event.CodeInvalidPayload, Message: "The store refused the request as invalid."}

	errBadAttachment      = &event.Error{Code: event.CodeInvalidPayload, Message: "attachments: unknown, or not uploaded to this chat."}
	errAttachmentNotYours = &event.Error{Code: event.CodeForbidden, Message: "You are not a member of this chat, or an attachment was uploaded by someone else."}
	errSendConflict       = &event.Error{Code: event.CodeConflict, Message: "clientMsgId was used in another chat, or an attachment belongs to another message."}

	errBadLastMessageID = &event.Error{Code: event.CodeInvalidPayload, Message: "auth.lastMessageId is not a message id."}
	errBadSyncID        = &event.Error{Code: event.CodeInvalidPayload, Message: "lastMessageId is not a message id."}

	errChatNotFound  = &event.Error{Code: event.CodeNotFound, Message: "Chat not found."}
	errNotChatMember = errJoinForbidden // same words as the socket join
	errNotChatOwner  = &event.Error{Code: event.CodeForbidden, Message: "Only an owner of this chat can do this."}
	errChatFull      = &event.Error{Code: event.CodeConflict, Message: fmt.Sprintf("The chat already has %d members.", maxChatMembers)}
	errAlreadyMember = &event.Error{Code: event.CodeConflict, Message: "userId is already a member of this chat."}
	errNotJSON       = &event.Error{Code: event.CodeUnsupportedMedia, Message: "Content-Type must be application/json."}
)

// storeErr gives a store error the reply both the socket events and the
// REST API send; errors it does not know pass through unchanged (internal,
// or a context error event.ReplyOf knows).
func storeErr(err error) error {
	var reply *event.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &reply):
		return err // already decided
	case errors.Is(err, store.ErrUnavailable):
		reply = errStoreDown
	case errors.Is(err, store.ErrForbidden):
		reply = errJoinForbidden
	case errors.Is(err, store.ErrArchived):
		reply = errChatArchived
	case errors.Is(err, store.ErrNotFound):
		reply = errChatMissing
	case errors.Is(err, store.ErrConflict):
		reply = errChatConflict
	case errors.Is(err, store.ErrInvalid):
		reply = errChatBadRequest
	default:
		return err
	}
	return event.Refuse(reply, err)
}

// sendErr names the causes of CreateMessage's refusals (see its contract)
// more precisely than storeErr can.
func sendErr(err error, withAttachments bool) error {
	var reply *event.Error
	switch {
	case errors.Is(err, store.ErrInvalid):
		reply = errBadAttachment // content was validated before
	case errors.Is(err, store.ErrForbidden) && withAttachments:
		reply = errAttachmentNotYours
	case errors.Is(err, store.ErrConflict):
		reply = errSendConflict
	default:
		return err
	}
	return event.Refuse(reply, err)
}
