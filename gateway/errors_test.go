package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/ratelimit"
)

func TestReplyOf(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code, msg string
		known     bool
	}{
		{"GatewayError", errNotHost, CodeForbidden, "Only the room's host can kick users.", true},
		{"WrappedGatewayError", fmt.Errorf("kick: %w", errUserToKick), CodeNotFound, "userToKick is not in this room.", true},
		{"Validation", &wire.Error{Issues: []wire.Issue{{Path: "roomName", Message: "Must be at least 2 characters."}}}, CodeInvalidPayload, "roomName: Must be at least 2 characters.", true},
		{"RateLimited", &ratelimit.LimitedError{Rule: "/:chat", Limit: 10, RetryAfter: 2500 * time.Millisecond}, CodeRateLimited, "Too many requests, retry in 3s.", true},
		{"RateLimitedSubSecond", fmt.Errorf("x: %w", &ratelimit.LimitedError{RetryAfter: time.Millisecond}), CodeRateLimited, "Too many requests, retry in 1s.", true},
		{"BodyTooLarge", &http.MaxBytesError{Limit: 1024}, CodePayloadTooLarge, "The request body exceeds 1024 bytes.", true},
		{"NoToken", auth.ErrNoToken, CodeUnauthorized, "Authentication required", true},
		{"InvalidToken", fmt.Errorf("%w: bad signature", auth.ErrInvalidToken), CodeUnauthorized, "Invalid token", true},
		{"ExpiredToken", auth.ErrExpired, CodeUnauthorized, "Token expired", true},
		{"NotValidYet", auth.ErrNotValidYet, CodeUnauthorized, "Invalid token", true},
		{"RoomMissing", errRegistryNoRoom, CodeNotFound, "Room not found.", true},
		{"UserIDTaken", errRegistryUserIDTaken, CodeConflict, "userId is already in use in this room.", true},
		{"Deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), CodeUnavailable, "The request timed out.", true},
		{"Canceled", context.Canceled, CodeUnavailable, "The server is shutting down.", true},
		{"Unknown", errors.New("pq: connection refused to 10.0.0.5"), CodeInternal, "Internal server error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, known := replyOf(tt.err)
			if e.Code != tt.code || e.Message != tt.msg || known != tt.known {
				t.Errorf("replyOf = %+v known=%v, want {%s %s} known=%v", e, known, tt.code, tt.msg, tt.known)
			}
		})
	}
}

func TestHTTPBodyOf(t *testing.T) {
	tests := []struct {
		name   string
		e      Error
		status int
		body   string
	}{
		{"NestBareNotFound", *errNotFoundHTTP, 404, `{"statusCode":404,"message":"Not Found"}`},
		{"WithCode", Error{CodeForbidden, "Only owners may add members."}, 403, `{"statusCode":403,"message":"Only owners may add members.","error":"forbidden"}`},
		{"RateLimited", Error{CodeRateLimited, "Too many requests, retry in 3s."}, 429, `{"statusCode":429,"message":"Too many requests, retry in 3s.","error":"rate_limited"}`},
		{"Invalid", Error{CodeInvalidPayload, "x"}, 400, `{"statusCode":400,"message":"x","error":"invalid_payload"}`},
		{"Unauthorized", Error{CodeUnauthorized, "Invalid token"}, 401, `{"statusCode":401,"message":"Invalid token","error":"unauthorized"}`},
		{"TooLarge", Error{CodePayloadTooLarge, "big"}, 413, `{"statusCode":413,"message":"big","error":"payload_too_large"}`},
		{"Conflict", Error{CodeConflict, "c"}, 409, `{"statusCode":409,"message":"c","error":"conflict"}`},
		{"Unavailable", Error{CodeUnavailable, "u"}, 503, `{"statusCode":503,"message":"u","error":"unavailable"}`},
		{"Internal", *errInternal, 500, `{"statusCode":500,"message":"Internal server error","error":"internal"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := httpBodyOf(tt.e)
			if st != tt.status {
				t.Errorf("status %d, want %d", st, tt.status)
			}
			want(t, "body", string(raw(body)), tt.body)
		})
	}
}
