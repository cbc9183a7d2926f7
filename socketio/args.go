package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sockgate/sockgate/socketio/parser"
)

// Args are the arguments of an inbound event or ack, still undecoded.
type Args struct {
	raw  []json.RawMessage
	bins [][]byte
	at   time.Time
}

// ReceivedAt is when the event's packet was read from the connection,
// before it waited in the socket's inbox (zero for acks and Args built by
// NewArgs): deadlines count from here, not from when a handler starts.
func (a Args) ReceivedAt() time.Time { return a.at }

// NewArgs returns the Args of a JSON array payload (binary values as
// placeholders indexing attachments): for adapters that receive event or
// ack payloads from other servers.
func NewArgs(data json.RawMessage, attachments [][]byte) (Args, error) {
	return newArgs(data, attachments, 0)
}

// newArgs splits a JSON array payload; skip drops leading elements (the
// event name).
func newArgs(data json.RawMessage, bins [][]byte, skip int) (Args, error) {
	var elems []json.RawMessage
	if len(data) > 0 {
		if err := json.Unmarshal(data, &elems); err != nil {
			return Args{}, fmt.Errorf("socketio: arguments: %w", err)
		}
	}
	if skip > len(elems) {
		skip = len(elems)
	}
	return Args{raw: elems[skip:], bins: bins}, nil
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Decode decodes argument i (binary placeholders resolved to []byte for
// fields of type []byte) into v. It returns an error when i is out of range
// or the JSON does not fit v.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.raw) {
		return fmt.Errorf("socketio: argument %d out of range (%d arguments)", i, len(a.raw))
	}
	raw := a.raw[i]
	if len(a.bins) > 0 && bytes.Contains(raw, []byte(`"_placeholder"`)) {
		if b, ok := v.(*[]byte); ok {
			if x, ok := a.value(raw).([]byte); ok {
				*b = x
				return nil
			}
		}
		// encoding/json decodes base64 strings into []byte fields: turn
		// placeholders into base64 strings.
		val := a.valueWith(raw, func(num int) any { return base64.StdEncoding.EncodeToString(a.bins[num]) })
		var err error
		if raw, err = json.Marshal(val); err != nil {
			return fmt.Errorf("socketio: argument %d: %w", i, err)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("socketio: argument %d: %w", i, err)
	}
	return nil
}

// Raw returns argument i as JSON (nil when out of range). Binary values
// appear as placeholders {"_placeholder":true,"num":N}.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Binary reports whether argument i holds binary attachments.
func (a Args) Binary(i int) bool {
	return i >= 0 && i < len(a.raw) && len(a.bins) > 0 && bytes.Contains(a.raw[i], []byte(`"_placeholder"`))
}

// Values returns the arguments as plain Go values (JSON types with numbers
// as json.Number, binary attachments as []byte): for re-emitting them
// unchanged. Object keys are re-emitted in sorted order.
func (a Args) Values() []any {
	out := make([]any, len(a.raw))
	for i, r := range a.raw {
		out[i] = a.value(r)
	}
	return out
}

func (a Args) value(raw json.RawMessage) any {
	return a.valueWith(raw, func(num int) any { return a.bins[num] })
}

func (a Args) valueWith(raw json.RawMessage, bin func(num int) any) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	if len(a.bins) == 0 {
		return v
	}
	return parser.ReplacePlaceholders(v, func(num int) any {
		if num < 0 || num >= len(a.bins) {
			return nil
		}
		return bin(num)
	})
}
