package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		ok     bool
	}{
		"Ready":    {http.StatusOK, true},
		"NotReady": {http.StatusServiceUnavailable, false},
	} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/readyz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
			}))
			defer ts.Close()
			if err := check(ts.URL + "/readyz"); (err == nil) != tc.ok {
				t.Fatalf("check: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	t.Run("Down", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		url := ts.URL
		ts.Close()
		if err := check(url + "/readyz"); err == nil {
			t.Fatal("no error from a closed port")
		}
	})
}
