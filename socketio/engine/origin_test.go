package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWebSocket_CrossOriginRefused: the Origin check applies to WebSocket
// handshakes too (a browser lets any page open a WebSocket to any host, with
// its cookies: cross-site WebSocket hijacking), both for a new WebSocket
// session and for the upgrade of a polling session; same-origin and allowed
// origins pass.
func TestWebSocket_CrossOriginRefused(t *testing.T) {
	ts := newTestServer(t, Config{CORS: CORS{AllowedOrigins: []string{"http://app.example"}}})
	dial := func(query, origin string) error {
		u := "ws" + strings.TrimPrefix(ts.url(query), "http")
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {origin}})}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nc, _, _, err := d.Dial(ctx, u)
		if err == nil {
			nc.Close()
		}
		return err
	}
	same := "http://" + strings.TrimPrefix(ts.http.URL, "http://")

	if err := dial("transport=websocket", "http://evil.example"); !isStatus(err, http.StatusForbidden) {
		t.Errorf("cross-origin WebSocket session: err = %v, want 403", err)
	}
	if n := ts.eng.Count(); n != 0 {
		t.Errorf("%d sessions after a refused WebSocket handshake", n)
	}
	for _, origin := range []string{"http://app.example", same} {
		if err := dial("transport=websocket", origin); err != nil {
			t.Errorf("WebSocket from %s: %v", origin, err)
		}
		ts.nextConn(t)
	}

	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	if err := dial("transport=websocket&sid="+sid, "http://evil.example"); !isStatus(err, http.StatusForbidden) {
		t.Errorf("cross-origin upgrade: err = %v, want 403", err)
	}
	rec.c.mu.Lock()
	probe := rec.c.probe
	rec.c.mu.Unlock()
	if probe != nil || rec.c.Transport() != "polling" {
		t.Errorf("a refused upgrade reached the session")
	}
}

func isStatus(err error, code int) bool {
	var se ws.StatusError
	return errors.As(err, &se) && int(se) == code
}
