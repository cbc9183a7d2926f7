package archtest

import (
	"fmt"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// coreForbidden are the application packages the protocol core must not
// import (nor any package under them).
var coreForbidden = []string{"gateway", "store", "auth", "ratelimit"}

// imports maps each package directory (slash-separated, relative to the
// module root) to the import paths of its non-test files.
type imports map[string][]string

func TestImports(t *testing.T) {
	root, module := moduleRoot(t)
	pkgs := imports{}
	for _, sub := range []string{"socketio", "gateway"} {
		for _, rel := range goFiles(t, root, sub) {
			paths, err := fileImports(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			dir := path.Dir(rel)
			pkgs[dir] = append(pkgs[dir], paths...)
		}
	}
	if _, ok := pkgs["socketio"]; !ok {
		t.Fatalf("no package socketio under %s", root)
	}
	if _, ok := pkgs["gateway"]; !ok {
		t.Fatalf("no package gateway under %s", root)
	}
	t.Logf("products: %v", products(pkgs))
	for _, v := range importViolations(module, pkgs) {
		t.Error(v)
	}
}

// fileImports returns the import paths of one Go file.
func fileImports(name string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
	if err != nil {
		return nil, fmt.Errorf("archtest: %w", err)
	}
	out := make([]string, 0, len(f.Imports))
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("archtest: %s: import %s: %w", name, spec.Path.Value, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// products returns the product names: the direct sub-directories of
// gateway/ holding packages (themselves or below), other than event and
// internal.
func products(pkgs imports) []string {
	set := map[string]bool{}
	for dir := range pkgs {
		rest, ok := strings.CutPrefix(dir, "gateway/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if name != "event" && name != "internal" {
			set[name] = true
		}
	}
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// within reports whether dir is tree or below it.
func within(dir, tree string) bool {
	return dir == tree || strings.HasPrefix(dir, tree+"/")
}

// importViolations checks the three rules of the package doc and returns
// one message per offending import, sorted.
func importViolations(module string, pkgs imports) []string {
	prods := products(pkgs)
	var out []string
	for dir, paths := range pkgs {
		for _, p := range paths {
			local, ok := strings.CutPrefix(p, module+"/")
			if !ok {
				continue // standard library or another module
			}
			if why := violation(dir, local, prods); why != "" {
				out = append(out, fmt.Sprintf("%s imports %s: %s", dir, local, why))
			}
		}
	}
	sort.Strings(out)
	return out
}

// violation says why package dir may not import the module's package
// local, or returns "".
func violation(dir, local string, prods []string) string {
	productOf := func(d string) string {
		for _, p := range prods {
			if within(d, "gateway/"+p) {
				return p
			}
		}
		return ""
	}
	switch {
	case within(dir, "socketio"):
		for _, f := range coreForbidden {
			if within(local, f) {
				return "the protocol core imports no application package"
			}
		}
	case within(dir, "gateway/event"):
		if local == "gateway" {
			return "gateway/event does not import the wiring package"
		}
		if productOf(local) != "" {
			return "gateway/event imports no product"
		}
	case productOf(dir) != "":
		if local == "gateway" {
			return "a product does not import the wiring package"
		}
		if p := productOf(local); p != "" && p != productOf(dir) {
			return "a product does not import another product"
		}
	}
	return ""
}

// TestImportViolations proves each rule on synthetic packages: every
// "bad" import must be reported, no "good" one.
func TestImportViolations(t *testing.T) {
	const m = "example.com/sg"
	pkgs := imports{
		"socketio":            {"context", m + "/socketio/engine", m + "/internal/testenv"},
		"socketio/engine":     {m + "/store"},                    // bad (a)
		"socketio/redis":      {m + "/gateway/chats"},            // bad (a): under gateway
		"socketio/parser":     {m + "/auth", m + "/ratelimit/x"}, // bad (a) twice
		"gateway":             {m + "/gateway/chats", m + "/gateway/rooms", m + "/gateway/event", m + "/store"},
		"gateway/event":       {m + "/socketio", m + "/auth", m + "/gateway/internal/wire"},
		"gateway/internal/x":  {m + "/gateway"}, // not a product: allowed
		"gateway/chats":       {m + "/gateway/event", m + "/gateway/chats/sub", m + "/gateway/internal/wire", m + "/store"},
		"gateway/chats/sub":   {m + "/gateway/rooms"},                       // bad (b): sub-package of a product
		"gateway/rooms":       {m + "/gateway"},                             // bad (b): the wiring
		"gateway/tutorial":    {m + "/gateway/rooms/deep"},                  // bad (b): another product's sub-package
		"gateway/event/inner": {m + "/gateway/tutorial", m + "/gateway"},    // bad (c) twice
		"gateway/lobby":       {m + "/gatewayx", m + "/gateway/eventually"}, // bad (b): eventually is a product
		"gateway/eventually":  {"fmt"},
	}
	got := importViolations(m, pkgs)
	want := []string{
		"gateway/chats/sub imports gateway/rooms: a product does not import another product",
		"gateway/event/inner imports gateway/tutorial: gateway/event imports no product",
		"gateway/event/inner imports gateway: gateway/event does not import the wiring package",
		"gateway/lobby imports gateway/eventually: a product does not import another product",
		"gateway/rooms imports gateway: a product does not import the wiring package",
		"gateway/tutorial imports gateway/rooms/deep: a product does not import another product",
		"socketio/engine imports store: the protocol core imports no application package",
		"socketio/parser imports auth: the protocol core imports no application package",
		"socketio/parser imports ratelimit/x: the protocol core imports no application package",
		"socketio/redis imports gateway/chats: the protocol core imports no application package",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := fmt.Sprint(products(pkgs)); p != "[chats eventually lobby rooms tutorial]" {
		t.Fatalf("products = %s", p)
	}
}
