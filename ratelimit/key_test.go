package ratelimit

import (
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]Rule
		wantErr string // substring of the error; "" = no error
	}{
		{"Empty", "", map[string]Rule{}, ""},
		{"Two", "/:chat=10/30s,/:join_room=5/1m", map[string]Rule{"/:chat": {10, 30 * time.Second}, "/:join_room": {5, time.Minute}}, ""},
		{"NamesWithSpacesAndColons", " http:GET /chats = 60/1m , connect=20/10s,", map[string]Rule{"http:GET /chats": {60, time.Minute}, "connect": {20, 10 * time.Second}}, ""},
		{"BareUnit", "a=10/s,b=100/h", map[string]Rule{"a": {10, time.Second}, "b": {100, time.Hour}}, ""},
		{"Milliseconds", "a=1/500ms", map[string]Rule{"a": {1, 500 * time.Millisecond}}, ""},
		{"ZeroIsUnlimited", "/chat:typing=0/1s", map[string]Rule{"/chat:typing": {0, time.Second}}, ""},
		{"NoEquals", "/:chat10/30s", nil, `"/:chat10/30s"`},
		{"EmptyName", "=10/30s", nil, `"=10/30s"`},
		{"NoSlash", "a=10", nil, `"a=10"`},
		{"BadLimit", "ok=1/s,a=x/30s", nil, `"a=x/30s"`},
		{"NegativeLimit", "a=-1/30s", nil, `"a=-1/30s"`},
		{"BadPeriod", "a=1/soon", nil, `"a=1/soon"`},
		{"ZeroPeriod", "a=1/0s", nil, `"a=1/0s"`},
		{"Duplicate", "a=1/s,a=2/s", nil, `duplicate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRules(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRules(%q) error = %v, want one naming %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRules(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"Empty", "", nil, false},
		{"Mixed", "10.0.0.0/8, 127.0.0.1,::1,fd00::/8", []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"}, false},
		{"Masked", "10.1.2.3/8", []string{"10.0.0.0/8"}, false},
		{"MappedAddr", "::ffff:10.0.0.1", []string{"10.0.0.1/32"}, false},
		{"Bad", "10.0.0.0/8,nope", nil, true},
		{"BadPrefix", "10.0.0.0/33", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if !strings.Contains(err.Error(), "nope") && !strings.Contains(err.Error(), "/33") {
					t.Fatalf("error %v does not name the bad item", err)
				}
				return
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("= %v, want %v", s, tt.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8,127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"NoProxy", "203.0.113.5:4321", nil, trusted, "203.0.113.5"},
		{"XFFIgnoredWithoutTrust", "203.0.113.5:4321", []string{"1.1.1.1"}, nil, "203.0.113.5"},
		{"XFFIgnoredFromUntrustedPeer", "203.0.113.5:4321", []string{"1.1.1.1"}, trusted, "203.0.113.5"},
		{"TrustedPeerOneHop", "10.0.0.2:80", []string{"198.51.100.7"}, trusted, "198.51.100.7"},
		{"SkipsTrustedHops", "127.0.0.1:80", []string{"198.51.100.7, 10.1.1.1, 10.2.2.2"}, trusted, "198.51.100.7"},
		{"SpoofedLeftmostIgnored", "10.0.0.2:80", []string{"6.6.6.6, 198.51.100.7"}, trusted, "198.51.100.7"},
		{"MultipleHeaders", "10.0.0.2:80", []string{"6.6.6.6", "198.51.100.7, 10.3.3.3"}, trusted, "198.51.100.7"},
		{"AllTrusted", "10.0.0.2:80", []string{"10.9.9.9, 10.8.8.8"}, trusted, "10.9.9.9"},
		{"GarbageStopsAtLastTrusted", "10.0.0.2:80", []string{"1.1.1.1, garbage, 10.4.4.4"}, trusted, "10.4.4.4"},
		{"GarbageOnly", "10.0.0.2:80", []string{"garbage"}, trusted, "10.0.0.2"},
		{"TrustedPeerNoXFF", "10.0.0.2:80", nil, trusted, "10.0.0.2"},
		{"EntryWithPort", "10.0.0.2:80", []string{"198.51.100.7:5555"}, trusted, "198.51.100.7"},
		{"IPv6Peer", "[2001:db8::1]:443", nil, trusted, "2001:db8::1"},
		{"IPv6LoopbackProxy", "[::1]:443", []string{"2001:db8::2"}, trusted, "2001:db8::2"},
		{"MappedPeerUnmapped", "[::ffff:10.0.0.2]:80", []string{"198.51.100.7"}, trusted, "198.51.100.7"},
		{"BareRemote", "203.0.113.5", nil, trusted, "203.0.113.5"},
		{"UnparsableRemote", "pipe", nil, trusted, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.xff {
				h.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(tt.remote, h, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ user, ip, want string }{
		{"42", "1.2.3.4", "user:42"},
		{"", "1.2.3.4", "ip:1.2.3.4"},
		{"", "2001:db8::1", "ip:2001:db8::1"},
	}
	for _, tt := range tests {
		if got := Key(tt.user, tt.ip); got != tt.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tt.user, tt.ip, got, tt.want)
		}
	}
}
