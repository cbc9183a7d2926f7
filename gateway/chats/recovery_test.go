package chats

import (
	"encoding/json"
	"testing"
)

func TestLastMessageID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ""},
		{`{"token":"t"}`, ""},
		{`{"lastMessageId":"01ABC"}`, "01ABC"},
		{`{"lastMessageId":42}`, ""},
		{`"str"`, ""},
		{`{"lastMessageId":null}`, ""},
	} {
		if got := lastMessageID(json.RawMessage(tc.in)); got != tc.want {
			t.Errorf("lastMessageID(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
