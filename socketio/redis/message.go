package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// Request and response types on the wire (Node's RequestType).
const (
	typeSockets            = 0
	typeAllRooms           = 1
	typeRemoteJoin         = 2
	typeRemoteLeave        = 3
	typeRemoteDisconnect   = 4
	typeRemoteFetch        = 5
	typeServerSideEmit     = 6
	typeBroadcast          = 7
	typeBroadcastCount     = 8
	typeBroadcastAck       = 9
	packetEvent            = 2 // Socket.IO EVENT, the packet type of broadcasts
	packetBinaryEventNoAck = 5
)

// wireOpts is a request's {rooms, except} (JSON).
type wireOpts struct {
	Rooms  []string `json:"rooms"`
	Except []string `json:"except"`
}

func toWireOpts(o socketio.BroadcastOptions) wireOpts {
	return wireOpts{Rooms: nonNil(o.Rooms), Except: nonNil(o.Except)}
}

func (w *wireOpts) options() socketio.BroadcastOptions {
	return socketio.BroadcastOptions{Rooms: w.Rooms, Except: w.Except, Flags: socketio.BroadcastFlags{Local: true}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// request is any request received on the request channel. Packet and
// Flags are set for msgpack BROADCAST (7) requests only.
type request struct {
	UID       *string         `json:"uid"`
	RequestID string          `json:"requestId"`
	Type      int             `json:"type"`
	Opts      *wireOpts       `json:"opts"`
	Rooms     []string        `json:"rooms"`
	Close     bool            `json:"close"`
	Data      json.RawMessage `json:"data"`
	SID       string          `json:"sid"`
	Room      string          `json:"room"`

	packet *wirePacket
	flags  socketio.BroadcastFlags
	bins   [][]byte // attachments indexed by Data's placeholders (sharded)
}

// response is any response received on a response channel. packet holds
// a BROADCAST_ACK's reply (msgpack).
type response struct {
	Type        int             `json:"type"`
	RequestID   string          `json:"requestId"`
	Sockets     json.RawMessage `json:"sockets"`
	Rooms       []string        `json:"rooms"`
	ClientCount int             `json:"clientCount"`
	Data        json.RawMessage `json:"data"`

	packet *wirePacket
	bins   [][]byte // attachments indexed by Data's placeholders (sharded)
}

// wirePacket is a Socket.IO packet as Node's adapter publishes it
// ({type, data, nsp}), data converted to JSON with placeholders.
type wirePacket struct {
	typ  int
	nsp  string
	data json.RawMessage
	bins [][]byte
}

func (w *wirePacket) packet(id uint64, hasID bool) *parser.Packet {
	return &parser.Packet{Type: parser.Event, Namespace: w.nsp, HasID: hasID, ID: id, Data: w.data, Attachments: w.bins}
}

// encodeBroadcast is the pub/sub message [uid, packet, opts].
func encodeBroadcast(uid string, p *parser.Packet, opts socketio.BroadcastOptions) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeArrayLen(3); err != nil {
		return nil, err
	}
	if err := enc.EncodeString(uid); err != nil {
		return nil, err
	}
	if err := encodePacket(enc, p); err != nil {
		return nil, err
	}
	if err := encodeOpts(enc, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeBroadcastRequest is the msgpack BROADCAST (7) request.
func encodeBroadcastRequest(uid, requestID string, p *parser.Packet, opts socketio.BroadcastOptions) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err := firstErr(enc.EncodeMapLen(5),
		enc.EncodeString("uid"), enc.EncodeString(uid),
		enc.EncodeString("requestId"), enc.EncodeString(requestID),
		enc.EncodeString("type"), enc.EncodeInt(typeBroadcast),
		enc.EncodeString("packet"))
	if err == nil {
		err = encodePacket(enc, p)
	}
	if err == nil {
		err = enc.EncodeString("opts")
	}
	if err == nil {
		err = encodeOpts(enc, opts)
	}
	return buf.Bytes(), err
}

// encodeBroadcastAck is the msgpack BROADCAST_ACK (9) response carrying
// a client's first reply argument.
func encodeBroadcastAck(requestID string, reply socketio.Args) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	err := firstErr(enc.EncodeMapLen(3),
		enc.EncodeString("type"), enc.EncodeInt(typeBroadcastAck),
		enc.EncodeString("requestId"), enc.EncodeString(requestID),
		enc.EncodeString("packet"))
	if err != nil {
		return nil, err
	}
	arg, bins, err := firstArg(reply)
	if err != nil {
		return nil, err
	}
	if arg == nil {
		err = enc.EncodeNil()
	} else {
		err = encodeJSON(enc, arg, bins)
	}
	return buf.Bytes(), err
}

// firstArg returns a client's first reply argument as JSON whose
// placeholders index bins; nil when the reply has no argument.
func firstArg(reply socketio.Args) (json.RawMessage, [][]byte, error) {
	vals := reply.Values() // binary as []byte: re-marshal to find attachments
	if len(vals) == 0 {
		return nil, nil, nil
	}
	data, bins, err := parser.MarshalArray(vals[:1])
	if err != nil {
		return nil, nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil || len(elems) == 0 {
		return nil, nil, errMalformed
	}
	return elems[0], bins, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func encodePacket(enc *msgpack.Encoder, p *parser.Packet) error {
	err := firstErr(enc.EncodeMapLen(3),
		enc.EncodeString("type"), enc.EncodeInt(packetEvent),
		enc.EncodeString("data"))
	if err != nil {
		return err
	}
	if err := encodeJSON(enc, p.Data, p.Attachments); err != nil {
		return err
	}
	return firstErr(enc.EncodeString("nsp"), enc.EncodeString(p.Namespace))
}

func encodeOpts(enc *msgpack.Encoder, opts socketio.BroadcastOptions) error {
	err := firstErr(enc.EncodeMapLen(3),
		enc.EncodeString("rooms"), enc.Encode(nonNil(opts.Rooms)),
		enc.EncodeString("except"), enc.Encode(nonNil(opts.Except)),
		enc.EncodeString("flags"))
	if err != nil {
		return err
	}
	f := opts.Flags
	n := 0
	if f.Volatile {
		n++
	}
	if f.Timeout > 0 {
		n++
	}
	if err := enc.EncodeMapLen(n); err != nil {
		return err
	}
	if f.Volatile {
		if err := firstErr(enc.EncodeString("volatile"), enc.EncodeBool(true)); err != nil {
			return err
		}
	}
	if f.Timeout > 0 {
		return firstErr(enc.EncodeString("timeout"), enc.EncodeInt(f.Timeout.Milliseconds()))
	}
	return nil
}

// broadcastMsg is a decoded [uid, packet, opts].
type broadcastMsg struct {
	uid    string
	packet wirePacket
	opts   socketio.BroadcastOptions
}

func decodeBroadcast(b []byte) (*broadcastMsg, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	n, err := dec.DecodeArrayLen()
	if err != nil || n != 3 {
		return nil, errMalformed
	}
	var m broadcastMsg
	uid, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return nil, err
	}
	m.uid, _ = uid.(string)
	if m.packet, err = decodePacket(dec); err != nil {
		return nil, err
	}
	if m.opts, err = decodeOpts(dec); err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeMap calls field for each key of a msgpack map; field must consume
// the value.
func decodeMap(dec *msgpack.Decoder, field func(key string) error) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	if n < 0 {
		return errMalformed
	}
	for i := 0; i < n; i++ {
		k, err := decodeKey(dec)
		if err != nil {
			return err
		}
		if err := field(k); err != nil {
			return err
		}
	}
	return nil
}

func decodePacket(dec *msgpack.Decoder) (wirePacket, error) {
	p := wirePacket{typ: -1, nsp: "/"}
	err := decodeMap(dec, func(k string) (err error) {
		switch k {
		case "type":
			p.typ, err = dec.DecodeInt()
		case "nsp":
			var v any
			if v, err = dec.DecodeInterfaceLoose(); err == nil {
				if s, ok := v.(string); ok {
					p.nsp = s
				}
			}
		case "data":
			p.data, p.bins, err = decodeJSON(dec)
		default:
			err = dec.Skip()
		}
		return err
	})
	if err == nil && (p.typ != packetEvent && p.typ != packetBinaryEventNoAck || !eventData(p.data)) {
		err = errMalformed
	}
	return p, err
}

func decodeOpts(dec *msgpack.Decoder) (socketio.BroadcastOptions, error) {
	var o socketio.BroadcastOptions
	err := decodeMap(dec, func(k string) (err error) {
		switch k {
		case "rooms":
			o.Rooms, err = decodeStrings(dec)
		case "except":
			o.Except, err = decodeStrings(dec)
		case "flags":
			o.Flags, err = decodeFlags(dec)
		default:
			err = dec.Skip()
		}
		return err
	})
	return o, err
}

// decodeStrings reads an array of rooms (numbers as their text) or nil.
func decodeStrings(dec *msgpack.Decoder) ([]string, error) {
	v, err := dec.DecodeInterfaceLoose()
	if err != nil || v == nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errMalformed
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case int64, uint64, float64:
			out = append(out, fmt.Sprint(e))
		default:
			return nil, errMalformed
		}
	}
	return out, nil
}

func decodeFlags(dec *msgpack.Decoder) (socketio.BroadcastFlags, error) {
	var f socketio.BroadcastFlags
	v, err := dec.DecodeInterfaceLoose()
	if err != nil || v == nil {
		return f, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return f, errMalformed
	}
	f.Volatile = m["volatile"] == true
	switch t := m["timeout"].(type) {
	case int64:
		f.Timeout = time.Duration(t) * time.Millisecond
	case uint64:
		f.Timeout = time.Duration(t) * time.Millisecond
	case float64:
		f.Timeout = time.Duration(t * float64(time.Millisecond))
	}
	return f, nil
}

// decodeBroadcastRequest reads a msgpack BROADCAST (7) request.
func decodeBroadcastRequest(b []byte) (*request, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	r := &request{Type: -1}
	err := decodeMap(dec, func(k string) (err error) {
		switch k {
		case "uid":
			var v any
			if v, err = dec.DecodeInterfaceLoose(); err == nil {
				if s, ok := v.(string); ok {
					r.UID = &s
				}
			}
		case "requestId":
			r.RequestID, err = dec.DecodeString()
		case "type":
			r.Type, err = dec.DecodeInt()
		case "packet":
			var p wirePacket
			p, err = decodePacket(dec)
			r.packet = &p
		case "opts":
			var o socketio.BroadcastOptions
			o, err = decodeOpts(dec)
			r.Opts, r.flags = &wireOpts{Rooms: o.Rooms, Except: o.Except}, o.Flags
		default:
			err = dec.Skip()
		}
		return err
	})
	return r, err
}

// decodeBroadcastAck reads a msgpack response (BROADCAST_ACK, 9).
func decodeBroadcastAck(b []byte) (*response, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	r := &response{Type: -1}
	err := decodeMap(dec, func(k string) (err error) {
		switch k {
		case "requestId":
			r.RequestID, err = dec.DecodeString()
		case "type":
			r.Type, err = dec.DecodeInt()
		case "packet":
			p := wirePacket{}
			p.data, p.bins, err = decodeJSON(dec)
			r.packet = &p
		default:
			err = dec.Skip()
		}
		return err
	})
	return r, err
}
