package engine

import (
	"bytes"
	"encoding/base64"
	"errors"
	"iter"
	"slices"
)

// errParse reports malformed Engine.IO input; the connection is closed with
// reason "parse error".
var errParse = errors.New("engine: parse error")

// packet is one decoded inbound packet. data aliases the input for text
// packets and is freshly allocated for base64-decoded binary ones.
type packet struct {
	typ    byte
	data   []byte
	binary bool
}

// decodePacket decodes one text-form packet (a WebSocket text frame or one
// element of a polling payload). Binary packets in text form start with 'b'
// followed by base64; Node accepts that form on both transports.
func decodePacket(b []byte, allowB64 bool) (packet, error) {
	if len(b) == 0 {
		return packet{}, errParse
	}
	if b[0] == 'b' {
		if !allowB64 {
			return packet{}, errParse
		}
		d := make([]byte, base64.StdEncoding.DecodedLen(len(b)-1))
		n, err := base64.StdEncoding.Decode(d, b[1:])
		if err != nil {
			return packet{}, errParse
		}
		return packet{typ: typeMessage, data: d[:n], binary: true}, nil
	}
	if b[0] < typeOpen || b[0] > typeNoop {
		return packet{}, errParse
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// eachPacket decodes a polling payload, packets separated by 0x1e, and
// calls fn with each in order until fn returns false. It validates the
// whole payload first, so that nothing of a corrupt payload is delivered,
// and holds no list of packets: a 1 MB payload of 500,000 empty packets
// ("6\x1e6\x1e…") costs no more than its bytes (a []packet of it cost
// 20 MB). Base64 packets are decoded twice (validated into a scratch
// buffer, then decoded for delivery), which only binary data over polling
// pays.
func eachPacket(b []byte, fn func(p packet) bool) error {
	if len(b) == 0 {
		return errParse
	}
	var scratch []byte
	for part := range payloadParts(b) {
		if len(part) > 0 && part[0] == 'b' {
			scratch = slices.Grow(scratch[:0], base64.StdEncoding.DecodedLen(len(part)-1))
			if _, err := base64.StdEncoding.Decode(scratch[:cap(scratch)], part[1:]); err != nil {
				return errParse
			}
			continue
		}
		if _, err := decodePacket(part, false); err != nil {
			return err
		}
	}
	for part := range payloadParts(b) {
		p, err := decodePacket(part, true)
		if err != nil {
			return err // not reached: validated above
		}
		if !fn(p) {
			break
		}
	}
	return nil
}

// payloadParts yields the parts of a polling payload between separators
// (an empty payload yields one empty part, like a trailing separator).
func payloadParts(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for {
			i := bytes.IndexByte(b, recordSep)
			if i < 0 {
				yield(b)
				return
			}
			if !yield(b[:i]) {
				return
			}
			b = b[i+1:]
		}
	}
}

const recordSep = 0x1e
