package engine

import (
	"encoding/base64"
	"encoding/binary"
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

// Len returns the size of the message's payload in bytes (text or
// binary, without framing).
func (m *Message) Len() int { return len(m.text) + len(m.data) }

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

// size is what m weighs in a send queue: its payload bytes.
func (m *Message) size() int64 { return int64(len(m.text) + len(m.data)) }

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
		if m.binary {
			m.wsFrame = serverFrame(ws.OpBinary, 0, "", m.data)
		} else {
			m.wsFrame = serverFrame(ws.OpText, m.typ, m.text, nil)
		}
	})
	return m.wsFrame
}

// serverFrame returns one final, unmasked WebSocket frame whose payload is
// prefix (omitted when 0), text and data, built in one allocation. It is
// what ws.MustCompileFrame produces (TestServerFrame), without the
// bytes.Buffer growth and the deep call chain: the first frameBytes call
// usually runs on a fresh writer goroutine, whose small stack the gobwas
// path had to grow (≈10% of the ack workload's CPU).
func serverFrame(op ws.OpCode, prefix byte, text string, data []byte) []byte {
	n := len(text) + len(data)
	if prefix != 0 {
		n++
	}
	hdr := 2
	switch {
	case n > 0xFFFF:
		hdr = 10
	case n > 125:
		hdr = 4
	}
	b := make([]byte, hdr, hdr+n)
	b[0] = 0x80 | byte(op) // FIN
	switch hdr {
	case 2:
		b[1] = byte(n)
	case 4:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	if prefix != 0 {
		b = append(b, prefix)
	}
	b = append(b, text...)
	return append(b, data...)
}
