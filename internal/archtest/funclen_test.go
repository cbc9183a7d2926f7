package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxFuncLines is the longest non-test function allowed.
const maxFuncLines = 80

// funcLengthRoots are the directories whose functions are measured.
var funcLengthRoots = []string{"socketio", "gateway", "store", "cmd"}

func TestFunctionLength(t *testing.T) {
	root, _ := moduleRoot(t)
	var long []string
	n := 0
	for _, sub := range funcLengthRoots {
		for _, rel := range goFiles(t, root, sub) {
			src, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			found, err := longFuncs(rel, src, maxFuncLines)
			if err != nil {
				t.Fatal(err)
			}
			long = append(long, found...)
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no Go files under %v: wrong module root %s?", funcLengthRoots, root)
	}
	if len(long) > 0 {
		sort.Strings(long)
		t.Errorf("%d functions over %d lines (split them into named steps):\n%s",
			len(long), maxFuncLines, strings.Join(long, "\n"))
	}
}

// longFuncs parses one file and returns "file:line name N lines" for each
// function or method longer than max lines, counted from the func keyword
// to the closing brace (the doc comment excluded).
func longFuncs(name string, src []byte, max int) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("archtest: %w", err)
	}
	var out []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
		if n := end - start + 1; n > max {
			out = append(out, fmt.Sprintf("%s:%d %s %d lines", name, start, funcName(fn), n))
		}
	}
	return out, nil
}

// funcName is "Name" for a function and "Type.Name" for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	for {
		switch x := typ.(type) {
		case *ast.StarExpr:
			typ = x.X
			continue
		case *ast.IndexExpr: // generic receiver T[K]
			typ = x.X
			continue
		case *ast.IndexListExpr: // T[K, V]
			typ = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fn.Name.Name
		}
		return fn.Name.Name
	}
}

// TestLongFuncs proves the measure on synthetic sources.
func TestLongFuncs(t *testing.T) {
	body := func(lines int) string { // a function of exactly lines lines
		return "{\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	src := "package p\n\n" +
		"// doc lines do not count\n// at all\n" +
		"func atLimit() " + body(80) +
		"func overLimit() " + body(81) +
		"type T[K any] struct{}\n" +
		"func (t *T[K]) generic() " + body(90) +
		"func (T[K]) value() " + body(3)
	got, err := longFuncs("p/p.go", []byte(src), 80)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/p.go:85 overLimit 81 lines", "p/p.go:167 T.generic 90 lines"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("longFuncs =\n%q\nwant\n%q", got, want)
	}
}
