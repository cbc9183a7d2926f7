package rooms

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/event"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       any
		payload string
		want    string
	}{
		{"JoinRoomEmpty", new(Join), `{"room":"","username":"a"}`, "room: String must contain at least 1 character(s)"},
		{"JoinUsernameMissing", new(Join), `{"room":"r"}`, "username: Required"},
		{"JoinRoomControl", new(Join), `{"room":"a\tb","username":"a"}`, "room: Must not contain control characters."},
		{"SendLong", new(Message), `{"room":"r","username":"a","message":"` + strings.Repeat("m", 1001) + `"}`, "message: String must contain at most 1000 character(s)"},
		{"MembersRoomNumber", new(Members), `{"room":5}`, "room: Expected string, received number"},
		{"LeaveWithoutPayload", new(Leave), ``, ""},
		{"LeaveRoomLong", new(Leave), `{"room":"` + strings.Repeat("r", 65) + `"}`, "room: String must contain at most 64 character(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw json.RawMessage
			if tc.payload != "" {
				raw = json.RawMessage(tc.payload)
			}
			err := event.Decode(raw, tc.v)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Decode(%s) = %q, want %q", tc.payload, got, tc.want)
			}
		})
	}
}
