package lobby

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
		{"JoinChatUsernameEmpty", new(JoinChat), `{"username":""}`, "username: String must contain at least 1 character(s)"},
		{"JoinChatUsernameLong", new(JoinChat), `{"username":"` + strings.Repeat("u", 33) + `"}`, "username: String must contain at most 32 character(s)"},
		{"JoinChatUsernameControl", new(JoinChat), `{"username":"a\nb"}`, "username: Must not contain control characters."},
		{"JoinChatMissing", new(JoinChat), `{}`, "username: Required"},
		{"SendMessageEmpty", new(SendMessage), `{"message":""}`, "message: String must contain at least 1 character(s)"},
		{"SendMessageLong", new(SendMessage), `{"message":"` + strings.Repeat("m", 501) + `"}`, "message: String must contain at most 500 character(s)"},
		{"SendMessageMax", new(SendMessage), `{"message":"` + strings.Repeat("m", 500) + `"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := event.Decode(json.RawMessage(tc.payload), tc.v)
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
