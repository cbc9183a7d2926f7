// Package chatload drives the real sockgate binary the way the stored-chat
// clients do (authenticated "/chat" sockets, the REST API), for the
// workloads that measure the product rather than the bare core
// (cmd/storm, cmd/durable). Every helper verifies what it gets: acks are
// decoded and must be successes.
package chatload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// Token is a JWT for user id signed with s's secret.
func (s *Server) Token(id string) string {
	tok, err := auth.Mint([]byte(s.Secret), auth.Identity{ID: id, Name: strings.ToUpper(id)}, time.Hour, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}

// Peer is one connected "/chat" client with its pending acks.
type Peer struct {
	Chat string // the chat a workload assigned it

	c      *sioclient.Conn
	mu     sync.Mutex
	nextID int64
	acks   map[int64]chan []byte
	events chan []byte
	done   chan error
}

// Connect dials "/chat" on s with auth (see Auth) and starts the peer's
// reader; events, when not nil, receives every packet that is not an ack
// (copied).
func (s *Server) Connect(ctx context.Context, authJSON []byte, events chan []byte) (*Peer, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := sioclient.DialNamespace(dctx, s.Addr, nil, "/chat", authJSON)
	if err != nil {
		return nil, err
	}
	p := &Peer{c: c, acks: map[int64]chan []byte{}, events: events, done: make(chan error, 1)}
	go func() { p.done <- c.ReadAll(p.handle) }()
	return p, nil
}

// Close closes the connection.
func (p *Peer) Close() error { return p.c.Close() }

// handle routes one packet: `3/chat,ID[...]` to its waiter, the rest to
// p.events.
func (p *Peer) handle(b []byte) {
	const ackPrefix = "3/chat,"
	if bytes.HasPrefix(b, []byte(ackPrefix)) {
		rest := b[len(ackPrefix):]
		i := bytes.IndexByte(rest, '[')
		id, err := strconv.ParseInt(string(rest[:max(i, 0)]), 10, 64)
		if i < 0 || err != nil {
			return
		}
		p.mu.Lock()
		ch := p.acks[id]
		delete(p.acks, id)
		p.mu.Unlock()
		if ch != nil {
			ch <- bytes.Clone(rest[i:])
		}
		return
	}
	if p.events != nil {
		p.events <- bytes.Clone(b)
	}
}

// Call emits event with arg and waits for its ack's payload ([...]).
func (p *Peer) Call(ctx context.Context, event string, arg any) ([]byte, error) {
	body, err := json.Marshal([]any{event, arg})
	if err != nil {
		return nil, err
	}
	ch := make(chan []byte, 1)
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.acks[id] = ch
	p.mu.Unlock()
	if err := p.c.Write("42/chat," + strconv.FormatInt(id, 10) + string(body)); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a, nil
	case err := <-p.done:
		return nil, fmt.Errorf("connection ended: %v", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s ack: %w", event, ctx.Err())
	}
}

// Send emits `chat message` to p.Chat and checks the ack is a success; it
// returns the stored message's id.
func (p *Peer) Send(ctx context.Context, content, clientMsgID string) (string, error) {
	a, err := p.Call(ctx, "chat message", map[string]string{"chatId": p.Chat, "content": content, "clientMsgId": clientMsgID})
	if err != nil {
		return "", err
	}
	r, err := DecodeAck(a)
	return r.Message.ID, err
}

// SendLoop keeps one `chat message` of p in flight until stop is closed,
// with clientMsgIds "<idPrefix>-<n>"; record gets each acked message's id
// and ack latency. It returns the first failed send.
//
// With pace 0 it is a closed loop (the next send leaves with the ack).
// With pace > 0 send n is scheduled at start + n×pace, start a random
// phase within the first pace (an open loop at
// 1/pace per sender, still one in flight): a send whose turn came while
// its predecessor was unacked leaves with that ack, and its latency is
// counted from its scheduled time, so a slow server is not hidden by
// sending less (coordinated omission).
func (p *Peer) SendLoop(ctx context.Context, stop <-chan struct{}, pace time.Duration, content, idPrefix string, record func(id string, d time.Duration)) error {
	start := time.Now()
	if pace > 0 {
		// A random phase: senders started together would otherwise all
		// send at the same instants, a burst of every sender each pace.
		start = start.Add(rand.N(pace))
	}
	for n := 0; ; n++ {
		at := time.Now()
		if pace > 0 {
			at = start.Add(time.Duration(n) * pace)
			if wait := time.Until(at); wait > 0 {
				select {
				case <-stop:
					return nil
				case <-time.After(wait):
				}
			}
		}
		select {
		case <-stop:
			return nil
		default:
		}
		id, err := p.Send(ctx, content, idPrefix+"-"+strconv.Itoa(n))
		if err != nil {
			return err
		}
		record(id, time.Since(at))
	}
}

// Pace is SendLoop's pace for senders sending rate messages/s together
// (each at rate/senders); 0, a closed loop, when rate is not positive.
func Pace(senders int, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(senders) / rate * float64(time.Second))
}

// Join joins chat and makes it p.Chat.
func (p *Peer) Join(ctx context.Context, chat string) error {
	a, err := p.Call(ctx, "join", map[string]string{"chatId": chat})
	if err != nil {
		return err
	}
	if _, err := DecodeAck(a); err != nil {
		return err
	}
	p.Chat = chat
	return nil
}

// AckReply is the part of a `chat message` / `join` ack a workload checks.
type AckReply struct {
	Success bool `json:"success"`
	Message struct {
		ID string `json:"id"`
	} `json:"message"`
}

// DecodeAck decodes an ack payload and fails unless it is a success.
func DecodeAck(a []byte) (AckReply, error) {
	var r []AckReply
	if err := json.Unmarshal(a, &r); err != nil || len(r) == 0 {
		return AckReply{}, fmt.Errorf("ack %.100q: %v", a, err)
	}
	if !r[0].Success {
		return r[0], fmt.Errorf("ack refused: %.200s", a)
	}
	return r[0], nil
}

// CreateChat creates a general chat owned by owner with members over REST.
func (s *Server) CreateChat(ctx context.Context, owner string, members []string) (string, error) {
	body, _ := json.Marshal(map[string]any{"kind": "general", "title": "bench", "memberIds": members})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+s.Addr+"/chats", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Token(owner))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var chat struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&chat); err != nil || res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /chats: %d %v", res.StatusCode, err)
	}
	return chat.ID, nil
}

// Auth is the "/chat" CONNECT payload {token, lastMessageId?}.
func Auth(tok, lastMessageID string) []byte {
	m := map[string]string{"token": tok}
	if lastMessageID != "" {
		m["lastMessageId"] = lastMessageID
	}
	b, _ := json.Marshal(m)
	return b
}

// EventOf splits `2/chat,["name",arg]`.
func EventOf(b []byte) (string, json.RawMessage, bool) {
	const prefix = "2/chat,"
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return "", nil, false
	}
	var elems []json.RawMessage
	if json.Unmarshal(b[len(prefix):], &elems) != nil || len(elems) < 2 {
		return "", nil, false
	}
	var name string
	if json.Unmarshal(elems[0], &name) != nil {
		return "", nil, false
	}
	return name, elems[1], true
}

// Quantiles sorts d and returns its p50 and p99 in milliseconds.
func Quantiles(d []time.Duration) (p50, p99 float64) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return float64(d[max(i, 0)]) / 1e6
	}
	return q(0.50), q(0.99)
}
