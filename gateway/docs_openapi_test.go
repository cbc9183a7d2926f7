package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/docs"
	"github.com/sockgate/sockgate/store"
)

// openAPIDoc is the part of docs/openapi.json the tests read.
type openAPIDoc struct {
	OpenAPI    string                                 `json:"openapi"`
	Paths      map[string]map[string]openAPIOperation `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	RateLimit string `json:"x-sockgate-rate-limit"`
	Responses map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// schema is the subset of JSON Schema the document uses.
type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	Additional *schema            `json:"additionalProperties"`
	Items      *schema            `json:"items"`
	Enum       []any              `json:"enum"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var d openAPIDoc
	if err := json.Unmarshal(docs.OpenAPI, &d); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("docs/openapi.json: openapi %q, want 3.x", d.OpenAPI)
	}
	return d
}

// operations returns "METHOD /path" of every operation of d, sorted.
func (d openAPIDoc) operations() []string {
	var out []string
	for p, ops := range d.Paths {
		for m := range ops {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}

// routePattern matches a ServeMux pattern with a method ("GET /chats").
var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*)$`)

// registeredRoutes returns every ServeMux pattern with a method written as
// a string literal in the non-test Go files of the gateway and its
// products: the routes the mux registers (http.go, the products' Routes).
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && routePattern.MatchString(s) {
					seen[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPI checks docs/openapi.json against the gateway: its
// operations are exactly the method routes registered in the code, each
// is served (no mux 404 or 405), its rate-limit rules are the defaults'
// "http:" rules, GET /openapi.json serves the file, and live responses of
// a gateway with stored chats validate against the documented schemas.
func TestOpenAPI(t *testing.T) {
	d := loadOpenAPI(t)
	ops, routes := d.operations(), registeredRoutes(t)
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q is registered but not in docs/openapi.json", r)
		}
	}
	for _, o := range ops {
		if !slices.Contains(routes, o) {
			t.Errorf("docs/openapi.json documents %q, which no code registers", o)
		}
	}
	checkOpenAPIRules(t, d)

	e := newChatEnv(t, chatEnvConfig{})
	for _, o := range ops {
		method, path, _ := strings.Cut(o, " ")
		path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
		code, body := openAPIRequest(t, e.URL, method, path, "", nil, "")
		if code == http.StatusMethodNotAllowed || strings.Contains(body, "Cannot "+method) {
			t.Errorf("%s: not served (%d %s)", o, code, body)
		}
	}
	if _, body := openAPIRequest(t, e.URL, "GET", "/openapi.json", "", nil, ""); body != string(docs.OpenAPI) {
		t.Error("GET /openapi.json does not serve docs/openapi.json")
	}
	checkOpenAPIResponses(t, d, e)
}

func checkOpenAPIRules(t *testing.T, d openAPIDoc) {
	t.Helper()
	rules := DefaultRateRules()
	used := map[string]bool{}
	for p, ops := range d.Paths {
		for m, op := range ops {
			if op.RateLimit == "" {
				continue
			}
			used[op.RateLimit] = true
			if _, ok := rules[op.RateLimit]; !ok {
				t.Errorf("%s %s: x-sockgate-rate-limit %q is not a default rule", m, p, op.RateLimit)
			}
		}
	}
	for name := range rules {
		if strings.HasPrefix(name, "http:") && !used[name] {
			t.Errorf("rate-limit rule %q is used by no documented operation", name)
		}
	}
}

// openAPIRequest sends one request (a bearer token when tok is set) and
// returns the status and body.
func openAPIRequest(t *testing.T, base, method, path, tok string, body io.Reader, ctype string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// checkOpenAPIResponses drives every JSON operation once and validates
// the body against the schema documented for its status.
func checkOpenAPIResponses(t *testing.T, d openAPIDoc, e *chatEnv) {
	t.Helper()
	tok := mintToken(t, "alice", time.Hour)
	call := func(method, pattern, path, body, ctype string, r io.Reader) string {
		t.Helper()
		if r == nil && body != "" {
			r = strings.NewReader(body)
		}
		code, got := openAPIRequest(t, e.URL, method, path, tok, r, ctype)
		validateResponse(t, d, method, pattern, code, got)
		return got
	}
	var chat struct {
		ID string `json:"id"`
	}
	created := call("POST", "/chats", "/chats", `{"kind":"general","title":"t","memberIds":["bob"]}`, "application/json", nil)
	if err := json.Unmarshal([]byte(created), &chat); err != nil || chat.ID == "" {
		t.Fatalf("POST /chats: %s", created)
	}
	if _, _, err := e.st.CreateMessage(context.Background(), store.NewMessage{ChatID: chat.ID, SenderID: "alice", Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	fw, _ := w.CreateFormFile("file", "note.txt")
	fmt.Fprint(fw, "hello, attachments")
	w.Close()
	cp := "/chats/" + chat.ID
	att := call("POST", "/chats/{id}/attachments", cp+"/attachments", "", w.FormDataContentType(), &mp)
	call("GET", "/chats", "/chats", "", "", nil)
	call("GET", "/chats/{id}/members", cp+"/members", "", "", nil)
	call("POST", "/chats/{id}/members", cp+"/members", `{"userId":"carol"}`, "application/json", nil)
	call("POST", "/chats/{id}/members", cp+"/members", `{"userId":"carol"}`, "application/json", nil) // 409
	call("GET", "/chats/{id}/messages", cp+"/messages", "", "", nil)
	call("GET", "/chats/{id}/messages", cp+"/messages?before=nope", "", "", nil) // 400
	call("POST", "/chats/{id}/archive", cp+"/archive", "", "", nil)
	call("GET", "/chats/{id}/members", "/chats/nope/members", "", "", nil) // 404
	call("GET", "/api/rooms", "/api/rooms", "", "", nil)
	call("GET", "/api/rooms/{room}", "/api/rooms/none", "", "", nil) // 404
	call("GET", "/healthz", "/healthz", "", "", nil)
	call("GET", "/readyz", "/readyz", "", "", nil)
	if code, body := openAPIRequest(t, e.URL, "GET", "/chats", "", nil, ""); code == http.StatusUnauthorized {
		validateResponse(t, d, "GET", "/chats", code, body)
	} else {
		t.Errorf("GET /chats without a token: %d", code)
	}
	var a struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(att), &a); err != nil || !strings.HasPrefix(a.URL, "/attachments/") {
		t.Errorf("attachment url: %s", att)
	}
}

// validateResponse checks body against the schema d documents for method
// pattern's status code.
func validateResponse(t *testing.T, d openAPIDoc, method, pattern string, code int, body string) {
	t.Helper()
	op, ok := d.Paths[pattern][strings.ToLower(method)]
	if !ok {
		t.Errorf("%s %s: not documented", method, pattern)
		return
	}
	r, ok := op.Responses[strconv.Itoa(code)]
	if !ok {
		t.Errorf("%s %s: status %d not documented (%s)", method, pattern, code, body)
		return
	}
	var sch *schema
	if r.Ref != "" {
		// Shared responses are all the Error body.
		sch = &schema{Ref: "#/components/schemas/Error"}
	} else if c, ok := r.Content["application/json"]; ok {
		sch = c.Schema
	}
	if sch == nil {
		return
	}
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Errorf("%s %s %d: body is not JSON: %s", method, pattern, code, body)
		return
	}
	for _, p := range validate(d, sch, v, "body") {
		t.Errorf("%s %s %d: %s (%s)", method, pattern, code, p, body)
	}
}

// validate returns where v does not fit s: types, required and
// undocumented properties, enums.
func validate(d openAPIDoc, s *schema, v any, at string) []string {
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		if s = d.Components.Schemas[name]; s == nil {
			return []string{at + ": unknown schema " + name}
		}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return []string{fmt.Sprintf("%s: %v not in %v", at, v, s.Enum)}
	}
	switch x := v.(type) {
	case map[string]any:
		if s.Type != "object" {
			return []string{at + ": object, want " + s.Type}
		}
		return validateObject(d, s, x, at)
	case []any:
		if s.Type != "array" {
			return []string{at + ": array, want " + s.Type}
		}
		var out []string
		for i, item := range x {
			out = append(out, validate(d, s.Items, item, fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	case string:
		if s.Type != "string" {
			return []string{at + ": string, want " + s.Type}
		}
	case bool:
		if s.Type != "boolean" {
			return []string{at + ": boolean, want " + s.Type}
		}
	case float64:
		if s.Type != "integer" && s.Type != "number" || s.Type == "integer" && x != float64(int64(x)) {
			return []string{fmt.Sprintf("%s: number %v, want %s", at, x, s.Type)}
		}
	}
	return nil
}

func validateObject(d openAPIDoc, s *schema, x map[string]any, at string) []string {
	var out []string
	for _, r := range s.Required {
		if _, ok := x[r]; !ok {
			out = append(out, at+": required property "+r+" missing")
		}
	}
	for k, val := range x {
		ps := s.Properties[k]
		if ps == nil {
			ps = s.Additional
		}
		if ps == nil {
			out = append(out, at+": property "+k+" not documented")
			continue
		}
		out = append(out, validate(d, ps, val, at+"."+k)...)
	}
	return out
}
