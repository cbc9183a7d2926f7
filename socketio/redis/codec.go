package redis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// This file converts between the core's payloads (JSON text whose binary
// values are Socket.IO placeholders indexing attachments) and the msgpack
// values Node's adapter publishes (binary inline as bin). Conversion goes
// value by value through the library's Encoder/Decoder primitives, so
// object keys keep their order and numbers their text (no map[string]any
// round trip).

var errMalformed = errors.New("redis: malformed message")

// jsonObject is a JSON object with its keys in order.
type jsonObject struct {
	keys []string
	vals []any
}

// parseJSON reads one JSON value into nil, bool, string, json.Number,
// []any or *jsonObject.
func parseJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := parseJSON(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err = dec.Token()
		return arr, err
	case '{':
		obj := &jsonObject{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseJSON(dec)
			if err != nil {
				return nil, err
			}
			obj.keys = append(obj.keys, k.(string))
			obj.vals = append(obj.vals, v)
		}
		_, err = dec.Token()
		return obj, err
	}
	return nil, errMalformed
}

// encodeJSON writes the JSON text raw as msgpack, placeholders replaced by
// the attachments they index (bin).
func encodeJSON(enc *msgpack.Encoder, raw []byte, bins [][]byte) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return enc.EncodeNil()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := parseJSON(dec)
	if err != nil {
		return fmt.Errorf("redis: payload: %w", err)
	}
	return encodeValue(enc, v, bins)
}

func encodeValue(enc *msgpack.Encoder, v any, bins [][]byte) error {
	switch v := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(v)
	case string:
		return enc.EncodeString(v)
	case json.Number:
		return encodeNumber(enc, v)
	case []any:
		if err := enc.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, e := range v {
			if err := encodeValue(enc, e, bins); err != nil {
				return err
			}
		}
		return nil
	case *jsonObject:
		if b, ok := placeholder(v, bins); ok {
			return enc.EncodeBytes(b)
		}
		if err := enc.EncodeMapLen(len(v.keys)); err != nil {
			return err
		}
		for i, k := range v.keys {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := encodeValue(enc, v.vals[i], bins); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("redis: unexpected JSON value %T", v)
}

// encodeNumber writes integers as the smallest msgpack integer (notepack's
// choice) and other numbers as float64.
func encodeNumber(enc *msgpack.Encoder, n json.Number) error {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return enc.EncodeInt(i)
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return enc.EncodeUint(u)
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return enc.EncodeInt(int64(f)) // 1e3 is the integer 1000 in JavaScript
	}
	return enc.EncodeFloat64(f)
}

// placeholder returns the attachment a {_placeholder: true, num: n} object
// stands for.
func placeholder(o *jsonObject, bins [][]byte) ([]byte, bool) {
	if len(o.keys) != 2 {
		return nil, false
	}
	var isPH bool
	num := -1
	for i, k := range o.keys {
		switch k {
		case "_placeholder":
			isPH = o.vals[i] == true
		case "num":
			if n, ok := o.vals[i].(json.Number); ok {
				if x, err := strconv.Atoi(string(n)); err == nil {
					num = x
				}
			}
		}
	}
	if !isPH || num < 0 || num >= len(bins) {
		return nil, false
	}
	return bins[num], true
}

// transcoder turns one msgpack value into JSON text, appending binary
// values to bins and writing placeholders for them.
type transcoder struct {
	buf  bytes.Buffer
	bins [][]byte
}

// decodeJSON reads one msgpack value from dec as JSON with placeholders.
func decodeJSON(dec *msgpack.Decoder) (json.RawMessage, [][]byte, error) {
	var t transcoder
	if err := t.value(dec, 0); err != nil {
		return nil, nil, err
	}
	return t.buf.Bytes(), t.bins, nil
}

const maxDepth = 100

func (t *transcoder) value(dec *msgpack.Decoder, depth int) error {
	if depth > maxDepth {
		return errMalformed
	}
	c, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case c == msgpcode.Nil:
		t.buf.WriteString("null")
		return dec.Skip()
	case c == msgpcode.True || c == msgpcode.False:
		b, _ := dec.DecodeBool()
		t.buf.WriteString(strconv.FormatBool(b))
		return nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		return t.integer(dec, c)
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := dec.DecodeFloat64()
		if err != nil {
			return err
		}
		t.number(f)
		return nil
	case msgpcode.IsString(c):
		s, err := dec.DecodeString()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(s)
		t.buf.Write(b)
		return nil
	case msgpcode.IsBin(c):
		b, err := dec.DecodeBytes()
		if err != nil {
			return err
		}
		t.binary(b)
		return nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return t.array(dec, depth)
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return t.object(dec, depth)
	case msgpcode.IsExt(c):
		return t.ext(dec)
	}
	return errMalformed
}

func (t *transcoder) integer(dec *msgpack.Decoder, c byte) error {
	if c == msgpcode.Uint64 {
		u, err := dec.DecodeUint64()
		if err != nil {
			return err
		}
		t.buf.WriteString(strconv.FormatUint(u, 10))
		return nil
	}
	i, err := dec.DecodeInt64()
	if err != nil {
		return err
	}
	t.buf.WriteString(strconv.FormatInt(i, 10))
	return nil
}

// number writes f as JSON.stringify would (NaN and infinities as null).
func (t *transcoder) number(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		t.buf.WriteString("null")
		return
	}
	b, _ := json.Marshal(f)
	t.buf.Write(b)
}

func (t *transcoder) binary(b []byte) {
	fmt.Fprintf(&t.buf, `{"_placeholder":true,"num":%d}`, len(t.bins))
	t.bins = append(t.bins, b)
}

func (t *transcoder) array(dec *msgpack.Decoder, depth int) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	t.buf.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			t.buf.WriteByte(',')
		}
		if err := t.value(dec, depth+1); err != nil {
			return err
		}
	}
	t.buf.WriteByte(']')
	return nil
}

func (t *transcoder) object(dec *msgpack.Decoder, depth int) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	t.buf.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			t.buf.WriteByte(',')
		}
		k, err := decodeKey(dec)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(k)
		t.buf.Write(b)
		t.buf.WriteByte(':')
		if err := t.value(dec, depth+1); err != nil {
			return err
		}
	}
	t.buf.WriteByte('}')
	return nil
}

// decodeKey reads a map key; notepack writes strings, a number is accepted
// as its decimal text (a JavaScript object's keys are strings).
func decodeKey(dec *msgpack.Decoder) (string, error) {
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return "", err
	}
	switch k := v.(type) {
	case string:
		return k, nil
	case int64, uint64, float64:
		return fmt.Sprint(k), nil
	}
	return "", errMalformed
}

// ext converts the extension values notepack writes: type -1 timestamps
// become JavaScript ISO strings (Date#toJSON, what a Node server would
// send its clients), type 0 the legacy forms (fixext1: undefined → null;
// fixext8: a date in milliseconds; otherwise raw ArrayBuffer bytes); other
// types [type, bytes] as notepack decodes them.
func (t *transcoder) ext(dec *msgpack.Decoder) error {
	raw, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	typ, data, err := splitExt(raw)
	if err != nil {
		return err
	}
	switch {
	case typ == -1:
		tm, err := msgpack.NewDecoder(bytes.NewReader(raw)).DecodeTime()
		if err != nil {
			return err
		}
		t.date(tm)
	case typ == 0 && raw[0] == msgpcode.FixExt1:
		t.buf.WriteString("null")
	case typ == 0 && raw[0] == msgpcode.FixExt8:
		t.date(time.UnixMilli(int64(binary.BigEndian.Uint64(data))))
	case typ == 0:
		t.binary(data)
	default:
		fmt.Fprintf(&t.buf, "[%d,", typ)
		t.binary(data)
		t.buf.WriteByte(']')
	}
	return nil
}

// splitExt returns the type and the data of a raw msgpack ext value.
func splitExt(raw []byte) (int8, []byte, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(raw))
	typ, n, err := dec.DecodeExtHeader()
	if err != nil {
		return 0, nil, err
	}
	if n > len(raw) {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return typ, raw[len(raw)-n:], nil
}

func (t *transcoder) date(tm time.Time) {
	t.buf.WriteByte('"')
	t.buf.WriteString(jsISODate(tm))
	t.buf.WriteByte('"')
}

// jsISODate is JavaScript's Date#toISOString: UTC, always three
// fractional digits.
func jsISODate(tm time.Time) string { return tm.UTC().Format("2006-01-02T15:04:05.000Z") }
