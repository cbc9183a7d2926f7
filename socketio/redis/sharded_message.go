package redis

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockgate/sockgate/socketio"
)

// Message types of the sharded format (socket.io-adapter's ClusterAdapter
// MessageType). 1, 2 and 13 (heartbeats, adapter close) belong to
// ClusterAdapterWithHeartbeat, which the sharded adapter is not.
const (
	shBroadcast      = 3
	shSocketsJoin    = 4
	shSocketsLeave   = 5
	shDisconnect     = 6
	shFetchSockets   = 7
	shFetchResponse  = 8
	shServerSideEmit = 9
	shServerSideResp = 10
	shClientCount    = 11
	shBroadcastAck   = 12
)

// shardedTypes maps the classic request numbers used inside the adapter
// to the sharded message types.
var shardedTypes = map[int]int{
	typeBroadcast: shBroadcast, typeRemoteJoin: shSocketsJoin, typeRemoteLeave: shSocketsLeave,
	typeRemoteDisconnect: shDisconnect, typeRemoteFetch: shFetchSockets, typeServerSideEmit: shServerSideEmit,
}

// classicTypes is shardedTypes the other way round.
var classicTypes = func() map[int]int {
	m := make(map[int]int, len(shardedTypes))
	for c, s := range shardedTypes {
		m[s] = c
	}
	return m
}()

// shardedAnswerTypes maps an answer's classic type to its message type.
var shardedAnswerTypes = map[int]int{
	typeRemoteFetch: shFetchResponse, typeServerSideEmit: shServerSideResp,
	typeBroadcastCount: shClientCount, typeBroadcastAck: shBroadcastAck,
}

var errNotSharded = errors.New("redis: not supported by the sharded format")

// envelope is a sharded message: {uid, nsp, type, data}.
type envelope struct {
	UID  string          `json:"uid"`
	NSP  string          `json:"nsp"`
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
}

// envelopeData is the data of every message type (the fields a type does
// not use are absent).
type envelopeData struct {
	RequestID   string          `json:"requestId"`
	Packet      json.RawMessage `json:"packet"`
	Opts        *shardedOpts    `json:"opts"`
	Rooms       []string        `json:"rooms"`
	Close       bool            `json:"close"`
	Sockets     json.RawMessage `json:"sockets"`
	ClientCount int             `json:"clientCount"`
}

type shardedOpts struct {
	Rooms  []string `json:"rooms"`
	Except []string `json:"except"`
	Flags  struct {
		Volatile bool    `json:"volatile"`
		Timeout  float64 `json:"timeout"` // milliseconds
	} `json:"flags"`
}

func (o *shardedOpts) flags() socketio.BroadcastFlags {
	return socketio.BroadcastFlags{Volatile: o.Flags.Volatile, Timeout: time.Duration(o.Flags.Timeout * float64(time.Millisecond))}
}

// encodeShardedOpts is a message's {rooms, except, flags}.
func encodeShardedOpts(o socketio.BroadcastOptions) map[string]any {
	flags := map[string]any{}
	if o.Flags.Volatile {
		flags["volatile"] = true
	}
	if o.Flags.Timeout > 0 {
		flags["timeout"] = o.Flags.Timeout.Milliseconds()
	}
	return map[string]any{"rooms": nonNil(o.Rooms), "except": nonNil(o.Except), "flags": flags}
}

// seal is the payload of an envelope: JSON, or msgpack (binary inline)
// when data's placeholders index attachments, as Node encodes a message
// whose data has binary (always msgpack in streams mode).
func (s *sharded) seal(typ int, data map[string]any, bins [][]byte) ([]byte, error) {
	body, err := json.Marshal(map[string]any{"uid": s.a.uid, "nsp": s.a.ns.Name(), "type": typ, "data": data})
	if err != nil || len(bins) == 0 && !s.msgpack {
		return body, err
	}
	var buf bytes.Buffer
	err = encodeJSON(msgpack.NewEncoder(&buf), body, bins)
	return buf.Bytes(), err
}

func (s *sharded) encode(m *outMsg) (string, []byte, error) {
	typ, data, bins, err := s.encodeData(m)
	if err != nil {
		return "", nil, err
	}
	payload, err := s.seal(typ, data, bins)
	return s.channelOf(m), payload, err
}

// encodeData returns the message type and data of m, whose placeholders
// index bins.
func (s *sharded) encodeData(m *outMsg) (int, map[string]any, [][]byte, error) {
	typ, ok := shardedTypes[m.typ]
	if !ok {
		return 0, nil, nil, errNotSharded
	}
	data := map[string]any{}
	if m.id != "" {
		data["requestId"] = m.id
	}
	var bins [][]byte
	switch m.typ {
	case typeBroadcast:
		data["packet"] = map[string]any{"type": packetEvent, "data": json.RawMessage(m.packet.Data), "nsp": s.a.ns.Name()}
		data["opts"], bins = encodeShardedOpts(m.opts), m.packet.Attachments
	case typeRemoteJoin, typeRemoteLeave:
		data["opts"], data["rooms"] = encodeShardedOpts(m.opts), nonNil(m.rooms)
	case typeRemoteDisconnect:
		data["opts"], data["close"] = encodeShardedOpts(m.opts), m.close
	case typeRemoteFetch:
		data["opts"] = encodeShardedOpts(m.opts)
	case typeServerSideEmit:
		data["packet"], bins = json.RawMessage(m.packet.Data), m.packet.Attachments
	}
	return typ, data, bins, nil
}

// encodeAnswer: every answer goes to the requester's K#N#<uid>#.
func (s *sharded) encodeAnswer(r *request, ans *answer) (string, []byte, error) {
	typ, ok := shardedAnswerTypes[ans.typ]
	if !ok || r.UID == nil {
		return "", nil, errNotSharded
	}
	data := map[string]any{"requestId": r.RequestID}
	var bins [][]byte
	switch ans.typ {
	case typeRemoteFetch:
		data["sockets"] = ans.sockets
	case typeServerSideEmit:
		data["packet"] = ans.data
	case typeBroadcastCount:
		data["clientCount"] = ans.count
	case typeBroadcastAck:
		arg, b, err := firstArg(ans.reply)
		if err != nil {
			return "", nil, err
		}
		if arg != nil {
			data["packet"] = arg
		}
		bins = b
	}
	payload, err := s.seal(typ, data, bins)
	return s.mainCh + *r.UID + "#", payload, err
}

// onMessage decodes an envelope (JSON when it starts with '{', else
// msgpack, whose binary values become placeholders) and hands it to the
// Adapter as a broadcast, a request or a response. Messages of this
// server or of another namespace are ignored, as Node does.
func (s *sharded) onMessage(fromRespCh bool, payload []byte) {
	var bins [][]byte
	if len(payload) == 0 || payload[0] != '{' {
		raw, b, err := decodeJSON(msgpack.NewDecoder(bytes.NewReader(payload)))
		if err != nil {
			s.a.malformed("sharded message", err)
			return
		}
		payload, bins = raw, b
	}
	var env envelope
	var d envelopeData
	if err := json.Unmarshal(payload, &env); err != nil || json.Unmarshal(env.Data, &d) != nil {
		s.a.malformed("sharded message", errMalformed)
		return
	}
	if env.UID == s.a.uid || env.NSP != s.a.ns.Name() {
		return
	}
	if r := toResponse(&env, &d, bins); r != nil {
		s.a.onResponse(r)
		return
	}
	if fromRespCh {
		s.a.malformed("sharded response type", errMalformed)
		return
	}
	s.dispatch(&env, &d, bins)
}

// toResponse returns the response an answer envelope carries, nil for
// other types.
func toResponse(env *envelope, d *envelopeData, bins [][]byte) *response {
	r := &response{Type: -1, RequestID: d.RequestID, bins: bins}
	switch env.Type {
	case shFetchResponse:
		r.Sockets = d.Sockets
	case shServerSideResp:
		r.Type, r.Data = typeServerSideEmit, d.Packet
	case shClientCount:
		r.Type, r.ClientCount = typeBroadcastCount, d.ClientCount
	case shBroadcastAck:
		r.Type, r.packet = typeBroadcastAck, &wirePacket{data: d.Packet, bins: bins}
	default:
		return nil
	}
	return r
}

// dispatch hands a broadcast or a request to the Adapter.
func (s *sharded) dispatch(env *envelope, d *envelopeData, bins [][]byte) {
	r := &request{UID: &env.UID, RequestID: d.RequestID, Type: -1, Rooms: d.Rooms, Close: d.Close, bins: bins}
	if d.Opts != nil {
		r.Opts, r.flags = &wireOpts{Rooms: d.Opts.Rooms, Except: d.Opts.Except}, d.Opts.flags()
	}
	if t, ok := classicTypes[env.Type]; ok {
		r.Type = t
	}
	switch {
	case r.Type == typeBroadcast:
		s.onBroadcast(env, d, r, bins)
	case r.Type == typeServerSideEmit:
		r.Data = d.Packet
		s.a.onRequest(r)
	case r.Type >= 0 && r.Opts != nil:
		s.a.onRequest(r)
	default:
		s.a.malformed("sharded message type", errMalformed)
	}
}

// onBroadcast delivers a plain broadcast, or hands a broadcast with acks
// (it has a requestId) to the Adapter.
func (s *sharded) onBroadcast(env *envelope, d *envelopeData, r *request, bins [][]byte) {
	var p struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if d.Opts == nil || json.Unmarshal(d.Packet, &p) != nil || !eventData(p.Data) {
		s.a.malformed("sharded broadcast", errMalformed)
		return
	}
	r.packet = &wirePacket{typ: p.Type, nsp: env.NSP, data: p.Data, bins: bins}
	if d.RequestID != "" {
		s.a.onRequest(r)
		return
	}
	opts := r.Opts.options()
	opts.Flags.Volatile = r.flags.Volatile
	s.a.deliver(&broadcastMsg{uid: env.UID, packet: *r.packet, opts: opts})
}
