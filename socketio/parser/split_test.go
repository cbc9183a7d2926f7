package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// referenceSplit is what splitArray replaces: encoding/json's answer.
func referenceSplit(data []byte) ([]json.RawMessage, bool) {
	if !json.Valid(data) || firstByte(data) != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return nil, false
	}
	return elems, true
}

func checkSplit(t *testing.T, in string) {
	t.Helper()
	got, gotOK, _ := splitArray([]byte(in), -1)
	want, wantOK := referenceSplit([]byte(in))
	if gotOK != wantOK {
		t.Fatalf("splitArray(%.80q) ok = %v, encoding/json says %v", in, gotOK, wantOK)
	}
	if !gotOK {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("splitArray(%.80q) = %d elements, want %d", in, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("splitArray(%.80q)[%d] = %q, want %q", in, i, got[i], want[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("element %d not capped: cap %d len %d", i, cap(got[i]), len(got[i]))
		}
	}
}

var splitCases = []string{
	`[]`, ` [ ] `, `[1]`, `["a",1,true,false,null]`, `[ "a" , { "b" : [ 1 , 2 ] } ]`,
	`[{"_placeholder":true,"num":0}]`, `[-0.5e+10,0,1E5,-1]`, `["\u00e9\n\"\\\/\b\f\r\t"]`,
	`[[[[]]],{},{"a":{}}]`, "[\"\xff\xfe\"]", `["é"]`,
	// invalid
	``, ` `, `[`, `]`, `[,]`, `[1,]`, `[1 2]`, `{"a":1}`, `"a"`, `null`, `[01]`, `[1.]`, `[.5]`,
	`[1e]`, `[-]`, `[+1]`, `["a]`, `["\x"]`, `["\u12"]`, `["\u12g4"]`, "[\"\x01\"]", `[tru]`,
	`[nul]`, `[{"a"}]`, `[{"a":}]`, `[{a:1}]`, `[{"a":1,}]`, `[{"a":1]`, `[[1}]`, `[1]]`, `[1] x`,
	`[1]` + "\x00", `[{"a":1}}`, `[{,}]`, `[{"a":1 "b":2}]`, `[NaN]`, `[Infinity]`, `[0x1]`,
}

func TestSplitArray(t *testing.T) {
	for _, c := range splitCases {
		checkSplit(t, c)
	}
	// encoding/json's nesting limit, outer array included.
	for _, depth := range []int{maxNestingDepth - 1, maxNestingDepth, maxNestingDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			closeWith := map[string]string{"[": "]", `{"k":`: "}"}[open]
			in := "[" + strings.Repeat(open, depth-1) + "1" + strings.Repeat(closeWith, depth-1) + "]"
			checkSplit(t, in)
			in = "[" + strings.Repeat(open, depth-1) + "[]" + strings.Repeat(closeWith, depth-1) + "]"
			checkSplit(t, in)
		}
	}
}

// FuzzSplitArray: splitArray accepts exactly what encoding/json accepts and
// splits the same elements.
func FuzzSplitArray(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, in string) { checkSplit(t, in) })
}

func BenchmarkDecodeEvent(b *testing.B) {
	msg := []byte(`2/chat,17["echo",{"n":12345,"d":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]`)
	b.ReportAllocs()
	for b.Loop() {
		var d Decoder
		if _, err := d.Add(msg, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalArray(b *testing.B) {
	type echo struct {
		N int64  `json:"n"`
		D string `json:"d"`
	}
	args := []any{"echo", echo{N: 12345, D: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, 7}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := MarshalArray(args); err != nil {
			b.Fatal(err)
		}
	}
}

// amplifying is a legal 1 MB EVENT whose payload is one short element
// after another (["x",0,0,…]): the frame of issue 9 that cost 122 ms and
// 66 MB in a split into one json.RawMessage per element.
func amplifying(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`2["x"`)
	for b.Len() < size-2 {
		b.WriteString(",0")
	}
	b.WriteByte(']')
	return b.Bytes()
}

func BenchmarkDecodeAmplifying(b *testing.B) {
	msg := amplifying(1e6)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var d Decoder
		d.Add(msg, false)
	}
}

// TestDecoder_MaxArgs: an EVENT or ACK payload may have MaxArgs top-level
// elements, not one more; elements nested in an argument do not count.
func TestDecoder_MaxArgs(t *testing.T) {
	args := func(n int) string { return strings.TrimSuffix(strings.Repeat("0,", n), ",") }
	cases := []struct {
		name, msg string
		err       error
	}{
		{"EventAtLimit", `2["x",` + args(DefaultMaxArgs-1) + `]`, nil},
		{"EventOverLimit", `2["x",` + args(DefaultMaxArgs) + `]`, ErrTooManyArgs},
		{"AckOverLimit", `31[` + args(DefaultMaxArgs+1) + `]`, ErrTooManyArgs},
		{"NestedDoNotCount", `2["x",[` + args(100000) + `]]`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			_, err := d.Add([]byte(c.msg), false)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
		})
	}
}

// TestHostile_AmplifyingArray: a legal 1 MB ["x",0,0,…] costs at most
// twice its size in allocations to decode (before: 65 MB, 94 ms).
func TestHostile_AmplifyingArray(t *testing.T) {
	msg := amplifying(1e6)
	var d Decoder
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	for range 10 {
		d.Add(msg, false)
	}
	cpu = cpuTime() - cpu
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 2*uint64(len(msg)) {
		t.Fatalf("decoding a %d-byte amplifying frame allocated %d bytes; want ≤ %d", len(msg), per, 2*len(msg))
	}
	// CPU time (not wall-clock): 94 ms a frame before, 33 µs now; the
	// bound leaves room for the race detector and a loaded machine.
	if cpu > 500*time.Millisecond {
		t.Fatalf("10 amplifying frames cost %v of CPU; want ≤ 500ms", cpu)
	}
	t.Logf("10 frames: %v CPU", cpu)
}

// referencePlaceholders is what scanPlaceholders replaces: the indexes
// WalkPlaceholders finds in the decoded value.
func referencePlaceholders(data []byte) []int {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	var nums []int
	WalkPlaceholders(v, func(n int) { nums = append(nums, n) })
	return nums
}

func checkPlaceholderScan(t *testing.T, in string) {
	t.Helper()
	if !json.Valid([]byte(in)) {
		return
	}
	var got []int
	scanPlaceholders([]byte(in), func(n int) { got = append(got, n) })
	want := referencePlaceholders([]byte(in))
	// Map iteration makes WalkPlaceholders' order random inside objects:
	// compare as multisets.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("scanPlaceholders(%.100q) = %v, encoding/json says %v", in, got, want)
	}
}

var placeholderCases = []string{
	`[{"_placeholder":true,"num":0}]`, `[{"num":1,"_placeholder":true}]`, `[{"_placeholder":false,"num":0}]`,
	`[{"_placeholder":true}]`, `[{"_placeholder":true,"num":"0"}]`, `[{"_placeholder":true,"num":1.5}]`,
	`[{"_placeholder":true,"num":-1}]`, `[{"_placeholder":true,"num":1e2}]`, `[{"_placeholder":true,"num":2e6}]`,
	`[{"a":{"_placeholder":true,"num":3}},[{"_placeholder":true,"num":4}]]`,
	`[{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]`,
	`[{"_placeholder":true,"num":0,"_placeholder":false}]`, `[{"_placeholder":true,"num":0,"num":5}]`,
	`["{\"_placeholder\":true,\"num\":0}"]`, `[{"\u005fplaceholder":true,"num":2}]`, `[{}, {"a":[]}, "x"]`,
	`{"_placeholder":true,"num":7}`, `[ { "_placeholder" : true , "num" : 1 } ]`,
}

func TestScanPlaceholders(t *testing.T) {
	for _, c := range placeholderCases {
		checkPlaceholderScan(t, c)
	}
}

// FuzzScanPlaceholders: scanPlaceholders finds what WalkPlaceholders finds.
func FuzzScanPlaceholders(f *testing.F) {
	for _, c := range placeholderCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, in string) { checkPlaceholderScan(t, in) })
}

// TestHostile_PlaceholderBomb: a binary event whose payload nests a 1 MB
// array costs at most twice its size to check its placeholders (before: a
// []any of every element, 40 MB).
func TestHostile_PlaceholderBomb(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`51-["x",{"_placeholder":true,"num":0},[0`)
	for b.Len() < 1e6 {
		b.WriteString(",0")
	}
	b.WriteString("]]")
	msg := b.Bytes()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	for range 5 {
		var d Decoder
		if _, err := d.Add(msg, false); err != nil {
			t.Fatal(err)
		}
		if p, err := d.Add([]byte{1, 2, 3}, true); err != nil || p == nil {
			t.Fatalf("attachment: %v %v", p, err)
		}
	}
	cpu = cpuTime() - cpu
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 5; per > 2*uint64(len(msg)) {
		t.Fatalf("checking the placeholders of a %d-byte packet allocated %d bytes; want ≤ %d", len(msg), per, 2*len(msg))
	}
	if cpu > 2*time.Second {
		t.Fatalf("5 packets cost %v of CPU; want ≤ 2s", cpu)
	}
	t.Logf("5 packets: %v CPU", cpu)
}

// cpuTime is the process's CPU time (user + system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
