package engine

import (
	"bytes"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []packet
		err  bool
	}{
		{"One", "4hello", []packet{{typ: '4', data: []byte("hello")}}, false},
		{"Several", "4a\x1e3\x1e6", []packet{{typ: '4', data: []byte("a")}, {typ: '3', data: []byte{}}, {typ: '6', data: []byte{}}}, false},
		{"Binary", "bAQIDBA==", []packet{{typ: '4', data: []byte{1, 2, 3, 4}, binary: true}}, false},
		{"EmptyMessage", "4", []packet{{typ: '4', data: []byte{}}}, false},
		{"Empty", "", nil, true},
		{"TrailingSeparator", "4a\x1e", nil, true},
		{"EmptyPart", "4a\x1e\x1e4b", nil, true},
		{"UnknownType", "7", nil, true},
		{"Garbage", "abc", nil, true},
		{"BadBase64", "b!!", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePayload([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d packets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].typ != tt.want[i].typ || got[i].binary != tt.want[i].binary || !bytes.Equal(got[i].data, tt.want[i].data) {
					t.Errorf("packet %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestMessage_WireForms(t *testing.T) {
	tests := []struct {
		name  string
		m     *Message
		poll  string
		frame []byte
	}{
		{"Text", TextMessage("hi"), "4hi", []byte{0x81, 3, '4', 'h', 'i'}},
		{"Binary", BinaryMessage([]byte{1, 2, 3}), "bAQID", []byte{0x82, 3, 1, 2, 3}},
		{"Ping", pingPacket, "2", []byte{0x81, 1, '2'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.m.pollingBytes()); got != tt.poll {
				t.Errorf("polling %q, want %q", got, tt.poll)
			}
			if got := tt.m.frameBytes(); !bytes.Equal(got, tt.frame) {
				t.Errorf("frame %x, want %x", got, tt.frame)
			}
		})
	}
}

// FuzzDecodePacket checks that any WebSocket text frame or polling element
// decodes or fails cleanly, and that decoded text packets re-encode to
// their input.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3", "5", "6", "1", "0", "bAQIDBA==", "", "abc", "b", "4\x00\xff"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, allowB64 bool) {
		p, err := decodePacket(b, allowB64)
		if err != nil {
			return
		}
		if p.binary {
			if !allowB64 {
				t.Fatal("binary packet decoded with base64 disabled")
			}
			return
		}
		if p.typ != b[0] || !bytes.Equal(p.data, b[1:]) {
			t.Fatalf("decode(%q) = %+v", b, p)
		}
	})
}

// FuzzDecodePayload checks that any polling POST body decodes or fails
// cleanly, and that a decoded payload's packet count matches its records.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "3", "1", "\x1e", "4a\x1e", "abc", "b===", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, err := decodePayload(b)
		if err != nil {
			return
		}
		if want := bytes.Count(b, []byte{recordSep}) + 1; len(pkts) != want {
			t.Fatalf("%d packets from %d records", len(pkts), want)
		}
	})
}

// decodePayload is eachPacket collecting the packets.
func decodePayload(b []byte) ([]packet, error) {
	var pkts []packet
	err := eachPacket(b, func(p packet) bool { pkts = append(pkts, p); return true })
	if err != nil {
		return nil, err
	}
	return pkts, nil
}
