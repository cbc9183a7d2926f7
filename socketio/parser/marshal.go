package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// MarshalArray encodes values as a JSON array payload. []byte values (at the
// top level or nested in []any and map[string]any) become binary
// attachments with placeholders; json.RawMessage values are embedded
// verbatim; anything else goes through encoding/json (HTML characters not
// escaped, like JavaScript's JSON.stringify). A []byte inside a struct is
// marshalled by encoding/json (base64), not as an attachment.
func MarshalArray(values []any) (json.RawMessage, [][]byte, error) {
	var buf bytes.Buffer
	var bins [][]byte
	buf.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := appendValue(&buf, v, &bins); err != nil {
			return nil, nil, err
		}
	}
	buf.WriteByte(']')
	return buf.Bytes(), bins, nil
}

func appendPlaceholder(buf *bytes.Buffer, num int) {
	buf.WriteString(`{"_placeholder":true,"num":`)
	buf.WriteString(strconv.Itoa(num))
	buf.WriteByte('}')
}

func appendValue(buf *bytes.Buffer, v any, bins *[][]byte) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case []byte:
		appendPlaceholder(buf, len(*bins))
		*bins = append(*bins, x)
	case json.RawMessage:
		if len(x) == 0 {
			buf.WriteString("null")
			return nil
		}
		if !json.Valid(x) {
			return fmt.Errorf("parser: invalid json.RawMessage argument")
		}
		buf.Write(x)
	case string:
		return appendJSON(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendValue(buf, e, bins); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendJSON(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := appendValue(buf, x[k], bins); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return appendJSON(buf, v)
	}
	return nil
}

func appendJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("parser: marshal argument: %w", err)
	}
	// Encode appends a newline.
	buf.Truncate(buf.Len() - 1)
	return nil
}
