package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMain_Pprof: -pprof-addr serves /debug/pprof/ on its own listener,
// never on the public one.
func TestMain_Pprof(t *testing.T) {
	m, logs := runMain(t, "-pprof-addr", "127.0.0.1:0")
	var addr string
	for _, l := range strings.Split(logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "pprof listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no pprof listener logged:\n%s", logs)
	}
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := get("http://" + addr + "/debug/pprof/"); status != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d", status)
	}
	if status, _ := get("http://" + m.Addr() + "/debug/pprof/"); status == 200 {
		t.Fatal("pprof served on the public listener")
	}
}

// TestConfig_PprofPublic: -pprof-public is the explicit opt-in for a
// non-loopback -pprof-addr.
func TestConfig_PprofPublic(t *testing.T) {
	c := DefaultConfig()
	c.PprofAddr, c.PprofPublic = ":6060", true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.PprofAddr, c.PprofPublic = "[::1]:6060", false
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
