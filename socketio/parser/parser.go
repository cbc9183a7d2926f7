// Package parser is the Socket.IO protocol v5 packet codec.
//
// A packet travels as one Engine.IO text message, followed, for the binary
// types, by one Engine.IO binary message per attachment:
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// Binary values inside the payload are replaced by {"_placeholder":true,"num":N}
// where N indexes the attachments. Decoding validates like Node's
// socket.io-parser: the payload type must fit the packet type (CONNECT: object,
// DISCONNECT: none, EVENT: array whose first element is a number or a
// non-reserved string, ACK: array, CONNECT_ERROR: string or object); anything
// else is an error. The decoder never panics on any input (see FuzzDecode).
//
// What a packet costs is bounded by its size: EVENT and ACK arrays are
// split once into their top-level elements (slices of the message, no copy),
// at most Decoder.MaxArgs of them (DefaultMaxArgs, 256; Node has no such
// limit, see DefaultMaxArgs), and nested values are only skipped (one byte
// of stack per level, encoding/json's depth limit of 10000). A 1 MB
// ["x",0,0,…] is refused after 256 elements: 33 µs and 16 KB instead of
// 94 ms and 65 MB (BenchmarkDecodeAmplifying). The placeholders of a
// binary packet are checked by a linear scan of its JSON
// (scanPlaceholders), not by decoding it into []any / map[string]any,
// which cost 45 MB for a 1 MB nested array.
package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Type is a Socket.IO packet type.
type Type byte

// Packet types of protocol v5.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// DefaultMaxAttachments is Node's default limit of binary attachments per packet.
const DefaultMaxAttachments = 10

// DefaultMaxArgs is the default limit of top-level elements of an EVENT or
// ACK payload (the event name included). Node has none; here each element
// is split eagerly (24 bytes of json.RawMessage per element, whatever its
// length), so the limit is what bounds a packet's memory to a small
// multiple of its size: without it a legal 1 MB ["x",0,0,…] cost 65 MB
// and 94 ms to split. No application passes hundreds of arguments;
// arrays belong inside one argument, where they cost nothing until a
// handler decodes them.
const DefaultMaxArgs = 256

// Errors returned by Decode and Decoder.Add.
var (
	// ErrInvalidPacket reports a packet that does not follow the protocol.
	ErrInvalidPacket = errors.New("parser: invalid packet")
	// ErrTooManyAttachments reports a binary packet announcing more
	// attachments than allowed.
	ErrTooManyAttachments = errors.New("parser: too many attachments")
	// ErrTooManyArgs reports an EVENT or ACK payload with more top-level
	// elements than allowed (Decoder.MaxArgs).
	ErrTooManyArgs = errors.New("parser: too many arguments")
	// ErrUnexpectedBinary reports a binary message that no binary packet announced.
	ErrUnexpectedBinary = errors.New("parser: unexpected binary message")
	// ErrUnexpectedText reports a text message arriving while binary
	// attachments are still expected.
	ErrUnexpectedText = errors.New("parser: text message while reconstructing a binary packet")
)

// ReservedEvents may not be used as event names: they have a meaning on one
// side or the other (Node's list).
var ReservedEvents = []string{
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
}

// IsReserved reports whether name is a reserved event name.
func IsReserved(name string) bool {
	for _, r := range ReservedEvents {
		if r == name {
			return true
		}
	}
	return false
}

// Packet is one decoded (or to be encoded) Socket.IO packet.
//
// Data is the JSON payload with binary values replaced by placeholders; nil
// when the packet has none. Attachments are the binary values the
// placeholders point to. Binary types are normalised: a decoded BINARY_EVENT
// is returned as Event with its Attachments, and Encode turns an Event or Ack
// with attachments into BINARY_EVENT / BINARY_ACK.
type Packet struct {
	Type        Type
	Namespace   string // "/" when absent on the wire
	HasID       bool
	ID          uint64
	Data        json.RawMessage
	Attachments [][]byte
	// Elems holds the elements of an EVENT or ACK payload array as split
	// while decoding (nil on packets built for encoding).
	Elems []json.RawMessage

	pending int // attachments still expected while decoding
}

// Encode returns the text part of p and its binary parts, which follow the
// text as separate messages. The binary slices are p's own (not copied).
func Encode(p *Packet) (string, [][]byte) {
	var b strings.Builder
	b.Grow(len(p.Data) + len(p.Namespace) + 24)
	t := p.Type
	if len(p.Attachments) > 0 {
		switch t {
		case Event:
			t = BinaryEvent
		case Ack:
			t = BinaryAck
		}
	}
	b.WriteByte('0' + byte(t))
	if t == BinaryEvent || t == BinaryAck {
		b.WriteString(strconv.Itoa(len(p.Attachments)))
		b.WriteByte('-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		b.WriteString(p.Namespace)
		b.WriteByte(',')
	}
	if p.HasID {
		b.WriteString(strconv.FormatUint(p.ID, 10))
	}
	b.Write(p.Data)
	return b.String(), p.Attachments
}

// Decode decodes the text part of a packet. For a binary packet the returned
// packet's Type is Event or Ack and Pending reports how many attachments
// must still follow (see Decoder).
// EVENT and ACK payloads may have at most DefaultMaxArgs elements.
func Decode(s string, maxAttachments int) (*Packet, error) {
	return decode([]byte(s), maxAttachments, DefaultMaxArgs)
}

// decode is Decode of bytes the packet may keep: its Data and Elems alias s.
func decode(s []byte, maxAttachments, maxArgs int) (*Packet, error) {
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidPacket)
	}
	c := s[0]
	if c < '0' || c > '6' {
		return nil, fmt.Errorf("%w: unknown packet type %q", ErrInvalidPacket, c)
	}
	p := &Packet{Type: Type(c - '0'), Namespace: "/"}
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := bytes.IndexByte(s[i:], '-')
		if j <= 0 {
			return nil, fmt.Errorf("%w: illegal attachments", ErrInvalidPacket)
		}
		n, err := strconv.Atoi(string(s[i : i+j]))
		if err != nil || n < 0 || !allDigits(string(s[i:i+j])) {
			return nil, fmt.Errorf("%w: illegal attachments", ErrInvalidPacket)
		}
		if n > maxAttachments {
			return nil, ErrTooManyAttachments
		}
		p.pending = n
		i += j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.Namespace = string(s[i:])
			i = len(s)
		} else {
			p.Namespace = string(s[i : i+j])
			i += j + 1
		}
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > start {
		id, err := strconv.ParseUint(string(s[start:i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: ack id", ErrInvalidPacket)
		}
		p.HasID, p.ID = true, id
	}
	if i < len(s) {
		p.Data = json.RawMessage(s[i:len(s):len(s)])
	}
	elems, err := validPayload(p.Type, p.Data, maxArgs)
	if err != nil {
		return nil, err
	}
	p.Elems = elems
	switch p.Type {
	case BinaryEvent:
		p.Type = Event
	case BinaryAck:
		p.Type = Ack
	}
	if p.pending > 0 {
		p.Attachments = make([][]byte, 0, p.pending)
	}
	return p, nil
}

// Pending returns how many binary attachments the packet still waits for.
func (p *Packet) Pending() int { return p.pending - len(p.Attachments) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// validPayload applies Node's isPayloadValid. It returns the elements of
// array payloads (EVENT, ACK).
func validPayload(t Type, data json.RawMessage, maxArgs int) ([]json.RawMessage, error) {
	if data == nil {
		switch t {
		case Connect, Disconnect:
			return nil, nil
		default:
			return nil, fmt.Errorf("%w: missing payload", ErrInvalidPacket)
		}
	}
	first := firstByte(data)
	switch t {
	case Event, BinaryEvent, Ack, BinaryAck:
		if first != '[' {
			break
		}
		elems, ok, tooMany := splitArray(data, maxArgs)
		if tooMany {
			return nil, fmt.Errorf("%w (more than %d)", ErrTooManyArgs, maxArgs)
		}
		if !ok {
			return nil, fmt.Errorf("%w: payload is not JSON", ErrInvalidPacket)
		}
		if t == Ack || t == BinaryAck {
			if elems == nil {
				elems = []json.RawMessage{}
			}
			return elems, nil
		}
		if len(elems) > 0 {
			if _, err := EventName(elems[0]); err == nil {
				return elems, nil
			}
		}
	default:
		if !json.Valid(data) {
			return nil, fmt.Errorf("%w: payload is not JSON", ErrInvalidPacket)
		}
		switch t {
		case Connect:
			if first == '{' {
				return nil, nil
			}
		case ConnectError:
			if first == '{' || first == '"' {
				return nil, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: invalid payload", ErrInvalidPacket)
}

// EventName returns the event name held by the first element of an EVENT
// payload: a non-reserved string, or a number (returned in its JSON form).
func EventName(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("%w: no event name", ErrInvalidPacket)
	}
	switch c := raw[0]; {
	case c == '"':
		if s, ok := plainString(raw); ok {
			if IsReserved(s) {
				return "", fmt.Errorf("%w: reserved event name %q", ErrInvalidPacket, s)
			}
			return s, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: event name", ErrInvalidPacket)
		}
		if IsReserved(s) {
			return "", fmt.Errorf("%w: reserved event name %q", ErrInvalidPacket, s)
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw), nil
	}
	return "", fmt.Errorf("%w: event name must be a string", ErrInvalidPacket)
}

// plainString returns the value of a JSON string made of printable ASCII
// without escapes (the common event name) without going through
// encoding/json; ok is false for anything else.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// Decoder reassembles packets from a connection's Engine.IO messages: a
// binary packet's text part is held until all its attachments have arrived.
// A Decoder is used by one goroutine at a time.
type Decoder struct {
	// MaxAttachments caps the attachments of one packet. Zero means
	// DefaultMaxAttachments.
	MaxAttachments int
	// MaxArgs caps the top-level elements of an EVENT or ACK payload
	// (ErrTooManyArgs beyond). Zero means DefaultMaxArgs.
	MaxArgs int

	pending *Packet
}

// Add feeds one Engine.IO message. It returns the completed packet, or nil
// when more binary messages are expected. After an error the decoder is
// reset; the connection should be closed. The packet keeps data (its Data,
// Elems and Attachments alias it): the caller must not modify it afterwards.
func (d *Decoder) Add(data []byte, binary bool) (*Packet, error) {
	if binary {
		if d.pending == nil {
			return nil, ErrUnexpectedBinary
		}
		p := d.pending
		p.Attachments = append(p.Attachments, data)
		if p.Pending() > 0 {
			return nil, nil
		}
		d.pending = nil
		if err := checkPlaceholders(p.Data, len(p.Attachments)); err != nil {
			return nil, err
		}
		return p, nil
	}
	if d.pending != nil {
		d.pending = nil
		return nil, ErrUnexpectedText
	}
	max := d.MaxAttachments
	if max == 0 {
		max = DefaultMaxAttachments
	}
	maxArgs := d.MaxArgs
	if maxArgs == 0 {
		maxArgs = DefaultMaxArgs
	}
	p, err := decode(data, max, maxArgs)
	if err != nil {
		return nil, err
	}
	if p.Pending() > 0 {
		d.pending = p
		return nil, nil
	}
	// A text packet's placeholder-shaped objects are plain data (as in
	// Node, which reconstructs binary packets only).
	return p, nil
}

// Reset drops a partially received packet.
func (d *Decoder) Reset() { d.pending = nil }

// checkPlaceholders verifies that every placeholder of data points to one of
// the n attachments (Node throws "illegal attachments" otherwise).
func checkPlaceholders(data json.RawMessage, n int) error {
	if !bytes.Contains(data, []byte(`"_placeholder"`)) {
		return nil
	}
	ok := true
	scanPlaceholders(data, func(num int) { // data was validated by decode
		if num < 0 || num >= n {
			ok = false
		}
	})
	if !ok {
		return fmt.Errorf("%w: illegal attachments", ErrInvalidPacket)
	}
	return nil
}

// PlaceholderIndex reports whether v (a value decoded by encoding/json) is a
// binary placeholder and returns its attachment index (-1 when the index is
// not a valid integer).
func PlaceholderIndex(v any) (int, bool) {
	m, ok := v.(map[string]any)
	if !ok || m["_placeholder"] != true {
		return 0, false
	}
	var f float64
	switch n := m["num"].(type) {
	case float64:
		f = n
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return -1, true
		}
		f = x
	default:
		return -1, true
	}
	if f != float64(int(f)) || f < 0 || f > 1<<20 {
		return -1, true
	}
	return int(f), true
}

// WalkPlaceholders calls fn with the index of every placeholder inside v.
func WalkPlaceholders(v any, fn func(num int)) {
	if num, ok := PlaceholderIndex(v); ok {
		fn(num)
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			WalkPlaceholders(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			WalkPlaceholders(e, fn)
		}
	}
}

// ReplacePlaceholders returns v with every placeholder replaced by
// repl(num); containers are modified in place.
func ReplacePlaceholders(v any, repl func(num int) any) any {
	if num, ok := PlaceholderIndex(v); ok {
		return repl(num)
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			x[i] = ReplacePlaceholders(e, repl)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = ReplacePlaceholders(e, repl)
		}
	}
	return v
}
