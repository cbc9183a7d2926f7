package admin

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/sockgate/sockgate/socketio"
)

// jsonDate is a time as JavaScript's Date#toJSON writes it (UTC, ms).
type jsonDate time.Time

func (d jsonDate) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(d).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// serializedSocket is the UI's SerializedSocket.
type serializedSocket struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Transport string          `json:"transport"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Handshake handshake       `json:"handshake"`
	Rooms     []string        `json:"rooms"`
}

// handshake is Node's socket.handshake without auth (left out on purpose,
// as the Node package does), credentials redacted (see redact).
type handshake struct {
	Address string                     `json:"address"`
	Headers map[string]json.RawMessage `json:"headers"`
	Query   map[string]json.RawMessage `json:"query"`
	Issued  int64                      `json:"issued"`
	Secure  bool                       `json:"secure"`
	Time    string                     `json:"time"`
	URL     string                     `json:"url"`
	XDomain bool                       `json:"xdomain"`
}

// adminData is what Node's instrument() keeps in socket.data._admin: a
// socket of a Node server in the cluster carries it.
type adminData struct {
	Admin *struct {
		ClientID  string `json:"clientId"`
		Transport string `json:"transport"`
	} `json:"_admin"`
}

// redacted replaces the values that authenticate a user: an operator of
// the UI sees that a token was sent, not the token.
var redacted = json.RawMessage(`"[redacted]"`)

// serialize turns a socket snapshot into the UI's form. local is the live
// socket when it is on this server (its connection id and transport are
// known), else nil.
func serialize(nsp string, si socketio.SocketInfo, local *socketio.Socket) serializedSocket {
	out := serializedSocket{ID: si.ID, Nsp: nsp, Rooms: si.Rooms, Data: json.RawMessage(`{}`)}
	if out.Rooms == nil {
		out.Rooms = []string{}
	}
	if b, err := json.Marshal(si.Handshake); err == nil {
		_ = json.Unmarshal(b, &out.Handshake) // our own encoding
	}
	redact(&out.Handshake)
	out.Handshake.Address = clientAddress(si.Handshake)
	out.Data, out.ClientID, out.Transport = dataOf(si.Data)
	if local != nil {
		out.ClientID, out.Transport = clientID(local.ConnID()), local.Transport()
	}
	if out.ClientID == "" {
		// A remote socket of a Go server: one client per socket.
		out.ClientID = clientID(si.ID)
	}
	return out
}

// clientID is the UI's client id: the first 12 characters of the
// Engine.IO id.
func clientID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func clientAddress(hs socketio.Handshake) string {
	if v := hs.Headers.Get("Cf-Connecting-Ip"); v != "" {
		return v
	}
	if v := hs.Headers.Get("X-Forwarded-For"); v != "" {
		return v
	}
	host := hs.Address
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// redact hides the Authorization and Cookie headers and the token query
// parameter (sockgate's token sources, SPEC §5).
func redact(h *handshake) {
	for _, k := range []string{"authorization", "cookie"} {
		if _, ok := h.Headers[k]; ok {
			h.Headers[k] = redacted
		}
	}
	if _, ok := h.Query["token"]; ok {
		h.Query["token"] = redacted
	}
	if u, err := url.Parse(h.URL); err == nil && u.Query().Has("token") {
		q := u.Query()
		q.Set("token", "[redacted]")
		u.RawQuery = q.Encode()
		h.URL = u.RequestURI()
	}
}

// dataOf returns the socket's data without Node's _admin key, and the
// client id and transport found there.
func dataOf(raw json.RawMessage) (data json.RawMessage, clientID, transport string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if len(raw) == 0 || string(raw) == "null" {
			return json.RawMessage(`{}`), "", ""
		}
		return raw, "", ""
	}
	var ad adminData
	if json.Unmarshal(raw, &ad) != nil || ad.Admin == nil {
		return raw, "", ""
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return raw, "", ""
	}
	delete(fields, "_admin")
	b, err := json.Marshal(fields)
	if err != nil {
		return raw, "", ""
	}
	return b, ad.Admin.ClientID, ad.Admin.Transport
}

// namespaceStats is one entry of server_stats.namespaces.
type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// serverStats is the server_stats payload.
type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"`
	ClientsCount        int               `json:"clientsCount"`
	PollingClientsCount int               `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

// socketUpdate is the socket_updated payload for a transport change.
type socketUpdate struct {
	ID        string `json:"id"`
	Nsp       string `json:"nsp"`
	Transport string `json:"transport"`
}

// config is the config payload.
type config struct {
	SupportedFeatures []string `json:"supportedFeatures"`
}
