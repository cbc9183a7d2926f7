package tutorial

import (
	"context"
	"slices"
	"sync"
)

var _ registry = (*memoryRegistry)(nil)

// memoryRegistry is the single-process registry.
type memoryRegistry struct {
	mu    sync.Mutex
	order []string // room names, oldest first
	rooms map[string]*Room
}

func newMemoryRegistry() *memoryRegistry {
	return &memoryRegistry{rooms: make(map[string]*Room)}
}

// clone copies r so callers never share the registry's slices.
func clone(r *Room) Room {
	return Room{Name: r.Name, Host: r.Host, Users: slices.Clone(r.Users)}
}

func (m *memoryRegistry) Join(_ context.Context, name string, u User) (Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[name]
	if r == nil {
		r = &Room{Name: name, Host: u, Users: []User{u}}
		m.rooms[name] = r
		m.order = append(m.order, name)
		return clone(r), nil
	}
	if _, ok := member(*r, u.SocketID); ok {
		return clone(r), nil
	}
	for _, x := range r.Users {
		if x.UserID == u.UserID {
			return Room{}, errRegistryUserIDTaken
		}
	}
	if r.Host.UserID == u.UserID {
		// The host came back on a new socket (their old one left).
		r.Host = u
	}
	r.Users = append(r.Users, u)
	return clone(r), nil
}

func (m *memoryRegistry) Leave(_ context.Context, name, socketID string) (User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.leave(name, socketID)
	return u, ok, nil
}

func (m *memoryRegistry) leave(name, socketID string) (User, bool) {
	r := m.rooms[name]
	if r == nil {
		return User{}, false
	}
	i := slices.IndexFunc(r.Users, func(u User) bool { return u.SocketID == socketID })
	if i < 0 {
		return User{}, false
	}
	u := r.Users[i]
	r.Users = slices.Delete(r.Users, i, i+1)
	if len(r.Users) == 0 {
		delete(m.rooms, name)
		m.order = slices.DeleteFunc(m.order, func(n string) bool { return n == name })
	}
	return u, true
}

func (m *memoryRegistry) LeaveAll(_ context.Context, socketID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var left []string
	for _, name := range slices.Clone(m.order) {
		if _, ok := m.leave(name, socketID); ok {
			left = append(left, name)
		}
	}
	return left, nil
}

func (m *memoryRegistry) Room(_ context.Context, name string) (Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[name]
	if r == nil {
		return Room{}, errRegistryNoRoom
	}
	return clone(r), nil
}

func (m *memoryRegistry) Rooms(context.Context) ([]Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Room, 0, len(m.order))
	for _, name := range m.order {
		out = append(out, clone(m.rooms[name]))
	}
	return out, nil
}

func (m *memoryRegistry) Count(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms), nil
}
