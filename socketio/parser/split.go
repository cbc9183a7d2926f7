package parser

import (
	"encoding/json"
	"strconv"
)

// maxNestingDepth is encoding/json's limit on nested arrays and objects
// (the outer array included): deeper documents are invalid there, so they
// are here too.
const maxNestingDepth = 10000

// splitArray validates data as one JSON array (surrounding whitespace
// allowed) and returns its elements, in one pass: the EVENT/ACK hot path
// used to validate with encoding/json and then unmarshal into
// []json.RawMessage, scanning every payload twice. It accepts exactly what
// encoding/json accepts (see FuzzSplitArray). The elements share data's
// bytes; each is capped (s[a:b:b]) so that appending to one cannot overwrite
// the next.
//
// maxElems caps the elements (-1: no cap): a longer array stops the split at once
// with tooMany set (an element costs 24 bytes of slice header, so a 1 MB
// array of one-byte elements would cost 12 MB and more in slice growth:
// the amplification of issue 9). The elements' own nesting costs nothing
// here: skipValue only skips it.
func splitArray(data []byte, maxElems int) (elems []json.RawMessage, ok, tooMany bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, false, false
	}
	i = skipSpace(data, i+1)
	elems = make([]json.RawMessage, 0, 4)
	if i < len(data) && data[i] == ']' {
		return elems, skipSpace(data, i+1) == len(data), false
	}
	for {
		if len(elems) == maxElems {
			return nil, false, true
		}
		start := i
		end, ok := skipValue(data, i)
		if !ok {
			return nil, false, false
		}
		elems = append(elems, data[start:end:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, false, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
			continue
		case ']':
			return elems, skipSpace(data, i+1) == len(data), false
		}
		return nil, false, false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i] (no leading
// whitespace), nested inside the outer array. It is iterative: a deeply
// nested payload costs a byte per level, not a stack frame.
func skipValue(b []byte, i int) (int, bool) {
	var buf [32]byte
	stack := buf[:0] // open containers: '[' or '{'
	ok := true
	for {
		// A value starts at i.
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; c {
		case '[', '{':
			if len(stack)+2 > maxNestingDepth {
				return 0, false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && (b[i] == ']' && c == '[' || b[i] == '}' && c == '{') {
				i++
				break // an empty container is a complete value
			}
			stack = append(stack, c)
			if c == '{' {
				if i, ok = skipKey(b, i); !ok {
					return 0, false
				}
			}
			continue // its first element
		case '"':
			i, ok = skipString(b, i)
		case 't':
			i, ok = skipLiteral(b, i, "true")
		case 'f':
			i, ok = skipLiteral(b, i, "false")
		case 'n':
			i, ok = skipLiteral(b, i, "null")
		default:
			i, ok = skipNumber(b, i)
		}
		if !ok {
			return 0, false
		}
		// A value ended at i: close containers until one has a next element.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if top == '{' {
					if i, ok = skipKey(b, i); !ok {
						return 0, false
					}
				}
				break
			}
			if b[i] == ']' && top == '[' || b[i] == '}' && top == '{' {
				i++
				stack = stack[:len(stack)-1]
				continue
			}
			return 0, false
		}
	}
}

// skipKey skips `"key" :` and the whitespace up to the member's value.
func skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, ok := skipString(b, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return skipSpace(b, i+1), true
}

// skipString skips the string starting at b[i] == '"'. Like encoding/json's
// scanner it rejects control characters and bad escapes, and leaves UTF-8
// validity to the transport.
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return 0, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, false
					}
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// skipNumber skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// scanPlaceholders calls fn with the index of every binary placeholder of
// data, a valid JSON document (-1 for an index that is not a valid
// integer), as WalkPlaceholders does on the decoded value, without
// decoding it: a linear scan that skips strings and, at each object, reads
// its members; a placeholder ({"_placeholder":true, "num":N}, as encoding/
// json would decode it) is not descended into, any other object is. It
// allocates nothing (except for keys with escapes), so a binary packet
// whose payload is a 1 MB array costs no []any of it.
func scanPlaceholders(data []byte, fn func(num int)) {
	for i := 0; i < len(data); {
		switch data[i] {
		case '"':
			end, ok := skipString(data, i)
			if !ok {
				return
			}
			i = end
		case '{':
			if num, end, ok := placeholderAt(data, i); ok {
				fn(num)
				i = end
				continue
			}
			i++
		default:
			i++
		}
	}
}

// placeholderAt reads the object at data[i] == '{'. When its (last)
// "_placeholder" member is true, it returns the index its (last) "num"
// member holds (-1 unless an integer in 0..1<<20) and the object's end.
func placeholderAt(data []byte, i int) (num, end int, ok bool) {
	var isPH bool
	var numRaw []byte
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return 0, 0, false
	}
	for i < len(data) {
		kEnd, kok := skipString(data, i)
		if !kok {
			return 0, 0, false
		}
		key := objectKey(data[i:kEnd])
		i = skipSpace(data, kEnd)
		if i >= len(data) || data[i] != ':' {
			return 0, 0, false
		}
		i = skipSpace(data, i+1)
		vEnd, vok := skipValue(data, i)
		if !vok {
			return 0, 0, false
		}
		switch key {
		case "_placeholder":
			isPH = string(data[i:vEnd]) == "true"
		case "num":
			numRaw = data[i:vEnd]
		}
		i = skipSpace(data, vEnd)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' && isPH {
			return placeholderNum(numRaw), i + 1, true
		}
		return 0, 0, false
	}
	return 0, 0, false
}

// objectKey returns a JSON string's value; only keys with escapes (rare)
// go through encoding/json.
func objectKey(raw []byte) string {
	if s, ok := plainString(raw); ok {
		return s
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// placeholderNum is PlaceholderIndex's reading of a "num" member.
func placeholderNum(raw []byte) int {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return -1
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != float64(int(f)) || f < 0 || f > 1<<20 {
		return -1
	}
	return int(f)
}
