package event

import (
	"encoding/json"
	"testing"

	"github.com/sockgate/sockgate/auth"
)

func TestLocal(t *testing.T) {
	type lobby struct {
		Name string `json:"name"`
	}
	private := NewLocal[string]()
	public := NewPublicLocal[lobby]("lobby")
	c := &Client{}
	if got := private.Get(c); got != "" {
		t.Fatalf("unset Local = %q", got)
	}
	private.Update(c, func(v *string) { *v = "u-1" })
	if got := public.Update(c, func(v *lobby) { v.Name = "ann" }); got.Name != "ann" {
		t.Fatalf("Update returned %+v", got)
	}
	if got := private.Get(c); got != "u-1" {
		t.Fatalf("private = %q", got)
	}
	// Two Locals of one type are distinct slots.
	other := NewLocal[string]()
	if other.Get(c) != "" {
		t.Fatal("a second Local of the same type shares the slot")
	}

	c.SetIdentity(auth.Identity{ID: "alice"})
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if string(got["userId"]) != `"alice"` || string(got["lobby"]) != `{"name":"ann"}` || len(got) != 2 {
		t.Errorf("MarshalJSON = %s, want userId and the public Local only", b)
	}
}

func TestConn_MarshalJSONAnonymous(t *testing.T) {
	b, err := json.Marshal(&Client{})
	if err != nil || string(b) != "{}" {
		t.Errorf("MarshalJSON = %s, %v; want {}", b, err)
	}
	c := &Client{}
	NewPublicLocal[int]("n").Update(c, func(v *int) { *v = 3 })
	if b, _ := json.Marshal(c); string(b) != `{"n":3}` {
		t.Errorf("MarshalJSON = %s, want {\"n\":3}", b)
	}
}
