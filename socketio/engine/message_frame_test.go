package engine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// TestServerFrame: serverFrame builds the bytes gobwas compiles, for every
// header length.
func TestServerFrame(t *testing.T) {
	for _, n := range []int{0, 1, 124, 125, 126, 127, 0xFFFE, 0xFFFF, 0x10000, 0x10001} {
		text := strings.Repeat("x", n)
		got := (&Message{typ: typeMessage, text: text}).frameBytes()
		want := ws.MustCompileFrame(ws.NewTextFrame([]byte("4" + text)))
		if !bytes.Equal(got, want) {
			t.Errorf("text of %d bytes: frame differs (header % x, want % x)", n, got[:min(len(got), 10)], want[:min(len(want), 10)])
		}
		data := bytes.Repeat([]byte{7}, n+1)
		got = BinaryMessage(data).frameBytes()
		want = ws.MustCompileFrame(ws.NewBinaryFrame(data))
		if !bytes.Equal(got, want) {
			t.Errorf("binary of %d bytes: frame differs", n+1)
		}
	}
	if got, want := pingPacket.frameBytes(), ws.MustCompileFrame(ws.NewTextFrame([]byte("2"))); !bytes.Equal(got, want) {
		t.Errorf("ping frame % x, want % x", got, want)
	}
}
