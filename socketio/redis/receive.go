package redis

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/sockgate/sockgate/socketio"
)

func errorsIsTimeout(err error) bool { return errors.Is(err, ErrTimeout) }

// onRequest handles a request from the request channel: JSON when it
// starts with '{', else msgpack (BROADCAST). Requests whose uid is this
// adapter's are its own coming back and are skipped: this server applied
// its join/leave/disconnect locally before publishing them, and answers
// its own fetch/allRooms/serverSideEmit/broadcast itself.
func (a *Adapter) onRequest(payload []byte) {
	var r *request
	var err error
	if len(payload) > 0 && payload[0] == '{' {
		r = &request{Type: -1}
		err = json.Unmarshal(payload, r)
	} else {
		r, err = decodeBroadcastRequest(payload)
	}
	if err != nil {
		a.malformed("request", err)
		return
	}
	if r.UID != nil && *r.UID == a.uid {
		return
	}
	switch r.Type {
	case typeSockets:
		a.answerSockets(r)
	case typeAllRooms:
		a.answer(r, map[string]any{"requestId": r.RequestID, "rooms": a.Rooms()})
	case typeRemoteJoin, typeRemoteLeave, typeRemoteDisconnect:
		a.applyRoomOp(r)
	case typeRemoteFetch:
		a.answerFetch(r)
	case typeServerSideEmit:
		a.onServerSideEmit(r)
	case typeBroadcast:
		a.onBroadcastRequest(r)
	default:
		a.malformed("request type", errMalformed)
	}
}

// answerChannel is where answers to r go.
func (a *Adapter) answerChannel(r *request) string {
	if a.cfg.PublishOnSpecificResponseChannel && r.UID != nil {
		return a.responseCh + *r.UID + "#"
	}
	return a.responseCh
}

func (a *Adapter) answer(r *request, v any) {
	a.publishJSON(a.answerChannel(r), v)
}

// publishJSON publishes v as JSON without blocking the caller.
func (a *Adapter) publishJSON(channel string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.log.Debug("redis adapter: answer not encoded", "err", err)
		return
	}
	a.publishAsync(channel, body)
}

func (a *Adapter) answerSockets(r *request) {
	socks, _ := a.MemoryAdapter.FetchSockets(context.Background(), socketio.BroadcastOptions{Rooms: r.Rooms})
	ids := make([]string, 0, len(socks))
	for _, s := range socks {
		ids = append(ids, s.ID)
	}
	a.answer(r, map[string]any{"requestId": r.RequestID, "sockets": ids})
}

// answerFetch answers a REMOTE_FETCH exactly once, even with no match.
func (a *Adapter) answerFetch(r *request) {
	var opts socketio.BroadcastOptions
	if r.Opts != nil {
		opts = r.Opts.options()
	}
	socks, _ := a.MemoryAdapter.FetchSockets(context.Background(), opts)
	a.answer(r, map[string]any{"requestId": r.RequestID, "sockets": nonNilInfos(socks)})
}

func nonNilInfos(s []socketio.SocketInfo) []socketio.SocketInfo {
	if s == nil {
		return []socketio.SocketInfo{}
	}
	return s
}

// applyRoomOp applies a REMOTE_JOIN / LEAVE / DISCONNECT to the matching
// local sockets, with or without a uid (the emitter sends none). The
// legacy form without opts targets one socket by id and is answered.
func (a *Adapter) applyRoomOp(r *request) {
	ctx := context.Background()
	if r.Opts == nil {
		a.applyLegacyRoomOp(r)
		return
	}
	opts := r.Opts.options()
	switch r.Type {
	case typeRemoteJoin:
		_ = a.MemoryAdapter.AddSockets(ctx, opts, r.Rooms)
	case typeRemoteLeave:
		_ = a.MemoryAdapter.DelSockets(ctx, opts, r.Rooms)
	case typeRemoteDisconnect:
		_ = a.MemoryAdapter.DisconnectSockets(ctx, opts, r.Close)
	}
}

func (a *Adapter) applyLegacyRoomOp(r *request) {
	s := a.ns.Socket(r.SID)
	if s == nil {
		return
	}
	switch r.Type {
	case typeRemoteJoin:
		s.Join(r.Room)
	case typeRemoteLeave:
		s.Leave(r.Room)
	case typeRemoteDisconnect:
		s.Disconnect(r.Close)
	}
	a.answer(r, map[string]any{"requestId": r.RequestID})
}

// onServerSideEmit raises another server's event; with a requestId the
// first reply of a handler is published as {type: 6, requestId, data} on
// the shared response channel (as Node does, whatever its options).
func (a *Adapter) onServerSideEmit(r *request) {
	event, rest, err := splitEvent(r.Data)
	if err != nil {
		a.malformed("serverSideEmit", err)
		return
	}
	var reply func(v any)
	if r.RequestID != "" {
		id := r.RequestID
		reply = func(v any) {
			a.publishJSON(a.responseCh, map[string]any{"type": typeServerSideEmit, "requestId": id, "data": v})
		}
	}
	a.ns.DispatchServerSideEmit(event, rest, reply)
}

// splitEvent splits [event, ...args] into the event name and the
// arguments.
func splitEvent(data json.RawMessage) (string, socketio.Args, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return "", socketio.Args{}, err
	}
	var event string
	if len(elems) == 0 || json.Unmarshal(elems[0], &event) != nil {
		return "", socketio.Args{}, errMalformed
	}
	rest, err := json.Marshal(elems[1:])
	if err != nil {
		return "", socketio.Args{}, err
	}
	args, err := socketio.NewArgs(rest, nil)
	return event, args, err
}

// onResponse routes a response to the request it answers; responses to
// other servers' requests are ignored.
func (a *Adapter) onResponse(payload []byte) {
	var r *response
	var err error
	if len(payload) > 0 && payload[0] == '{' {
		r = &response{Type: -1}
		err = json.Unmarshal(payload, r)
	} else {
		r, err = decodeBroadcastAck(payload)
	}
	if err != nil {
		a.malformed("response", err)
		return
	}
	if a.onAckResponse(r) {
		return
	}
	a.mu.Lock()
	c := a.requests[r.RequestID]
	a.mu.Unlock()
	if c != nil {
		c.onResponse(r)
	}
}
