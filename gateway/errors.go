package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// Error codes of SPEC §3, sent in object acks and as the "error" field of
// HTTP error bodies.
const (
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeInvalidPayload  = "invalid_payload"
	CodeRateLimited     = "rate_limited"
	CodePayloadTooLarge = "payload_too_large"
	CodeConflict        = "conflict"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// Error is what a client is told about a failure: a code of SPEC §3 and a
// message naming the cause. It is also an error, so handlers return the
// gateway's own refusals directly.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Refusals of the gateway's own handlers. Messages are sent to clients.
var (
	errSpoofedSocketID = &Error{CodeForbidden, "user.socketId must be your own socket id."}
	errSpoofedUserID   = &Error{CodeForbidden, "user.userId must be the userId this connection joined with."}
	errNotMember       = &Error{CodeForbidden, "You must join the room first."}
	errNotHost         = &Error{CodeForbidden, "Only the room's host can kick users."}
	errKickSelf        = &Error{CodeForbidden, "You cannot kick yourself."}
	errUserToKick      = &Error{CodeNotFound, "userToKick is not in this room."}
	errRoomMissing     = &Error{CodeNotFound, "Room not found."}
	errUserIDTaken     = &Error{CodeConflict, "userId is already in use in this room."}
	errNotFoundHTTP    = &Error{CodeNotFound, "Not Found"}
	errUsernameBound   = &Error{CodeForbidden, "username must be the one you joined with."}
	errChatsDisabled   = &Error{CodeUnavailable, "Stored chats are not available on this server."}
	errTimeout         = &Error{CodeUnavailable, "The request timed out."}
	errShuttingDown    = &Error{CodeUnavailable, "The server is shutting down."}
	errInternal        = &Error{CodeInternal, "Internal server error"}
)

// errNotJoinedLobby is the seed's sendMessage refusal; its ack keeps the
// seed's exact shape {error:"You must join the chat first"} (see renderAck).
var errNotJoinedLobby = &Error{CodeForbidden, "You must join the chat first"}

// replyOf maps any error to what the client is told. ok is false for
// errors the gateway does not know: those become `internal`, and the caller
// logs them (once) because their detail is never sent.
func replyOf(err error) (e Error, known bool) {
	var (
		ge  *Error
		ve  *wire.Error
		le  *ratelimit.LimitedError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ge):
		return *ge, true
	case errors.Is(err, errRegistryNoRoom):
		return *errRoomMissing, true
	case errors.Is(err, errRegistryUserIDTaken):
		return *errUserIDTaken, true
	case errors.As(err, &ve):
		return Error{CodeInvalidPayload, ve.Error()}, true
	case errors.As(err, &le):
		return Error{CodeRateLimited, "Too many requests, retry in " + roundUp(le.RetryAfter) + "."}, true
	case errors.As(err, &mbe):
		return Error{CodePayloadTooLarge, fmt.Sprintf("The request body exceeds %d bytes.", mbe.Limit)}, true
	case errors.Is(err, auth.ErrNoToken):
		return Error{CodeUnauthorized, "Authentication required"}, true
	case errors.Is(err, auth.ErrExpired):
		return Error{CodeUnauthorized, "Token expired"}, true
	case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrNotValidYet):
		return Error{CodeUnauthorized, "Invalid token"}, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, socketio.ErrAckTimeout):
		return *errTimeout, true
	case errors.Is(err, context.Canceled):
		return *errShuttingDown, true
	}
	return *errInternal, false
}

// roundUp renders d in whole seconds, rounded up (at least 1s).
func roundUp(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}

// statusOf is the HTTP status of a code.
func statusOf(code string) int {
	switch code {
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeInvalidPayload:
		return http.StatusBadRequest
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeConflict:
		return http.StatusConflict
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// httpError is NestJS's error body. Like NestJS's built-in exceptions
// thrown without a message (`new NotFoundException()` →
// {"statusCode":404,"message":"Not Found"}), the "error" field is omitted
// when the message is just the status text; otherwise it carries the code.
type httpError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error,omitempty"`
}

func httpBodyOf(e Error) (int, httpError) {
	st := statusOf(e.Code)
	body := httpError{StatusCode: st, Message: e.Message, Error: e.Code}
	if e.Message == http.StatusText(st) {
		body.Error = ""
	}
	return st, body
}

// exception is the payload of the "exception" event, NestJS's WsException
// shape.
type exception struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// failedAck is the object ack of a failed event.
type failedAck struct {
	Success bool  `json:"success"`
	Error   Error `json:"error"`
}

// legacyFailedAck is the seed's sendMessage refusal.
type legacyFailedAck struct {
	Error string `json:"error"`
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// isLimited reports whether err is a rate-limit refusal.
func isLimited(err error) bool {
	var le *ratelimit.LimitedError
	return errors.As(err, &le)
}
