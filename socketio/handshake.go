package socketio

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// handshakeJSON is Node's socket.handshake as JSON.
type handshakeJSON struct {
	Headers map[string]json.RawMessage `json:"headers"`
	Time    string                     `json:"time"`
	Address string                     `json:"address"`
	XDomain bool                       `json:"xdomain"`
	Secure  bool                       `json:"secure"`
	Issued  int64                      `json:"issued"`
	URL     string                     `json:"url"`
	Query   map[string]json.RawMessage `json:"query"`
	Auth    json.RawMessage            `json:"auth"`
}

// jsDateLayout is JavaScript's Date#toString without the zone's name.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700"

// MarshalJSON implements json.Marshaler with Node's handshake shape:
// headers with lower-case names and string values (repeated headers joined
// with ", "), time as JavaScript's Date#toString, address without the port,
// issued in milliseconds, query values as strings (arrays when repeated)
// and auth {} when the client sent none.
func (h Handshake) MarshalJSON() ([]byte, error) {
	out := handshakeJSON{
		Headers: make(map[string]json.RawMessage, len(h.Headers)),
		Time:    jsDate(h.Time),
		Address: hostOnly(h.Address),
		XDomain: h.XDomain,
		Secure:  h.Secure,
		Issued:  h.Time.UnixMilli(),
		URL:     h.URL,
		Query:   make(map[string]json.RawMessage, len(h.Query)),
		Auth:    h.Auth,
	}
	for k, vs := range h.Headers {
		out.Headers[strings.ToLower(k)], _ = json.Marshal(strings.Join(vs, ", "))
	}
	for k, vs := range h.Query {
		if len(vs) == 1 {
			out.Query[k], _ = json.Marshal(vs[0])
		} else {
			out.Query[k], _ = json.Marshal(vs)
		}
	}
	if len(out.Auth) == 0 {
		out.Auth = json.RawMessage(`{}`)
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler for the handshakes of remote
// sockets (Node's shape, as MarshalJSON writes it). Header and query
// values may be strings or arrays; Time comes from issued.
func (h *Handshake) UnmarshalJSON(b []byte) error {
	var in handshakeJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("socketio: handshake: %w", err)
	}
	*h = Handshake{
		Headers: make(http.Header, len(in.Headers)),
		Query:   make(url.Values, len(in.Query)),
		Address: in.Address,
		Time:    time.UnixMilli(in.Issued),
		Secure:  in.Secure,
		URL:     in.URL,
		XDomain: in.XDomain,
	}
	for k, raw := range in.Headers {
		h.Headers[http.CanonicalHeaderKey(k)] = stringsOf(raw)
	}
	for k, raw := range in.Query {
		h.Query[k] = stringsOf(raw)
	}
	if len(in.Auth) > 0 && string(in.Auth) != "null" {
		h.Auth = in.Auth
	}
	return nil
}

// stringsOf reads a JSON string or array of strings (anything else as its
// JSON text).
func stringsOf(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return ss
	}
	return []string{string(raw)}
}

// jsDate formats t as JavaScript's Date#toString, e.g.
// "Tue Dec 01 2026 08:07:13 GMT+0000 (Coordinated Universal Time)". Go
// knows zone abbreviations, not the long names, except for UTC.
func jsDate(t time.Time) string {
	zone, _ := t.Zone()
	if zone == "UTC" {
		zone = "Coordinated Universal Time"
	}
	return t.Format(jsDateLayout) + " (" + zone + ")"
}

// hostOnly drops the port of an ip:port address.
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
