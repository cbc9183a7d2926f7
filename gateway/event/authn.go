package event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/ratelimit"
	"github.com/sockgate/sockgate/socketio"
)

// UserRoom is the room every socket of an authenticated user joins, so a
// message can target all of a user's devices (SPEC §5).
func UserRoom(userID string) string { return "user:" + userID }

// SocketAuth binds JWT identities to sockets: the connection middleware
// of every namespace, the `authenticated` greeting, the user room, the
// disconnect at token expiry.
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
//   - The refusal says why: connect_error's message and data.message (and
//     authError's error on "/") are the token's auth.TokenError.Reason
//     ("Token expired", "Invalid token signature", "Token is missing claim
//     userId", ...). The operator sees each refusal at Info, once a minute
//     per namespace and reason (Pipeline.LogRefusal), since a client with a
//     stale token retries for ever.
//   - A token whose exp has passed is refused even within the verifier's
//     clock-skew leeway: the socket would be disconnected at exp anyway.
//   - At exp the socket gets `authError {message:"Authentication failed",
//     error:"Token expired"}` and is disconnected by the server, so
//     socket.io-client does not reconnect by itself with the stale token.
//   - MaxPerUser caps the sockets of one user on this instance (every
//     namespace counted, connecting ones included): the socket beyond it is
//     refused with connect_error rate_limited "Too many connections for
//     this user (limit N)", logged like a bad token.
type SocketAuth struct {
	// MaxPerUser caps the connected sockets of one user on this instance.
	// Zero means no cap. Set it before Install.
	MaxPerUser int

	v   *auth.Verifier
	now func() time.Time

	mu    sync.Mutex
	users map[string]int // sockets per user, with MaxPerUser
}

// NewSocketAuth returns the authenticator of sockets verified by v.
func NewSocketAuth(v *auth.Verifier, now func() time.Time) *SocketAuth {
	if now == nil {
		now = time.Now
	}
	return &SocketAuth{v: v, now: now}
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
	User      authUser `json:"user"`
	Timestamp Time     `json:"timestamp"`
}

// handshakeRequest rebuilds the parts of the handshake request that
// auth.TokenFromRequest reads (query and headers, cookies included).
func handshakeRequest(hs *socketio.Handshake) *http.Request {
	return &http.Request{Header: hs.Headers, URL: &url.URL{RawQuery: hs.Query.Encode()}}
}

// verify returns the identity the socket's handshake carries: auth.ErrNoToken
// when there is no token, another auth error when it is invalid or expired.
func (a *SocketAuth) verify(ctx context.Context, s *socketio.Socket) (auth.Identity, error) {
	hs := s.Handshake()
	tok, err := auth.TokenFromRequest(handshakeRequest(hs), hs.Auth)
	if err != nil {
		return auth.Identity{}, err
	}
	id, err := a.v.Verify(ctx, tok)
	if err != nil {
		return auth.Identity{}, err
	}
	if !id.ExpiresAt.After(a.now()) {
		return auth.Identity{}, auth.ErrExpired
	}
	return id, nil
}

// Install adds authentication to namespace n: required refuses sockets
// without a valid token at the handshake; otherwise anonymous sockets are
// admitted and events that need an identity refuse them (Client.User). It
// must come before the namespace's other middleware, which may then read
// Client.Identity.
func (a *SocketAuth) Install(n *Namespace, required bool) {
	n.Use(func(ctx context.Context, c *Client) error {
		id, err := a.verify(ctx, c.s)
		switch {
		case err == nil:
		case errors.Is(err, auth.ErrNoToken) && !required:
			return nil // anonymous
		case n.name == "/" && !required:
			return nil // authError after connecting (onConnect below)
		default:
			a.logRefusal(n, c, "socket handshake refused: unauthorized", err)
			return err // ReplyOf: unauthorized, with the reason
		}
		if err := a.hold(ctx, id.ID); err != nil {
			a.logRefusal(n, c, "socket handshake refused: too many connections for this user", err)
			return err
		}
		c.SetIdentity(id)
		return nil
	})
	// First, so that it runs before the namespace's own greetings: a
	// refused socket sees nothing but authError.
	n.OnConnect(a.connected, true)
}

// hold counts a socket of user against MaxPerUser until ctx (the socket's)
// ends, or refuses it.
func (a *SocketAuth) hold(ctx context.Context, user string) error {
	if a.MaxPerUser <= 0 {
		return nil
	}
	a.mu.Lock()
	if a.users == nil {
		a.users = make(map[string]int)
	}
	if a.users[user] >= a.MaxPerUser {
		a.mu.Unlock()
		return &Error{CodeRateLimited, fmt.Sprintf("Too many connections for this user (limit %d).", a.MaxPerUser)}
	}
	a.users[user]++
	a.mu.Unlock()
	context.AfterFunc(ctx, func() {
		a.mu.Lock()
		if a.users[user]--; a.users[user] <= 0 {
			delete(a.users, user)
		}
		a.mu.Unlock()
	})
	return nil
}

// LimitConnects counts every CONNECT to n under rule (the wiring's
// "nsconnect"), per user when the socket is authenticated, else per
// Engine.IO connection (its handshake's address and port): a client that
// re-CONNECTs a namespace in a loop on one connection (each CONNECT an
// authentication, on "/chat" a user upsert and a replay of missed
// messages) is refused with connect_error rate_limited "Too many requests,
// retry in Ns." once over the limit, logged once a minute per namespace.
// It must come after SocketAuth.Install and before the products'
// middleware.
func LimitConnects(n *Namespace, rule string) {
	n.Use(func(ctx context.Context, c *Client) error {
		key := "conn:" + c.s.Handshake().Address
		if id, ok := c.Identity(); ok {
			key = ratelimit.Key(id.ID, "")
		}
		if _, err := n.p.Allow(ctx, rule, key); err != nil {
			e, _ := ReplyOf(err)
			n.p.LogRefusal("nsconnect|"+n.name, "namespace CONNECT refused: "+e.Message,
				"ns", n.name, "sid", c.s.ID(), "ip", c.IP(), "key", key, "reason", e.Message)
			return err
		}
		return nil
	})
}

// connected greets an authenticated socket, or drops one on "/" whose
// token was refused.
func (a *SocketAuth) connected(c *Client) {
	id, ok := c.Identity()
	if !ok {
		_, err := a.verify(c.Context(), c.s)
		if err == nil || errors.Is(err, auth.ErrNoToken) {
			return // anonymous
		}
		e := a.logRefusal(c.ns, c, "socket authentication failed: disconnected", err)
		c.Emit("authError", authError{Message: "Authentication failed", Error: e.Message})
		c.s.Disconnect(false)
		return
	}
	c.s.Join(UserRoom(id.ID))
	c.Emit("authenticated", authenticated{
		User:      authUser{ID: id.ID, Email: id.Email, Username: id.Username},
		Timestamp: Time(a.now()),
	})
	a.expireAt(c, id.ExpiresAt)
}

// logRefusal logs a refused token at Info (rate limited per namespace and
// reason: a client retrying with the same bad token logs once a minute)
// and returns what the client is told.
func (a *SocketAuth) logRefusal(n *Namespace, c *Client, msg string, err error) Error {
	e, _ := ReplyOf(err)
	n.p.LogRefusal("socket|"+n.name+"|"+e.Message, msg, "ns", n.name, "sid", c.s.ID(), "ip", c.IP(), "reason", e.Message, "err", err)
	return e
}

// expireAt disconnects c when its token expires. The timer costs no
// goroutine while it waits and is stopped when the socket disconnects first.
func (a *SocketAuth) expireAt(c *Client, exp time.Time) {
	t := time.AfterFunc(exp.Sub(a.now()), func() {
		if !c.s.Connected() {
			return
		}
		c.Logger().Debug("token expired; disconnecting")
		c.Emit("authError", authError{Message: "Authentication failed", Error: "Token expired"})
		c.s.Disconnect(false)
	})
	context.AfterFunc(c.Context(), func() { t.Stop() })
}
