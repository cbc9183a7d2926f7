package chats

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
)

func TestStoreErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("x: %w", store.ErrUnavailable), event.CodeUnavailable},
		{fmt.Errorf("x: %w", store.ErrForbidden), event.CodeForbidden},
		{fmt.Errorf("x: %w", store.ErrArchived), event.CodeConflict},
		{fmt.Errorf("x: %w", store.ErrNotFound), event.CodeNotFound},
		{fmt.Errorf("x: %w", store.ErrConflict), event.CodeConflict},
		{fmt.Errorf("x: %w", store.ErrInvalid), event.CodeInvalidPayload},
		{errors.New("disk on fire"), event.CodeInternal},
	} {
		e, _ := event.ReplyOf(storeErr(tc.err))
		if e.Code != tc.code {
			t.Errorf("%v → %q, want %q", tc.err, e.Code, tc.code)
		}
		if !errors.Is(storeErr(tc.err), tc.err) {
			t.Errorf("%v: detail lost", tc.err)
		}
	}
}
