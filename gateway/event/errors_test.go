package event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"encoding/json"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
)

var errHost = &Error{Code: CodeForbidden, Message: "Only the room's host can kick users."}

func TestReplyOf(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code, msg string
		known     bool
	}{
		{"GatewayError", errHost, CodeForbidden, "Only the room's host can kick users.", true},
		{"WrappedGatewayError", fmt.Errorf("kick: %w", errHost), CodeForbidden, "Only the room's host can kick users.", true},
		{"Refusal", Refuse(errHost, errors.New("registry: no host")), CodeForbidden, "Only the room's host can kick users.", true},
		{"Validation", Invalid("roomName", "Must be at least 2 characters."), CodeInvalidPayload, "roomName: Must be at least 2 characters.", true},
		{"RateLimited", &ratelimit.LimitedError{Rule: "/:chat", Limit: 10, RetryAfter: 2500 * time.Millisecond}, CodeRateLimited, "Too many requests, retry in 3s.", true},
		{"RateLimitedSubSecond", fmt.Errorf("x: %w", &ratelimit.LimitedError{RetryAfter: time.Millisecond}), CodeRateLimited, "Too many requests, retry in 1s.", true},
		{"BodyTooLarge", &http.MaxBytesError{Limit: 1024}, CodePayloadTooLarge, "The request body exceeds 1024 bytes.", true},
		{"NoToken", auth.ErrNoToken, CodeUnauthorized, "Authentication required", true},
		{"InvalidToken", fmt.Errorf("%w: bad signature", auth.ErrInvalidToken), CodeUnauthorized, "Invalid token", true},
		{"ExpiredToken", auth.ErrExpired, CodeUnauthorized, "Token expired", true},
		{"NotValidYet", auth.ErrNotValidYet, CodeUnauthorized, "Token not valid yet", true},
		{"TokenErrorReason", fmt.Errorf("handshake: %w", tokenError(t)), CodeUnauthorized, "Malformed token", true},
		{"Deadline", fmt.Errorf("store: %w", context.DeadlineExceeded), CodeUnavailable, "The request timed out.", true},
		{"Canceled", context.Canceled, CodeUnavailable, "The server is shutting down.", true},
		{"Unknown", errors.New("pq: connection refused to 10.0.0.5"), CodeInternal, "Internal server error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, known := ReplyOf(tt.err)
			if e.Code != tt.code || e.Message != tt.msg || known != tt.known {
				t.Errorf("ReplyOf = %+v known=%v, want {%s %s} known=%v", e, known, tt.code, tt.msg, tt.known)
			}
		})
	}
}

// tokenError is the *auth.TokenError of a malformed token.
func tokenError(t *testing.T) error {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: []byte("event-test-secret-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), "not.a.jwt")
	var te *auth.TokenError
	if !errors.As(err, &te) {
		t.Fatalf("Verify error %v is not a *auth.TokenError", err)
	}
	return err
}

func TestHTTPBodyOf(t *testing.T) {
	tests := []struct {
		name   string
		e      Error
		status int
		body   string
	}{
		{"NestBareNotFound", *ErrNotFoundHTTP, 404, `{"statusCode":404,"message":"Not Found"}`},
		{"WithCode", Error{Code: CodeForbidden, Message: "Only owners may add members."}, 403, `{"statusCode":403,"message":"Only owners may add members.","error":"forbidden"}`},
		{"RateLimited", Error{Code: CodeRateLimited, Message: "Too many requests, retry in 3s."}, 429, `{"statusCode":429,"message":"Too many requests, retry in 3s.","error":"rate_limited"}`},
		{"Invalid", Error{Code: CodeInvalidPayload, Message: "x"}, 400, `{"statusCode":400,"message":"x","error":"invalid_payload"}`},
		{"Unauthorized", Error{Code: CodeUnauthorized, Message: "Invalid token"}, 401, `{"statusCode":401,"message":"Invalid token","error":"unauthorized"}`},
		{"TooLarge", Error{Code: CodePayloadTooLarge, Message: "big"}, 413, `{"statusCode":413,"message":"big","error":"payload_too_large"}`},
		{"Conflict", Error{Code: CodeConflict, Message: "c"}, 409, `{"statusCode":409,"message":"c","error":"conflict"}`},
		{"Unavailable", Error{Code: CodeUnavailable, Message: "u"}, 503, `{"statusCode":503,"message":"u","error":"unavailable"}`},
		{"Internal", *ErrInternal, 500, `{"statusCode":500,"message":"Internal server error","error":"internal"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := httpBodyOf(tt.e)
			if st != tt.status {
				t.Errorf("status %d, want %d", st, tt.status)
			}
			b, _ := json.Marshal(body)
			if string(b) != tt.body {
				t.Errorf("body %s, want %s", b, tt.body)
			}
		})
	}
}

func TestStatusOf_UnsupportedMedia(t *testing.T) {
	st, body := httpBodyOf(Error{Code: CodeUnsupportedMedia, Message: "Content-Type must be application/json."})
	if st != 415 || body.Error != CodeUnsupportedMedia {
		t.Errorf("got %d %+v, want 415 with code %s", st, body, CodeUnsupportedMedia)
	}
}
