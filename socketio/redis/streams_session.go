package redis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	goredis "github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/socketio/parser"
)

// restoreBatch is the COUNT of each XRANGE of a replay, and
// restoreMaxBatches bounds a replay (as Node bounds its XRANGE calls):
// a session whose missed entries do not fit is not recovered.
const (
	restoreBatch      = 1000
	restoreMaxBatches = 100
)

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// sessionRecord is a session as Node's streams adapter stores it: msgpack
// {sid, pid, rooms, data}, base64, plus our offset (Node ignores it).
type sessionRecord struct {
	SID    string          `json:"sid"`
	PID    string          `json:"pid"`
	Rooms  []string        `json:"rooms"`
	Data   json.RawMessage `json:"data"`
	Offset string          `json:"offset,omitempty"`
}

// PersistSession implements socketio.SessionAdapter: SET
// <SessionPrefix><pid> to the base64 msgpack session with PX
// MaxDisconnectionDuration (Node's format, so that either server restores
// it).
func (a *StreamsAdapter) PersistSession(ctx context.Context, s *socketio.Session) error {
	ttl := a.sessionTTL()
	if ttl <= 0 {
		return nil
	}
	offset := s.Offset
	if at := a.routedAt.Load(); offset == "" && at != nil {
		offset = at.String() // no offset delivered here before the socket connected
	}
	body, err := json.Marshal(sessionRecord{SID: s.SID, PID: s.PID, Rooms: nonNil(s.Rooms), Data: nullIfEmpty(s.Data), Offset: offset})
	if err != nil {
		return fmt.Errorf("redis: persist session: %w", err)
	}
	var buf bytes.Buffer
	if err := encodeJSON(msgpack.NewEncoder(&buf), body, nil); err != nil {
		return fmt.Errorf("redis: persist session: %w", err)
	}
	ctx, cancel := a.bound(ctx, a.cfg.PublishTimeout)
	defer cancel()
	key := a.cfg.Streams.SessionPrefix + s.PID
	if err := a.rdb.Set(ctx, key, base64.StdEncoding.EncodeToString(buf.Bytes()), ttl).Err(); err != nil {
		return fmt.Errorf("redis: persist session: %w", err)
	}
	return nil
}

func nullIfEmpty(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// RestoreSession implements socketio.SessionAdapter: the session is read
// and deleted (GET, DEL), and the offset checked to be still in the
// stream, in one MULTI; then the stream is replayed after the offset
// (XRANGE in batches), keeping this namespace's broadcasts that the
// session's rooms would have received, the entry id appended. An empty
// offset replays from the session's own Offset (Node's client sends none
// when it received no event with an offset; Node then recovers nothing).
// The replay reads until the end of the stream: a broadcast appended
// while it runs may be missed or also delivered live (Node has the same
// window).
func (a *StreamsAdapter) RestoreSession(ctx context.Context, pid, offset string) (*socketio.Session, error) {
	ctx, cancel := a.bound(ctx, a.cfg.RequestsTimeout)
	defer cancel()
	s, from, err := a.takeSession(ctx, pid, offset)
	if err != nil || s == nil {
		return nil, err
	}
	if err := a.replay(ctx, s, from); err != nil {
		return nil, err
	}
	return s, nil
}

// takeSession reads and deletes the session of pid and checks that the
// replay's start (offset, else the session's) is still in the stream.
// It returns nil, with no error, when the session is unknown or the
// start is gone or invalid.
func (a *StreamsAdapter) takeSession(ctx context.Context, pid, offset string) (*socketio.Session, streamID, error) {
	key, stream := a.cfg.Streams.SessionPrefix+pid, a.cfg.Streams.Stream
	pipe := a.rdb.TxPipeline()
	get := pipe.Get(ctx, key)
	pipe.Del(ctx, key)
	size := pipe.XLen(ctx, stream)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, streamID{}, fmt.Errorf("redis: restore session: %w", err)
	}
	raw, err := get.Result()
	if errors.Is(err, goredis.Nil) {
		return nil, streamID{}, nil
	}
	s, err := decodeSession(raw)
	if err != nil {
		a.malformed("session", err)
		return nil, streamID{}, nil
	}
	if offset == "" {
		offset = s.Offset
	}
	if !offsetPattern.MatchString(offset) {
		return nil, streamID{}, nil
	}
	from, err := parseStreamID(offset)
	if err != nil {
		return nil, streamID{}, nil
	}
	// "0-0" is the start of a stream that was empty when the socket
	// connected: nothing can have been trimmed while it is shorter than
	// MaxLen. Any other offset must still be in the stream.
	if from == (streamID{}) {
		if size.Val() >= a.cfg.Streams.MaxLen {
			return nil, streamID{}, nil
		}
	} else if n, err := a.rdb.XRangeN(ctx, stream, offset, offset, 1).Result(); err != nil {
		return nil, streamID{}, fmt.Errorf("redis: restore session: %w", err)
	} else if len(n) == 0 {
		return nil, streamID{}, nil
	}
	return s, from, nil
}

// decodeSession reads a session stored by PersistSession or by Node.
func decodeSession(raw string) (*socketio.Session, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	body, bins, err := decodeJSON(msgpack.NewDecoder(bytes.NewReader(b)))
	if err != nil {
		return nil, err
	}
	if len(bins) > 0 {
		return nil, errors.New("redis: session data with binary")
	}
	var rec sessionRecord
	if err := json.Unmarshal(body, &rec); err != nil || rec.SID == "" {
		return nil, errMalformed
	}
	data := rec.Data
	if string(data) == "null" {
		data = nil
	}
	return &socketio.Session{SID: rec.SID, PID: rec.PID, Rooms: rec.Rooms, Data: data, Offset: rec.Offset}, nil
}

// replay fills s.MissedPackets with the broadcasts after from.
func (a *StreamsAdapter) replay(ctx context.Context, s *socketio.Session, from streamID) error {
	for range restoreMaxBatches {
		msgs, err := a.rdb.XRangeN(ctx, a.cfg.Streams.Stream, from.next().String(), "+", restoreBatch).Result()
		if err != nil {
			return fmt.Errorf("redis: restore session: %w", err)
		}
		for _, m := range msgs {
			if p := a.missed(s, m); p != nil {
				s.MissedPackets = append(s.MissedPackets, p)
			}
			if id, err := parseStreamID(m.ID); err == nil {
				from = id
			}
		}
		if len(msgs) < restoreBatch {
			return nil
		}
	}
	return fmt.Errorf("redis: restore session: more than %d entries to replay", restoreBatch*restoreMaxBatches)
}

// missed returns the packet of entry m if it is a broadcast of this
// namespace that s's rooms would have received with an offset.
func (a *StreamsAdapter) missed(s *socketio.Session, m goredis.XMessage) *parser.Packet {
	if nsp, _ := m.Values["nsp"].(string); nsp != a.ns.Name() {
		return nil
	}
	if typ, _ := m.Values["type"].(string); typ != "3" {
		return nil
	}
	field, _ := m.Values["data"].(string)
	d, bins, err := decodeEntryData(field)
	if err != nil || d.RequestID != "" {
		return nil
	}
	p, opts, replayable, err := entryPacket(a.ns.Name(), d, bins)
	if err != nil || !replayable || !reaches(s.Rooms, opts) {
		return nil
	}
	if p.Data, err = withOffset(p.Data, m.ID); err != nil {
		return nil
	}
	return p
}

// reaches reports whether a socket in rooms receives a broadcast with
// opts: no rooms or one of them, and none of the exceptions.
func reaches(rooms []string, opts socketio.BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		for _, x := range opts.Except {
			if r == x {
				return false
			}
		}
		for _, t := range opts.Rooms {
			in = in || r == t
		}
	}
	return in
}
