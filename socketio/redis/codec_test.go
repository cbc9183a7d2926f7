package redis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// The expected bytes below were produced by notepack.io 3.0.1 (Node's
// codec) from the same values: msgpack.encode([...]).
func TestEncodeBroadcast_NotepackBytes(t *testing.T) {
	p := &parser.Packet{Type: parser.Event, Namespace: "/",
		Data: json.RawMessage(`["m",1,-1,300,70000,4294967296,2.5,"s",null,true,{"a":1}]`)}
	opts := socketio.BroadcastOptions{Rooms: []string{"r"}, Flags: socketio.BroadcastFlags{Volatile: true, Local: true}}
	got, err := encodeBroadcast("abc", p, opts)
	if err != nil {
		t.Fatal(err)
	}
	const want = "93a361626383a47479706502a4646174619ba16d01ffcd012cce00011170cf0000000100000000cb4004000000000000" +
		"a173c0c381a16101a36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677381a8766f6c6174696c65c3"
	if hex.EncodeToString(got) != want {
		t.Fatalf("encoded\n %x\nwant\n %s", got, want)
	}
}

func TestDecodeBroadcast_Emitter(t *testing.T) {
	// ["emitter", {type: 2, data: ["bin", Buffer [1,2,3], Date 2026-01-02T03:04:05.600Z], nsp: "/"},
	//  {rooms: [], flags: {}, except: []}] as the emitter publishes it.
	b, _ := hex.DecodeString("93a7656d697474657283a47479706502a46461746193a362696ec403010203d7ff8f0d1800695735a5" +
		"a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490")
	m, err := decodeBroadcast(b)
	if err != nil {
		t.Fatal(err)
	}
	wantData := `["bin",{"_placeholder":true,"num":0},"2026-01-02T03:04:05.600Z"]`
	if m.uid != "emitter" || m.packet.nsp != "/" || string(m.packet.data) != wantData ||
		len(m.packet.bins) != 1 || !bytes.Equal(m.packet.bins[0], []byte{1, 2, 3}) || len(m.opts.Rooms) != 0 {
		t.Fatalf("decoded %+v data %s", m, m.packet.data)
	}
}

func TestTranscode(t *testing.T) {
	tests := []struct {
		name string
		in   func(e *msgpack.Encoder)
		want string
	}{
		{"Timestamp32", func(e *msgpack.Encoder) { _ = e.EncodeTime(time.Unix(1767323045, 0)) }, `"2026-01-02T03:04:05.000Z"`},
		{"Float32", func(e *msgpack.Encoder) { _ = e.EncodeFloat32(1.5) }, `1.5`},
		{"Uint64", func(e *msgpack.Encoder) { _ = e.EncodeUint64(1 << 63) }, `9223372036854775808`},
		{"MapKeyOrder", func(e *msgpack.Encoder) {
			_ = e.EncodeMapLen(2)
			_ = e.EncodeString("z")
			_ = e.EncodeInt(1)
			_ = e.EncodeString("a")
			_ = e.EncodeNil()
		}, `{"z":1,"a":null}`},
		{"LegacyUndefined", func(e *msgpack.Encoder) { _, _ = e.Writer().Write([]byte{0xd4, 0x00, 0x00}) }, `null`},
		{"LegacyDateMs", func(e *msgpack.Encoder) {
			_, _ = e.Writer().Write([]byte{0xd7, 0x00, 0, 0, 0x01, 0x9b, 0x7c, 0x5e, 0x6a, 0xd8})
		}, `"` + jsISODate(time.UnixMilli(0x019b7c5e6ad8)) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.in(msgpack.NewEncoder(&buf))
			got, _, err := decodeJSON(msgpack.NewDecoder(&buf))
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s (%v), want %s", got, err, tt.want)
			}
		})
	}
	t.Run("Malformed", func(t *testing.T) {
		for _, in := range []string{"", "93", "c1", "9301", "93a16182"} {
			b, _ := hex.DecodeString(in)
			if _, err := decodeBroadcast(b); err == nil {
				t.Errorf("decodeBroadcast(%s) accepted", in)
			}
		}
	})
}
