package engine

import (
	"encoding/base64"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
)

// Message is one immutable Engine.IO "message" packet (type 4), text or
// binary. A Message is safe to share between many connections: its wire forms
// (polling text and WebSocket frame, framing included) are computed at most
// once, whichever connections it is sent to. Callers must not modify the
// bytes passed to BinaryMessage afterwards.
type Message struct {
	typ    byte // packet type: '4' for messages, else a control packet
	text   string
	data   []byte
	binary bool

	pollOnce sync.Once
	poll     []byte // polling form: "4"+text or "b"+base64(data)
	wsOnce   sync.Once
	wsFrame  []byte // complete unmasked WebSocket frame (header + payload)
}

// TextMessage returns a text message.
func TextMessage(s string) *Message { return &Message{typ: typeMessage, text: s} }

// BinaryMessage returns a binary message.
func BinaryMessage(b []byte) *Message { return &Message{typ: typeMessage, data: b, binary: true} }

// encodeCount counts wire encodings computed (polling and WebSocket forms),
// for tests asserting that a shared Message is encoded once.
var encodeCount atomic.Int64

// Engine.IO v4 packet types (ASCII digits on the wire).
const (
	typeOpen    = '0'
	typeClose   = '1'
	typePing    = '2'
	typePong    = '3'
	typeMessage = '4'
	typeUpgrade = '5'
	typeNoop    = '6'
)

// Control packets the server sends; their encodings are shared process-wide.
var (
	pingPacket   = &Message{typ: typePing}
	closePacket  = &Message{typ: typeClose}
	noopPacket   = &Message{typ: typeNoop}
	pongProbeMsg = &Message{typ: typePong, text: "probe"}
)

// pollingBytes returns the packet as it appears in a polling payload.
func (m *Message) pollingBytes() []byte {
	m.pollOnce.Do(func() {
		encodeCount.Add(1)
		if m.binary {
			b := make([]byte, 1+base64.StdEncoding.EncodedLen(len(m.data)))
			b[0] = 'b'
			base64.StdEncoding.Encode(b[1:], m.data)
			m.poll = b
			return
		}
		b := make([]byte, 1+len(m.text))
		b[0] = m.typ
		copy(b[1:], m.text)
		m.poll = b
	})
	return m.poll
}

// frameBytes returns the packet as one complete server-to-client (unmasked)
// WebSocket frame: the same bytes serve every receiver.
func (m *Message) frameBytes() []byte {
	m.wsOnce.Do(func() {
		encodeCount.Add(1)
		var f ws.Frame
		if m.binary {
			f = ws.NewBinaryFrame(m.data)
		} else {
			p := make([]byte, 1+len(m.text))
			p[0] = m.typ
			copy(p[1:], m.text)
			f = ws.NewTextFrame(p)
		}
		m.wsFrame = ws.MustCompileFrame(f)
	})
	return m.wsFrame
}
