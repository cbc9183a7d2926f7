package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/internal/wire"
	"github.com/sockgate/sockgate/socketio"
	"github.com/sockgate/sockgate/store"
)

// AuthMode is how a namespace treats the JWT of a connecting socket (SPEC §5).
type AuthMode string

// Auth modes.
const (
	// AuthOptional (the default) admits anonymous sockets; events that need
	// an identity refuse them with `unauthorized`. A token that is presented
	// but invalid is still refused (see authenticator.middleware).
	AuthOptional AuthMode = "optional"
	// AuthRequired refuses sockets without a valid token at the handshake.
	AuthRequired AuthMode = "required"
)

// ParseAuthMode parses "optional" or "required" ("" means optional).
func ParseAuthMode(s string) (AuthMode, error) {
	switch AuthMode(s) {
	case "", AuthOptional:
		return AuthOptional, nil
	case AuthRequired:
		return AuthRequired, nil
	}
	return "", errors.New("gateway: auth mode must be optional or required, not " + `"` + s + `"`)
}

// userRoom is the room every socket of an authenticated user joins, so a
// message can target all of a user's devices (SPEC §5).
func userRoom(userID string) string { return "user:" + userID }

// authenticator binds JWT identities to sockets: the connection middleware
// of every namespace, the `authenticated` greeting, the user room, the
// store's user record and the disconnect at token expiry.
//
// Decisions where the SPEC is silent:
//   - The identity comes from the handshake only (auth.TokenFromRequest:
//     auth.token, ?token=, Authorization: Bearer, Authentication cookie), never
//     from event payloads, and lasts as long as the socket.
//   - A presented but invalid token is never ignored. On "/" in optional mode
//     the seed's behaviour applies: the socket connects, gets `authError
//     {message:"Authentication failed", error}` and is disconnected at once
//     (before any of its events runs). On every other namespace it is refused
//     at the handshake exactly like a missing token in required mode, since
//     those namespaces have no seed behaviour to keep and a connect_error
//     reaches the client before it can act.
//   - A token whose exp has passed is refused even within the verifier's
//     clock-skew leeway: the socket would be disconnected at exp anyway.
//   - At exp the socket gets `authError {message:"Authentication failed",
//     error:"Token expired"}` and is disconnected by the server, so
//     socket.io-client does not reconnect by itself with the stale token.
//   - The user is upserted into the store from the token's claims on every
//     authenticated connection to "/chat", where the stored chats live (name,
//     username and email stay current; the REST API does the same per
//     write); "/" and "/rooms" cost no database write. A store failure is
//     logged and does not refuse the socket: the identity is the token's,
//     and events that need the store fail on their own.
type authenticator struct {
	srv   *Server
	v     *auth.Verifier
	st    *store.Store // nil: users are not recorded
	modes map[string]AuthMode
}

// mode returns namespace name's auth mode (optional unless configured).
func (a *authenticator) mode(name string) AuthMode {
	if m, ok := a.modes[name]; ok && m != "" {
		return m
	}
	return AuthOptional
}

// authError is the seed's authError payload (seed websockets §4).
type authError struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

// authUser is the user of the `authenticated` event.
type authUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

// authenticated is the `authenticated` event.
type authenticated struct {
	User      authUser  `json:"user"`
	Timestamp wire.Time `json:"timestamp"`
}

// handshakeRequest rebuilds the parts of the handshake request that
// auth.TokenFromRequest reads (query and headers, cookies included).
func handshakeRequest(hs *socketio.Handshake) *http.Request {
	return &http.Request{Header: hs.Headers, URL: &url.URL{RawQuery: hs.Query.Encode()}}
}

// verify returns the identity the socket's handshake carries: auth.ErrNoToken
// when there is no token, another auth error when it is invalid or expired.
func (a *authenticator) verify(ctx context.Context, s *socketio.Socket) (auth.Identity, error) {
	hs := s.Handshake()
	tok, err := auth.TokenFromRequest(handshakeRequest(hs), hs.Auth)
	if err != nil {
		return auth.Identity{}, err
	}
	id, err := a.v.Verify(ctx, tok)
	if err != nil {
		return auth.Identity{}, err
	}
	if !id.ExpiresAt.After(a.srv.now()) {
		return auth.Identity{}, auth.ErrExpired
	}
	return id, nil
}

// install adds authentication to namespace n.
func (a *authenticator) install(n *namespace) {
	mode := a.mode(n.name)
	n.use(func(ctx context.Context, c *Conn) error {
		id, err := a.verify(ctx, c.s)
		switch {
		case err == nil:
		case errors.Is(err, auth.ErrNoToken) && mode == AuthOptional:
			return nil // anonymous
		case n.name == "/" && mode == AuthOptional:
			return nil // authError after connecting (onConnect below)
		default:
			c.log.Debug("handshake refused", "err", err)
			return err // replyOf: unauthorized
		}
		c.SetIdentity(id)
		if a.st != nil && n.name == "/chat" {
			u := store.User{ID: id.ID, Name: id.Name, Username: id.Username, Email: id.Email}
			if err := a.st.UpsertUser(ctx, u); err != nil {
				c.log.Error("recording user failed", "user_id", id.ID, "err", err)
			}
		}
		return nil
	})
	// Registered first so that it runs before the namespace's own
	// greetings: a refused socket sees nothing but authError.
	n.onConnect = append([]func(*Conn){func(c *Conn) { a.connected(n, c) }}, n.onConnect...)
}

// connected greets an authenticated socket, or drops one on "/" whose
// token was refused.
func (a *authenticator) connected(n *namespace, c *Conn) {
	id, ok := c.Identity()
	if !ok {
		_, err := a.verify(c.Context(), c.s)
		if err == nil || errors.Is(err, auth.ErrNoToken) {
			return // anonymous
		}
		e, _ := replyOf(err)
		c.emit("authError", authError{Message: "Authentication failed", Error: e.Message})
		c.s.Disconnect(false)
		return
	}
	c.s.Join(userRoom(id.ID))
	c.emit("authenticated", authenticated{
		User:      authUser{ID: id.ID, Email: id.Email, Username: id.Username},
		Timestamp: wire.Time(a.srv.now()),
	})
	a.expireAt(c, id.ExpiresAt)
}

// expireAt disconnects c when its token expires. The timer costs no
// goroutine while it waits and is stopped when the socket disconnects first.
func (a *authenticator) expireAt(c *Conn, exp time.Time) {
	t := time.AfterFunc(exp.Sub(a.srv.now()), func() {
		if !c.s.Connected() {
			return
		}
		c.log.Debug("token expired; disconnecting")
		c.emit("authError", authError{Message: "Authentication failed", Error: "Token expired"})
		c.s.Disconnect(false)
	})
	context.AfterFunc(c.Context(), func() { t.Stop() })
}
