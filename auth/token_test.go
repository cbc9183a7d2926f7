package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTokenFromRequest(t *testing.T) {
	type src struct {
		auth   string // raw handshake auth JSON
		query  string // ?token=
		header string // Authorization
		cookie string // Authentication cookie
	}
	tests := []struct {
		name    string
		in      src
		want    string
		wantErr error
	}{
		{"None", src{}, "", ErrNoToken},
		{"HandshakeAuth", src{auth: `{"token":"A"}`}, "A", nil},
		{"Query", src{query: "Q"}, "Q", nil},
		{"BearerHeader", src{header: "Bearer H"}, "H", nil},
		{"BearerLowercase", src{header: "bearer H"}, "H", nil},
		{"Cookie", src{cookie: "C"}, "C", nil},
		{"AuthBeatsAll", src{auth: `{"token":"A"}`, query: "Q", header: "Bearer H", cookie: "C"}, "A", nil},
		{"QueryBeatsHeaderAndCookie", src{query: "Q", header: "Bearer H", cookie: "C"}, "Q", nil},
		{"HeaderBeatsCookie", src{header: "Bearer H", cookie: "C"}, "H", nil},
		{"AuthTokenBearerPrefix", src{auth: `{"token":"Bearer A"}`}, "A", nil},
		{"AuthTokenNotString", src{auth: `{"token":42}`, cookie: "C"}, "C", nil},
		{"AuthNotObject", src{auth: `"A"`, query: "Q"}, "Q", nil},
		{"AuthInvalidJSON", src{auth: `{`}, "", ErrNoToken},
		{"AuthEmptyToken", src{auth: `{"token":""}`, header: "Bearer H"}, "H", nil},
		{"AuthNull", src{auth: `null`}, "", ErrNoToken},
		{"BasicHeaderIgnored", src{header: "Basic dXNlcjpwYXNz", cookie: "C"}, "C", nil},
		{"EmptyBearer", src{header: "Bearer  "}, "", ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/socket.io/?EIO=4&transport=polling"
			if tt.in.query != "" {
				target += "&token=" + tt.in.query
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if tt.in.header != "" {
				r.Header.Set("Authorization", tt.in.header)
			}
			if tt.in.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "Authentication", Value: tt.in.cookie})
			}
			var raw json.RawMessage
			if tt.in.auth != "" {
				raw = json.RawMessage(tt.in.auth)
			}
			got, err := TokenFromRequest(r, raw)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("TokenFromRequest = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}

	t.Run("NilRequest", func(t *testing.T) {
		if got, err := TokenFromRequest(nil, json.RawMessage(`{"token":"A"}`)); got != "A" || err != nil {
			t.Fatalf("= %q, %v", got, err)
		}
		if _, err := TokenFromRequest(nil, nil); !errors.Is(err, ErrNoToken) {
			t.Fatalf("err = %v", err)
		}
	})
}
