package event

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// Error codes of SPEC §3, sent in object acks and as the "error" field of
// HTTP error bodies. CodeUnsupportedMedia exists only over HTTP (415): only
// REST bodies have media types.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeInvalidPayload   = "invalid_payload"
	CodeRateLimited      = "rate_limited"
	CodePayloadTooLarge  = "payload_too_large"
	CodeConflict         = "conflict"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeUnsupportedMedia = "unsupported_media_type"
)

// Error is what a client is told about a failure: a code and a message
// naming the cause. It is also an error, so handlers return their refusals
// directly; ReplyOf finds it through any wrapping.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Refusals every product may meet. Messages are sent to clients.
var (
	ErrNeedAuth     = &Error{CodeUnauthorized, "Authentication required"}
	ErrTimeout      = &Error{CodeUnavailable, "The request timed out."}
	ErrExpired      = &Error{CodeUnavailable, "The request expired before the server could handle it; try again."}
	ErrShuttingDown = &Error{CodeUnavailable, "The server is shutting down."}
	ErrLimiterDown  = &Error{CodeUnavailable, "Rate limiting is unavailable; try again later."}
	ErrInternal     = &Error{CodeInternal, "Internal server error"}
	ErrNotFoundHTTP = &Error{CodeNotFound, "Not Found"}
)

// refusal is a fact from a leaf package (a store or registry error) with
// what the client is told about it: ReplyOf finds reply, logs print both.
type refusal struct {
	reply *Error
	err   error
}

func (e *refusal) Error() string   { return e.reply.Error() + ": " + e.err.Error() }
func (e *refusal) Unwrap() []error { return []error{e.reply, e.err} }

// Refuse wraps err (kept for the log) with the reply the client gets.
func Refuse(reply *Error, err error) error { return &refusal{reply: reply, err: err} }

// ReplyOf maps any error to what the client is told. known is false for
// errors no package foresaw: those become `internal`, and the caller logs
// them (once) because their detail is never sent.
func ReplyOf(err error) (e Error, known bool) {
	var (
		ge  *Error
		te  *auth.TokenError
		ve  *ValidationError
		le  *ratelimit.LimitedError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ge):
		return *ge, true
	case errors.As(err, &ve):
		return Error{CodeInvalidPayload, ve.Error()}, true
	case errors.As(err, &le):
		return Error{CodeRateLimited, "Too many requests, retry in " + roundUp(le.RetryAfter) + "."}, true
	case errors.As(err, &mbe):
		return Error{CodePayloadTooLarge, fmt.Sprintf("The request body exceeds %d bytes.", mbe.Limit)}, true
	case errors.As(err, &te):
		return Error{CodeUnauthorized, te.Reason}, true
	case errors.Is(err, auth.ErrNoToken):
		return Error{CodeUnauthorized, "Authentication required"}, true
	case errors.Is(err, auth.ErrExpired):
		return Error{CodeUnauthorized, "Token expired"}, true
	case errors.Is(err, auth.ErrNotValidYet):
		return Error{CodeUnauthorized, "Token not valid yet"}, true
	case errors.Is(err, auth.ErrInvalidToken):
		return Error{CodeUnauthorized, "Invalid token"}, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, socketio.ErrAckTimeout):
		return *ErrTimeout, true
	case errors.Is(err, context.Canceled):
		return *ErrShuttingDown, true
	}
	return *ErrInternal, false
}

// roundUp renders d in whole seconds, rounded up (at least 1s).
func roundUp(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}

// StatusOf is the HTTP status of a code.
func StatusOf(code string) int {
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
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
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
	st := StatusOf(e.Code)
	body := httpError{StatusCode: st, Message: e.Message, Error: e.Code}
	if e.Message == http.StatusText(st) {
		body.Error = ""
	}
	return st, body
}

// exception is the payload of the "exception" event, NestJS's WsException
// shape, on every namespace.
type exception struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// failedAck is the object ack of a failed event.
type failedAck struct {
	Success bool  `json:"success"`
	Error   Error `json:"error"`
}

// AckShaper is implemented by a refusal whose object ack has a shape of its
// own (the lobby seed's {error:"You must join the chat first"}); the
// `exception` event is sent as for any refusal.
type AckShaper interface {
	error
	AckBody() any
}

// closeAfter marks a refusal after whose reply the socket is disconnected.
type closeAfter struct{ err error }

func (e *closeAfter) Error() string { return e.err.Error() }
func (e *closeAfter) Unwrap() error { return e.err }

// DisconnectAfter wraps a handler's refusal so that the pipeline
// disconnects the socket once the reply is written (a seed's rule:
// "disconnect unauthorized users"). Emits to one connection are written in
// call order, so the client reads the reply first.
func DisconnectAfter(err error) error { return &closeAfter{err: err} }

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
