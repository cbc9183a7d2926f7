package engine

import (
	"bytes"
	"encoding/base64"
	"errors"
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

// decodePayload splits a polling payload on the record separator (0x1e) and
// decodes every packet; it fails as a whole on the first malformed packet
// so that nothing of a corrupt payload is delivered.
func decodePayload(b []byte) ([]packet, error) {
	if len(b) == 0 {
		return nil, errParse
	}
	n := bytes.Count(b, []byte{recordSep}) + 1
	pkts := make([]packet, 0, n)
	for len(b) > 0 || len(pkts) < n {
		i := bytes.IndexByte(b, recordSep)
		var part []byte
		if i < 0 {
			part, b = b, nil
		} else {
			part, b = b[:i], b[i+1:]
		}
		p, err := decodePacket(part, true)
		if err != nil {
			return nil, err
		}
		pkts = append(pkts, p)
	}
	return pkts, nil
}

const recordSep = 0x1e
