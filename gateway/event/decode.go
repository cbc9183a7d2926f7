package event

// Decoding is two-step: Decode first checks the JSON shape against the Go
// struct (required fields present, JSON kinds right: zod's "Required" and
// "Expected string, received number"), then unmarshals and calls Validate
// for the value rules (lengths, patterns, enums: see Check). A field is
// optional when its json tag says omitempty.

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Issue is one validation failure of one field.
type Issue struct {
	// Path is the field's JSON path ("user.socketId"); empty for the payload itself.
	Path string
	// Message is the zod-like sentence, e.g. "Must be 20 characters.".
	Message string
}

// ValidationError is a failed validation: its issues in field order. It is
// answered `invalid_payload` (HTTP 400) with Error() as the message.
type ValidationError struct{ Issues []Issue }

// Invalid returns a ValidationError of one issue.
func Invalid(path, msg string) *ValidationError {
	return &ValidationError{Issues: []Issue{{Path: path, Message: msg}}}
}

// Error renders the issues as "path: message" joined by "; ".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		if is.Path != "" {
			b.WriteString(is.Path)
			b.WriteString(": ")
		}
		b.WriteString(is.Message)
	}
	return b.String()
}

// Validator is implemented by payloads with value rules.
type Validator interface{ Validate() error }

// Decode checks raw's shape against v (a pointer to a struct), unmarshals it
// and runs v's Validate. raw == nil means the client sent no argument. The
// error is a *ValidationError for every client mistake.
func Decode(raw json.RawMessage, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("event: Decode needs a pointer to a struct")
	}
	var issues []Issue
	if len(bytes.TrimSpace(raw)) == 0 {
		// No argument: fine for payloads whose fields are all optional.
		for _, f := range planOf(rv.Elem().Type()) {
			if !f.optional {
				return &ValidationError{Issues: []Issue{{Message: "Required"}}}
			}
		}
		raw = json.RawMessage("{}")
	} else {
		checkShape(raw, rv.Elem().Type(), "", &issues)
	}
	if len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		// The shape matched, so only out-of-range numbers get here.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &ValidationError{Issues: []Issue{{Path: te.Field, Message: "Number out of range"}}}
		}
		return &ValidationError{Issues: []Issue{{Message: "Invalid JSON"}}}
	}
	if val, ok := v.(Validator); ok {
		return val.Validate()
	}
	if val, ok := rv.Elem().Interface().(Validator); ok {
		return val.Validate()
	}
	return nil
}

// field is the decoding plan of one struct field.
type field struct {
	name     string
	index    int
	optional bool
	typ      reflect.Type
}

var plans sync.Map // reflect.Type → []field

func planOf(t reflect.Type) []field {
	if p, ok := plans.Load(t); ok {
		return p.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, field{
			name:     name,
			index:    i,
			optional: strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,"),
			typ:      sf.Type,
		})
	}
	plans.Store(t, fs)
	return fs
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkShape appends an issue for each JSON value of raw that does not fit t.
func checkShape(raw json.RawMessage, t reflect.Type, path string, issues *[]Issue) {
	got := kindOf(raw)
	if t == rawMessageType {
		return
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := expected(t)
	if got != want && !(want == "number" && got == "integer") && !(want == "integer" && got == "number" && isIntegral(raw)) {
		if got == "integer" {
			got = "number"
		}
		if want == "integer" && got == "number" {
			*issues = append(*issues, Issue{Path: path, Message: "Expected integer, received float"})
			return
		}
		*issues = append(*issues, Issue{Path: path, Message: "Expected " + want + ", received " + got})
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			*issues = append(*issues, Issue{Path: path, Message: "Expected object, received " + got})
			return
		}
		for _, f := range planOf(t) {
			p := Path(path, f.name)
			v, ok := obj[f.name]
			if !ok {
				if !f.optional {
					*issues = append(*issues, Issue{Path: p, Message: "Required"})
				}
				continue
			}
			checkShape(v, f.typ, p, issues)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte: binary attachment or base64 string
			return
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return
		}
		for i, v := range arr {
			checkShape(v, t.Elem(), Path(path, strconv.Itoa(i)), issues)
		}
	}
}

// Path joins a field path and a field name ("user" + "socketId" →
// "user.socketId").
func Path(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// expected names the JSON type a Go type decodes from, in zod's words.
func expected(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // []byte: base64 text (binary placeholders are resolved before)
		}
		return "array"
	}
	return "unknown"
}

// kindOf names the JSON type of raw ("integer" for numbers without a fraction).
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "undefined"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if isIntegral(raw) {
		return "integer"
	}
	return "number"
}

func isIntegral(raw json.RawMessage) bool {
	return !bytes.ContainsAny(raw, ".eE")
}
