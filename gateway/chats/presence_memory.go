package chats

import (
	"context"
	"sync"
)

var (
	_ presence = (*memoryPresence)(nil)
	_ Online   = (*memoryPresence)(nil)
)

// memoryPresence is the single-process presence: user id → socket ids.
type memoryPresence struct {
	mu    sync.Mutex
	users map[string]map[string]struct{}
}

func newMemoryPresence() *memoryPresence {
	return &memoryPresence{users: make(map[string]map[string]struct{})}
}

// Connect implements presence.
func (p *memoryPresence) Connect(_ context.Context, userID, socketID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	socks := p.users[userID]
	if socks == nil {
		socks = make(map[string]struct{}, 1)
		p.users[userID] = socks
	}
	first := len(socks) == 0
	socks[socketID] = struct{}{}
	return first, nil
}

// Disconnect implements presence.
func (p *memoryPresence) Disconnect(_ context.Context, userID, socketID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	socks, ok := p.users[userID]
	if !ok {
		return false, nil
	}
	if _, ok := socks[socketID]; !ok {
		return false, nil
	}
	delete(socks, socketID)
	if len(socks) > 0 {
		return false, nil
	}
	delete(p.users, userID)
	return true, nil
}

// Online implements presence.
func (p *memoryPresence) Online(_ context.Context, userIDs []string) (map[string]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		if len(p.users[id]) > 0 {
			out[id] = true
		}
	}
	return out, nil
}
