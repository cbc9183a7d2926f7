package gateway

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/ratelimit"
)

// docSection is one "### `event`" section of docs/EVENTS.md: its bullets
// by label ("Payload", "Ack", "Errors", "Rate limit").
type docSection map[string]string

// parseEventsDoc reads docs/EVENTS.md into namespace → event → section.
// Namespaces are "## Namespace `<name>`" headings, events "### `<name>`"
// headings; a bullet "- **Label**: text" runs on over indented lines.
func parseEventsDoc(t *testing.T) map[string]map[string]docSection {
	t.Helper()
	b, err := os.ReadFile("../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	nsRe := regexp.MustCompile("^## Namespace `([^`]+)`")
	evRe := regexp.MustCompile("^### `([^`]+)`$")
	bulletRe := regexp.MustCompile(`^- \*\*([^*]+)\*\*:\s*(.*)$`)
	out := map[string]map[string]docSection{}
	var ns map[string]docSection
	var sec docSection
	var label string
	for _, line := range strings.Split(string(b), "\n") {
		switch m := nsRe.FindStringSubmatch(line); {
		case m != nil:
			ns, sec = map[string]docSection{}, nil
			out[m[1]] = ns
			continue
		case strings.HasPrefix(line, "## "):
			ns, sec = nil, nil
			continue
		}
		if m := evRe.FindStringSubmatch(line); m != nil && ns != nil {
			sec = docSection{}
			ns[m[1]] = sec
			continue
		}
		if strings.HasPrefix(line, "#") {
			sec = nil
			continue
		}
		if sec == nil {
			continue
		}
		if m := bulletRe.FindStringSubmatch(line); m != nil {
			label = m[1]
			sec[label] = m[2]
		} else if strings.HasPrefix(line, "  ") && label != "" {
			sec[label] += " " + strings.TrimSpace(line)
		} else {
			label = ""
		}
	}
	return out
}

// jsonFields returns the JSON names of t's fields when t is a struct.
func jsonFields(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// codeSpan matches a Markdown code span.
var codeSpan = regexp.MustCompile("`[^`]+`")

// mentions reports whether a code span of text has word as a whole word.
func mentions(text, word string) bool {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(word) + `([^A-Za-z0-9_]|$)`)
	return slices.ContainsFunc(codeSpan.FindAllString(text, -1), re.MatchString)
}

// ruleText is how EVENTS.md writes a default limit: "5 per 1 min", "10 per 30 s".
func ruleText(r ratelimit.Rule) string {
	if r.Period%time.Minute == 0 {
		return fmt.Sprintf("%d per %d min", r.Limit, r.Period/time.Minute)
	}
	return fmt.Sprintf("%d per %d s", r.Limit, r.Period/time.Second)
}

// TestEventsDoc checks docs/EVENTS.md against the events registered on
// every namespace of a gateway with every product (stored chats
// included): each event has a section naming every payload and ack field
// and its default rate limit, and each section is a registered event.
func TestEventsDoc(t *testing.T) {
	e := newChatEnv(t, chatEnvConfig{})
	doc := parseEventsDoc(t)
	rules := DefaultRateRules()
	var names []string
	for _, n := range []*event.Namespace{e.srv.root, e.srv.rooms, e.srv.chat} {
		names = append(names, n.Name())
		sections, ok := doc[n.Name()]
		if !ok {
			t.Errorf("EVENTS.md: no section \"## Namespace `%s`\"", n.Name())
			continue
		}
		var registered []string
		for _, ev := range n.Events() {
			registered = append(registered, ev.Name)
			checkEventDoc(t, n.Name(), ev, sections[ev.Name], rules)
		}
		for name := range sections {
			if !slices.Contains(registered, name) {
				t.Errorf("EVENTS.md documents %s %q, which is not registered", n.Name(), name)
			}
		}
	}
	for name := range doc {
		if !slices.Contains(names, name) {
			t.Errorf("EVENTS.md documents namespace %q, which the gateway does not have", name)
		}
	}
}

func checkEventDoc(t *testing.T, ns string, ev event.EventInfo, sec docSection, rules map[string]ratelimit.Rule) {
	t.Helper()
	where := fmt.Sprintf("EVENTS.md %s %q", ns, ev.Name)
	if sec == nil {
		t.Errorf("%s: missing (a \"### `%s`\" section under namespace %s)", where, ev.Name, ns)
		return
	}
	for _, label := range []string{"Payload", "Ack", "Errors", "Rate limit"} {
		if sec[label] == "" {
			t.Errorf("%s: no \"- **%s**:\" bullet", where, label)
		}
	}
	for _, f := range jsonFields(ev.Request) {
		if !mentions(sec["Payload"], f) {
			t.Errorf("%s: Payload does not name field %q of %v", where, f, ev.Request)
		}
	}
	for _, f := range jsonFields(ev.Reply) {
		if !mentions(sec["Ack"], f) {
			t.Errorf("%s: Ack does not name field %q of %v", where, f, ev.Reply)
		}
	}
	if ev.Reply.Kind() == reflect.Bool && !strings.HasPrefix(sec["Ack"], "`true`") {
		t.Errorf("%s: Ack should start with `true`", where)
	}
	limit := "none"
	if r, ok := rules[ev.Rule]; ok && ev.Rule != "" {
		limit = "`" + ev.Rule + "`, " + ruleText(r)
	}
	if !strings.HasPrefix(sec["Rate limit"], limit) {
		t.Errorf("%s: Rate limit is %q, want %q", where, sec["Rate limit"], limit+".")
	}
}

// emitNamespaces are the namespaces whose clients the Emit calls of each
// package of the gateway reach (gateway/event's: every namespace).
var emitNamespaces = map[string][]string{
	"tutorial": {"/"}, "rooms": {"/rooms"}, "lobby": {"/chat"}, "chats": {"/chat"},
	"event": {"/", "/rooms", "/chat"},
}

// emittedEvents returns, by namespace, the event names the gateway's code
// emits: the string argument (a literal or a string constant of the
// package) of every call of a method named Emit, in the packages of
// emitNamespaces.
func emittedEvents(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	for dir, nss := range emitNamespaces {
		files := parseGoFiles(t, fset, dir)
		consts := stringConsts(files)
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if sel, isSel := callSelector(call); !ok || !isSel || sel != "Emit" {
					return true
				}
				for _, arg := range call.Args {
					if name, ok := stringArg(arg, consts); ok {
						for _, ns := range nss {
							if !slices.Contains(out[ns], name) {
								out[ns] = append(out[ns], name)
							}
						}
						break
					}
				}
				return true
			})
		}
	}
	return out
}

func callSelector(call *ast.CallExpr) (string, bool) {
	if call == nil {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	return sel.Sel.Name, true
}

// parseGoFiles parses the non-test Go files of dir.
func parseGoFiles(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// stringConsts maps the files' string constants to their values.
func stringConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if v, ok := stringArg(vs.Values[i], nil); ok {
							out[name.Name] = v
						}
					}
				}
			}
			return true
		})
	}
	return out
}

func stringArg(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		}
	case *ast.Ident:
		v, ok := consts[x.Name]
		return v, ok
	}
	return "", false
}

// serverEvents returns, by namespace, the first column of the "Server →
// client on `<ns>`" tables of docs/EVENTS.md.
func serverEvents(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile("^### Server → client on `([^`]+)`")
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	out := map[string][]string{}
	ns := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := head.FindStringSubmatch(line); m != nil {
			ns = m[1]
			continue
		}
		if strings.HasPrefix(line, "#") {
			ns = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && ns != "" {
			out[ns] = append(out[ns], m[1])
		}
	}
	return out
}

// TestEventsDoc_ServerEvents checks the "Server → client" tables of
// docs/EVENTS.md against the events the code emits on each namespace.
func TestEventsDoc_ServerEvents(t *testing.T) {
	emitted, documented := emittedEvents(t), serverEvents(t)
	if len(emitted) == 0 {
		t.Fatal("found no Emit calls")
	}
	for ns, names := range emitted {
		for _, name := range names {
			if !slices.Contains(documented[ns], name) {
				t.Errorf("EVENTS.md: %s emits %q, not in its Server → client table", ns, name)
			}
		}
	}
	for ns, names := range documented {
		for _, name := range names {
			if !slices.Contains(emitted[ns], name) {
				t.Errorf("EVENTS.md: %s's Server → client table lists %q, which the code does not emit there", ns, name)
			}
		}
	}
}
