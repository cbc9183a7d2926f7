package chats

import (
	"errors"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/event"
)

func TestChatSendReq_Validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  sendReq
		want string // "" = valid
	}{
		{"OK", sendReq{ChatID: "c", Content: "hi"}, ""},
		{"AttachmentOnly", sendReq{ChatID: "c", Attachments: []string{"a"}}, ""},
		{"Max", sendReq{ChatID: "c", Content: strings.Repeat("x", MaxChatContent)}, ""},
		{"MaxAstral", sendReq{ChatID: "c", Content: strings.Repeat("😀", MaxChatContent/2)}, ""},
		{"OverAstral", sendReq{ChatID: "c", Content: strings.Repeat("😀", MaxChatContent/2+1)}, "content: String must contain at most 4000 character(s)"},
		{"Empty", sendReq{ChatID: "c"}, "content: Must not be empty."},
		{"Blank", sendReq{ChatID: "c", Content: "\n \t"}, "content: Must not be empty."},
		{"NoChat", sendReq{Content: "x"}, "chatId: String must contain at least 1 character(s)"},
		{"LongChat", sendReq{ChatID: strings.Repeat("c", 65), Content: "x"}, "chatId: String must contain at most 64 character(s)"},
		{"TooManyAttachments", sendReq{ChatID: "c", Attachments: make([]string, 11)}, "attachments: Array must contain at most 10 element(s)"},
		{"EmptyAttachmentID", sendReq{ChatID: "c", Content: "x", Attachments: []string{""}}, "attachments.0: String must contain at least 1 character(s)"},
		{"ClientMsgIDControl", sendReq{ChatID: "c", Content: "x", ClientMsgID: "a\nb"}, "clientMsgId: Must not contain control characters."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			got := ""
			if err != nil {
				var we *event.ValidationError
				if !errors.As(err, &we) {
					t.Fatalf("error %T is not a *event.ValidationError", err)
				}
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Errorf("Validate = %q, want %q", got, tc.want)
			}
		})
	}
}
