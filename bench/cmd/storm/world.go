package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/bench/internal/sioclient"
)

// world is the users and chats of one run.
type world struct {
	addr string
	cfg  config

	senders []*peer  // connected, each joined to its pair's chat
	groups  []group  // the stormers' chats
	tokens  []string // stormer i's token
}

// group is one stormer chat: its members (stormer indexes) and the id of
// its first message, the lastMessageId every member presents.
type group struct {
	chatID  string
	members []int
	first   string
}

// peer is one connected "/chat" client with its pending acks.
type peer struct {
	c      *sioclient.Conn
	mu     sync.Mutex
	nextID int64
	acks   map[int64]chan []byte
	events chan []byte // other packets, when the owner wants them
	done   chan error
	chat   string // a sender's chat
}

func token(id string) string {
	tok, err := auth.Mint([]byte(secret), auth.Identity{ID: id, Name: strings.ToUpper(id)}, time.Hour, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}

// connect dials "/chat" with auth and starts the peer's reader.
func (w *world) connect(ctx context.Context, authJSON []byte, events chan []byte) (*peer, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := sioclient.DialNamespace(dctx, w.addr, nil, "/chat", authJSON)
	if err != nil {
		return nil, err
	}
	p := &peer{c: c, acks: map[int64]chan []byte{}, events: events, done: make(chan error, 1)}
	go func() { p.done <- c.ReadAll(p.handle) }()
	return p, nil
}

// handle routes one packet: `3/chat,ID[...]` to its waiter, events to
// p.events (copied: the slice is the reader's).
func (p *peer) handle(b []byte) {
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

// call emits event with arg and waits for its ack's payload ([...]).
func (p *peer) call(ctx context.Context, event string, arg any) ([]byte, error) {
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

// ackReply is the part of a `chat message` / `join` ack the run checks.
type ackReply struct {
	Success bool `json:"success"`
	Message struct {
		ID string `json:"id"`
	} `json:"message"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func decodeAck(a []byte) (ackReply, error) {
	var r []ackReply
	if err := json.Unmarshal(a, &r); err != nil || len(r) == 0 {
		return ackReply{}, fmt.Errorf("ack %.100q: %v", a, err)
	}
	if !r[0].Success {
		return r[0], fmt.Errorf("ack refused: %.200s", a)
	}
	return r[0], nil
}

// createChat creates a general chat owned by owner with members over REST.
func (w *world) createChat(ctx context.Context, owner string, members []string) (string, error) {
	body, _ := json.Marshal(map[string]any{"kind": "general", "title": "storm", "memberIds": members})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+w.addr+"/chats", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token(owner))
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

func authOf(tok, lastMessageID string) []byte {
	m := map[string]string{"token": tok}
	if lastMessageID != "" {
		m["lastMessageId"] = lastMessageID
	}
	b, _ := json.Marshal(m)
	return b
}

var errShort = errors.New("short")
