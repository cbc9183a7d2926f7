package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string
		bins int
	}{
		{"ConnectMain", Packet{Type: Connect, Namespace: "/"}, "0", 0},
		{"ConnectAuth", Packet{Type: Connect, Namespace: "/admin", Data: json.RawMessage(`{"token":"123"}`)}, `0/admin,{"token":"123"}`, 0},
		{"ConnectReply", Packet{Type: Connect, Data: json.RawMessage(`{"sid":"abc"}`)}, `0{"sid":"abc"}`, 0},
		{"Disconnect", Packet{Type: Disconnect, Namespace: "/admin"}, "1/admin,", 0},
		{"Event", Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["hello",1]`)}, `2["hello",1]`, 0},
		{"EventWithID", Packet{Type: Event, Namespace: "/admin", HasID: true, ID: 456, Data: json.RawMessage(`["project:delete",123]`)}, `2/admin,456["project:delete",123]`, 0},
		{"Ack", Packet{Type: Ack, Namespace: "/admin", HasID: true, ID: 456, Data: json.RawMessage(`[]`)}, `3/admin,456[]`, 0},
		{"ConnectError", Packet{Type: ConnectError, Data: json.RawMessage(`{"message":"Not authorized"}`)}, `4{"message":"Not authorized"}`, 0},
		{"BinaryEvent", Packet{Type: Event, Data: json.RawMessage(`["hello",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2, 3}}}, `51-["hello",{"_placeholder":true,"num":0}]`, 1},
		{"BinaryAck", Packet{Type: Ack, Namespace: "/admin", HasID: true, ID: 456, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{3}}}, `61-/admin,456[{"_placeholder":true,"num":0}]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bins := Encode(&tt.p)
			if got != tt.want || len(bins) != tt.bins {
				t.Fatalf("Encode = %q (%d bins), want %q (%d bins)", got, len(bins), tt.want, tt.bins)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		typ     Type
		nsp     string
		id      int64 // -1: none
		data    string
		pending int
		wantErr bool
	}{
		{name: "Connect", in: "0", typ: Connect, nsp: "/", id: -1},
		{name: "ConnectNsp", in: "0/custom,", typ: Connect, nsp: "/custom", id: -1},
		{name: "ConnectNspNoComma", in: "0/random", typ: Connect, nsp: "/random", id: -1},
		{name: "ConnectAuth", in: `0/custom,{"token":"abc"}`, typ: Connect, nsp: "/custom", id: -1, data: `{"token":"abc"}`},
		{name: "Disconnect", in: "1/custom,", typ: Disconnect, nsp: "/custom", id: -1},
		{name: "Event", in: `2["message",1,"2",{"3":[true]}]`, typ: Event, nsp: "/", id: -1, data: `["message",1,"2",{"3":[true]}]`},
		{name: "EventAck", in: `2456["message-with-ack",1]`, typ: Event, nsp: "/", id: 456, data: `["message-with-ack",1]`},
		{name: "EventNumericName", in: `2[42]`, typ: Event, nsp: "/", id: -1, data: `[42]`},
		{name: "Ack", in: `3/admin,13["bar"]`, typ: Ack, nsp: "/admin", id: 13, data: `["bar"]`},
		{name: "BinaryEvent", in: `52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, typ: Event, nsp: "/", id: -1, data: `["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, pending: 2},
		{name: "BinaryAckID", in: `61-/admin,789[{"_placeholder":true,"num":0}]`, typ: Ack, nsp: "/admin", id: 789, data: `[{"_placeholder":true,"num":0}]`, pending: 1},
		{name: "ConnectErrorString", in: `4"nope"`, typ: ConnectError, nsp: "/", id: -1, data: `"nope"`},

		{name: "Empty", in: "", wantErr: true},
		{name: "UnknownType", in: "7", wantErr: true},
		{name: "NotADigit", in: "abc", wantErr: true},
		{name: "ConnectErrorGarbage", in: "4abc", wantErr: true},
		{name: "EventObject", in: "2{}", wantErr: true},
		{name: "EventNoPayload", in: "2", wantErr: true},
		{name: "EventEmptyArray", in: "2[]", wantErr: true},
		{name: "EventInvalidAckID", in: `2abc["message-with-ack",1]`, wantErr: true},
		{name: "EventReserved", in: `2["disconnect"]`, wantErr: true},
		{name: "EventNameObject", in: `2[{}]`, wantErr: true},
		{name: "ConnectArray", in: `0[]`, wantErr: true},
		{name: "DisconnectPayload", in: `1{}`, wantErr: true},
		{name: "AckObject", in: `3{}`, wantErr: true},
		{name: "BadJSON", in: `2["a"`, wantErr: true},
		{name: "AttachmentsNoDash", in: `52["a"]`, wantErr: true},
		{name: "AttachmentsNotNumber", in: `5a-["a"]`, wantErr: true},
		{name: "TooManyAttachments", in: `511-["a"]`, wantErr: true},
		{name: "HugeAckID", in: `299999999999999999999999["a"]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.in, DefaultMaxAttachments)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Decode(%q) = %+v, want error", tt.in, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			id := int64(-1)
			if p.HasID {
				id = int64(p.ID)
			}
			if p.Type != tt.typ || p.Namespace != tt.nsp || id != tt.id || string(p.Data) != tt.data || p.Pending() != tt.pending {
				t.Fatalf("Decode(%q) = type %d nsp %q id %d data %q pending %d", tt.in, p.Type, p.Namespace, id, p.Data, p.Pending())
			}
		})
	}
}

func TestDecoder_Binary(t *testing.T) {
	var d Decoder
	p, err := d.Add([]byte(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)[1:], false)
	if err != nil || p != nil {
		t.Fatalf("text part: %v %v", p, err)
	}
	if p, err = d.Add([]byte{1, 2, 3}, true); err != nil || p != nil {
		t.Fatalf("first attachment: %v %v", p, err)
	}
	p, err = d.Add([]byte{4, 5, 6}, true)
	if err != nil || p == nil {
		t.Fatalf("second attachment: %v %v", p, err)
	}
	if p.Type != Event || len(p.Attachments) != 2 || !bytes.Equal(p.Attachments[1], []byte{4, 5, 6}) {
		t.Fatalf("packet = %+v", p)
	}

	t.Run("UnexpectedBinary", func(t *testing.T) {
		var d Decoder
		if _, err := d.Add([]byte{1}, true); !errors.Is(err, ErrUnexpectedBinary) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("TextWhileReconstructing", func(t *testing.T) {
		var d Decoder
		if _, err := d.Add([]byte(`51-["a",{"_placeholder":true,"num":0}]`), false); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Add([]byte(`2["a"]`), false); !errors.Is(err, ErrUnexpectedText) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("PlaceholderOutOfRange", func(t *testing.T) {
		var d Decoder
		if _, err := d.Add([]byte(`51-["a",{"_placeholder":true,"num":3}]`), false); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Add([]byte{1}, true); !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("PlaceholderInTextPacketIsData", func(t *testing.T) {
		var d Decoder
		p, err := d.Add([]byte(`2["a",{"_placeholder":true,"num":0}]`), false)
		if err != nil || p == nil || len(p.Attachments) != 0 {
			t.Fatalf("p=%+v err=%v", p, err)
		}
	})
	t.Run("ZeroAttachments", func(t *testing.T) {
		var d Decoder
		p, err := d.Add([]byte(`50-["a"]`), false)
		if err != nil || p == nil || p.Type != Event {
			t.Fatalf("p=%+v err=%v", p, err)
		}
	})
}

func TestMarshalArray(t *testing.T) {
	tests := []struct {
		name string
		in   []any
		want string
		bins int
	}{
		{"Plain", []any{"ev", 1, "2", map[string]any{"3": []any{true}}}, `["ev",1,"2",{"3":[true]}]`, 0},
		{"Binary", []any{"ev", []byte{1}, []any{[]byte{2}}}, `["ev",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]`, 2},
		{"Raw", []any{json.RawMessage(`{"b":1,"a":2}`), nil}, `[{"b":1,"a":2},null]`, 0},
		{"NoHTMLEscape", []any{"<a&b>"}, `["<a&b>"]`, 0},
		{"Struct", []any{struct {
			A int `json:"a"`
		}{7}}, `[{"a":7}]`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bins, err := MarshalArray(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || len(bins) != tt.bins {
				t.Fatalf("got %s (%d bins), want %s (%d)", got, len(bins), tt.want, tt.bins)
			}
		})
	}
	if _, _, err := MarshalArray([]any{func() {}}); err == nil {
		t.Fatal("want error for unmarshalable value")
	}
}

func TestRoundTrip(t *testing.T) {
	in := &Packet{Type: Ack, Namespace: "/x", HasID: true, ID: 9, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{9, 9}}}
	text, bins := Encode(in)
	var d Decoder
	p, err := d.Add([]byte(text), false)
	if err != nil || p != nil {
		t.Fatalf("text: %v %v", p, err)
	}
	p, err = d.Add(bins[0], true)
	if err != nil || p == nil {
		t.Fatalf("bin: %v %v", p, err)
	}
	if p.Type != Ack || p.Namespace != "/x" || !p.HasID || p.ID != 9 || string(p.Data) != string(in.Data) {
		t.Fatalf("round trip = %+v", p)
	}
}

// FuzzDecode checks that no input makes the decoder panic and that every
// accepted packet re-encodes to something that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0", `0/custom,{"token":"abc"}`, `2["a",1]`, `2456["a"]`, `3/x,1[]`, `52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, `4{"message":"x"}`, "1/a,", `2abc["a"]`} {
		f.Add(s, []byte{1, 2})
	}
	f.Fuzz(func(t *testing.T, s string, bin []byte) {
		var d Decoder
		p, err := d.Add([]byte(s), false)
		if err != nil {
			return
		}
		for p == nil {
			p, err = d.Add(bin, true)
			if err != nil {
				return
			}
		}
		text, bins := Encode(p)
		var d2 Decoder
		q, err := d2.Add([]byte(text), false)
		for _, b := range bins {
			if err != nil {
				break
			}
			q, err = d2.Add(b, true)
		}
		if err != nil || q == nil {
			t.Fatalf("re-encoded %q (from %q) does not decode: %v", text, s, err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.HasID != p.HasID || q.ID != p.ID || string(q.Data) != string(p.Data) {
			t.Fatalf("round trip of %q: %+v != %+v", s, q, p)
		}
	})
}
