package socketio

import (
	"errors"
	"regexp"
	"testing"

	"github.com/sockgate/sockgate/socketio/parser"
)

// TestConnect_WireReplies pins the CONNECT replies byte for byte against
// Node's: {"sid":<20 chars>} on success; CONNECT_ERROR {"message"} for a
// middleware error without data (no "data" key, as JSON.stringify drops
// undefined), {"message","data"} with data, and "Invalid namespace".
func TestConnect_WireReplies(t *testing.T) {
	_, url := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/plain").Use(func(*Socket) error { return errors.New("nope") })
		s.Of("/data").Use(func(*Socket) error { return refusal{code: "unauthorized"} })
		s.Of("/ok")
	})
	tests := []struct {
		name, in string
		typ      parser.Type
		nsp      string
		data     *regexp.Regexp
	}{
		{"Accepted", "0/ok,", parser.Connect, "/ok", regexp.MustCompile(`^\{"sid":"[A-Za-z0-9_-]{20}"\}$`)},
		{"AcceptedMain", "0", parser.Connect, "/", regexp.MustCompile(`^\{"sid":"[A-Za-z0-9_-]{20}"\}$`)},
		{"MiddlewareErrorNoData", "0/plain,", parser.ConnectError, "/plain", regexp.MustCompile(`^\{"message":"nope"\}$`)},
		{"MiddlewareErrorData", "0/data,", parser.ConnectError, "/data", regexp.MustCompile(`^\{"message":"not authorized","data":\{"code":"unauthorized"\}\}$`)},
		{"InvalidNamespace", "0/nowhere,", parser.ConnectError, "/nowhere", regexp.MustCompile(`^\{"message":"Invalid namespace"\}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, url)
			if err := c.SendRaw(tt.in); err != nil {
				t.Fatal(err)
			}
			p, err := c.Next(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != tt.typ || p.Namespace != tt.nsp || !tt.data.Match(p.Data) {
				t.Fatalf("reply type %d nsp %q data %s, want type %d nsp %q data %s", p.Type, p.Namespace, p.Data, tt.typ, tt.nsp, tt.data)
			}
		})
	}
}
