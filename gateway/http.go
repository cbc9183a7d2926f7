package gateway

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/docs"
	"github.com/sockgate/sockgate/gateway/chats"
	"github.com/sockgate/sockgate/gateway/event"
)

// routes builds the one handler of SPEC §1: Socket.IO at /socket.io/, the
// REST API under /api/, health and metrics, and the optional static client.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// The engine caps polling bodies itself (MaxHTTPBufferSize) before reading.
	mux.Handle("/socket.io/", s.io)
	s.tutorial.Routes(mux) // /api/rooms…
	if s.api != nil {
		s.api.Routes(mux) // /chats…, /attachments/…
	}
	mux.Handle("/api/", s.p.Route("", nil, func(w http.ResponseWriter, r *http.Request, _ auth.Identity) error {
		return &event.Error{Code: event.CodeNotFound, Message: fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path)}
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		event.WriteJSON(w, http.StatusOK, statusBody{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(docs.OpenAPI) // the REST API's OpenAPI 3 document
	})
	if s.cfg.StaticDir != "" {
		mux.Handle("/", spa(s.cfg.StaticDir))
	}
	return s.guard(mux)
}

// guard applies what every request gets: a body cap (Socket.IO and
// attachment uploads excepted: the engine and the chat API enforce their
// own) and a deadline on reading the body (Config.BodyTimeout; Socket.IO's
// is the engine's), CORS for the REST API (/api/ and the chat
// API's paths), and panic recovery.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("http handler panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.p.WriteError(w, r, event.ErrInternal)
			}
		}()
		if !strings.HasPrefix(r.URL.Path, "/socket.io/") {
			// Attachment uploads are capped by the chat API itself
			// (Config.MaxUpload plus multipart overhead), above this cap.
			upload := s.api != nil && chats.IsAttachmentUpload(r)
			if !upload {
				r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
			}
			s.bodyDeadline(w, r, upload)
			if strings.HasPrefix(r.URL.Path, "/api/") || chats.IsAPIPath(r.URL.Path) {
				s.restCORS.Allowed(r) // logs a foreign origin (OnRefuse); the browser refuses it
				if s.restCORS.Apply(w, r) {
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

type statusBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// readyCheckTimeout bounds each readiness check; they run concurrently, so
// /readyz answers within it (a load balancer's probe usually waits 5s).
const readyCheckTimeout = 2 * time.Second

// maxReadyReason caps the reason a failed check reports.
const maxReadyReason = 200

// readyz runs every ReadyCheck concurrently, each within
// readyCheckTimeout: 200 {"status":"ok","checks":{...}} when all pass, else
// 503 naming each failed check with its reason (the store's says why it
// cannot write: store.Store.Ping probes a write). A check that does not
// answer in time fails with the deadline as its reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
	defer cancel()
	names := make([]string, 0, len(s.cfg.ReadyChecks))
	for name := range s.cfg.ReadyChecks {
		names = append(names, name)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = s.cfg.ReadyChecks[name](ctx) })
	}
	wg.Wait()
	body := statusBody{Status: "ok", Checks: map[string]string{}}
	var failed []string
	for i, name := range names {
		if err := errs[i]; err != nil {
			s.log.Warn("readiness check failed", "check", name, "err", err)
			body.Checks[name] = "unavailable"
			reason := err.Error()
			if len(reason) > maxReadyReason {
				reason = reason[:maxReadyReason] + "…"
			}
			failed = append(failed, name+" unavailable ("+reason+")")
			continue
		}
		body.Checks[name] = "ok"
	}
	if len(failed) > 0 {
		s.p.WriteError(w, r, &event.Error{Code: event.CodeUnavailable, Message: "Not ready: " + strings.Join(failed, "; ") + "."})
		return
	}
	event.WriteJSON(w, http.StatusOK, body)
}

// spa serves dir with a fallback to index.html for paths that are not
// files (client-side routes). /api* and /socket.io/* never get here: the
// mux routes them first (and /api… without the slash is refused below).
func spa(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if strings.HasPrefix(p, "/api") || strings.HasPrefix(p, "/socket.io") {
			http.NotFound(w, r)
			return
		}
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil && !st.IsDir() {
			fs.ServeHTTP(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, "index.html"))
	})
}
