package engine

import (
	"net/http"
	"strings"
	"testing"
)

// TestPolling_ResponsesNotStored: the handshake response (it carries the
// session id) and the poll responses must never be stored by a browser or a
// shared cache: a cached handshake would hand one client's session to
// another. Node sends "cache-control: no-store" for the same reason.
func TestPolling_ResponsesNotStored(t *testing.T) {
	ts := newTestServer(t, Config{})
	status, body, hdr, err := doReqErr(http.MethodGet, ts.url("transport=polling"), "", nil)
	if err != nil || status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q %v", status, body, err)
	}
	ts.nextConn(t)
	if got := hdr.Get("Cache-Control"); got != "no-store" {
		t.Errorf("handshake Cache-Control = %q, want no-store", got)
	}
	sid := ts.handshake(t).SID
	rec := ts.nextConn(t)
	rec.c.Send(TextMessage("hi"))
	status, body, hdr, err = doReqErr(http.MethodGet, ts.url("transport=polling&sid="+sid), "", nil)
	if err != nil || status != http.StatusOK || body != "4hi" {
		t.Fatalf("poll: %d %q %v", status, body, err)
	}
	if got := hdr.Get("Cache-Control"); got != "no-store" {
		t.Errorf("poll Cache-Control = %q, want no-store", got)
	}
	status, _, hdr, err = doReqErr(http.MethodPost, ts.url("transport=polling&sid="+sid), "4x", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("post: %d %v", status, err)
	}
	if got := hdr.Get("Cache-Control"); got != "no-store" {
		t.Errorf("post Cache-Control = %q, want no-store", got)
	}
}
