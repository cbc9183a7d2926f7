package chats

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// Sample contents with the signatures http.DetectContentType knows.
var (
	samplePNG  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 600)...)
	sampleJPEG = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{1}, 100)...)
	samplePDF  = []byte("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n")
	sampleHTML = []byte("<html><body><script>alert(document.cookie)</script></body></html>")
	sampleZIP  = []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00rest-of-zip")
	sampleText = []byte("just some notes\nsecond line\n")
)

// multipartBody builds a multipart/form-data body with one file part
// (ctype "" sends no part Content-Type) and returns it with its
// Content-Type header value.
func multipartBody(t *testing.T, name, ctype string, content []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("comment", "ignored field before the file"); err != nil {
		t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// upload posts content as the file part to chat id's attachments.
func (e *apiEnv) upload(chatID, token, name, ctype string, content []byte) apiResp {
	e.t.Helper()
	body, mct := multipartBody(e.t, name, ctype, content)
	return e.request("POST", "/chats/"+chatID+"/attachments", token, body, "Content-Type: "+mct)
}

// eachBlobBackend runs fn per dialect and per attachment store ("disk":
// store.Files, "db": store.Blobs on the same database), each on a fresh
// database; newEnv builds an apiEnv on that store.
func eachBlobBackend(t *testing.T, fn func(t *testing.T, st *store.Store, newEnv func(APIConfig) *apiEnv)) {
	storetest.EachDialect(t, func(t *testing.T, d string) {
		for _, backend := range []string{"disk", "db"} {
			t.Run(backend, func(t *testing.T) {
				st := storetest.Open(t, d)
				var blobs Blobs = store.Files{Dir: t.TempDir()}
				if backend == "db" {
					blobs = store.Blobs{Store: st}
				}
				fn(t, st, func(cfg APIConfig) *apiEnv { return newAPIEnvOn(t, st, blobs, nil, nil, cfg) })
			})
		}
	})
}

// storedBlobs counts the contents e's blob store holds plus what failed
// uploads left behind (temporary files, pending blobs).
func (e *apiEnv) storedBlobs(t *testing.T) int64 {
	t.Helper()
	switch b := e.blobs.(type) {
	case store.Files:
		return int64(filesOnDisk(t, b.Dir))
	case store.Blobs:
		st, err := b.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Blobs + st.Pending
	}
	t.Fatalf("unknown blob store %T", e.blobs)
	return 0
}

func TestChatAPI_Attachments(t *testing.T) {
	eachBlobBackend(t, func(t *testing.T, st *store.Store, newEnv func(APIConfig) *apiEnv) {
		e := newEnv(APIConfig{})
		c := mustChat(t, st, "alice", "bob")
		alice, bob, mallory := e.token("alice"), e.token("bob"), e.token("mallory")

		var png restAttachment
		e.upload(c.ID, alice, "../../etc/cat.png", "image/png", samplePNG).decode(t, http.StatusCreated, &png)
		if png.ID == "" || png.Name != "cat.png" || png.Size != int64(len(samplePNG)) || png.ContentType != "image/png" ||
			png.URL != "/attachments/"+png.ID {
			t.Fatalf("upload reply %+v", png)
		}
		stored, err := st.AttachmentByID(t.Context(), png.ID)
		if err != nil || stored.ChatID != c.ID || stored.UploaderID != "alice" {
			t.Fatalf("stored %+v, %v", stored, err)
		}

		t.Run("InHistory", func(t *testing.T) {
			// A message referencing the upload lists it as the upload reply did.
			if _, _, err := st.CreateMessage(t.Context(), store.NewMessage{
				ChatID: c.ID, SenderID: "alice", Content: "look", AttachmentIDs: []string{png.ID},
			}); err != nil {
				t.Fatal(err)
			}
			var p apiPage[jsonMessage]
			e.request("GET", "/chats/"+c.ID+"/messages?limit=1", bob, nil).decode(t, http.StatusOK, &p)
			if len(p.Data) != 1 || len(p.Data[0].Attachments) != 1 || p.Data[0].Attachments[0] != png {
				t.Fatalf("history %+v, want attachment %+v", p.Data, png)
			}
		})
		t.Run("SameContentTwice", func(t *testing.T) {
			// Content-addressed: a second identical upload is a second
			// attachment sharing the first one's file.
			var again restAttachment
			e.upload(c.ID, bob, "copy.png", "", samplePNG).decode(t, http.StatusCreated, &again)
			if again.ID == png.ID || again.Name != "copy.png" {
				t.Fatalf("second upload %+v", again)
			}
			r := e.request("GET", again.URL, alice, nil)
			if r.status != http.StatusOK || !bytes.Equal(r.body, samplePNG) {
				t.Fatalf("second download: %d", r.status)
			}
			if n := e.storedBlobs(t); n != 1 {
				t.Fatalf("%d blobs stored for one content", n)
			}
		})
		t.Run("DownloadByMember", func(t *testing.T) {
			r := e.request("GET", png.URL, bob, nil)
			if r.status != http.StatusOK || !bytes.Equal(r.body, samplePNG) {
				t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
			}
			for k, want := range map[string]string{
				"Content-Type":           "image/png",
				"X-Content-Type-Options": "nosniff",
				"Content-Disposition":    `inline; filename=cat.png`,
				"Content-Length":         fmt.Sprint(len(samplePNG)),
				"Etag":                   `"` + stored.SHA256 + `"`,
			} {
				if got := r.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
		t.Run("Range", func(t *testing.T) {
			r := e.request("GET", png.URL, bob, nil, "Range: bytes=2-5")
			if r.status != http.StatusPartialContent || !bytes.Equal(r.body, samplePNG[2:6]) {
				t.Fatalf("range: %d %q", r.status, r.body)
			}
		})
		t.Run("NotModified", func(t *testing.T) {
			r := e.request("GET", png.URL, bob, nil, `If-None-Match: "`+stored.SHA256+`"`)
			if r.status != http.StatusNotModified {
				t.Fatalf("conditional: %d", r.status)
			}
		})
		t.Run("PDFIsAnAttachment", func(t *testing.T) {
			var pdf restAttachment
			e.upload(c.ID, bob, "Facture été.pdf", "application/pdf", samplePDF).decode(t, http.StatusCreated, &pdf)
			r := e.request("GET", pdf.URL, alice, nil)
			if r.status != http.StatusOK || !bytes.Equal(r.body, samplePDF) || r.header.Get("Content-Type") != "application/pdf" ||
				r.header.Get("Content-Disposition") != `attachment; filename*=utf-8''Facture%20%C3%A9t%C3%A9.pdf` {
				t.Fatalf("pdf: %d %v", r.status, r.header)
			}
		})
		t.Run("TextKeepsCharset", func(t *testing.T) {
			var txt restAttachment
			e.upload(c.ID, bob, "notes.txt", "text/plain", sampleText).decode(t, http.StatusCreated, &txt)
			r := e.request("GET", txt.URL, alice, nil)
			if txt.ContentType != "text/plain; charset=utf-8" || r.header.Get("Content-Type") != txt.ContentType ||
				!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") || !bytes.Equal(r.body, sampleText) {
				t.Fatalf("text: %+v %v", txt, r.header)
			}
		})
		t.Run("DownloadByNonMember", func(t *testing.T) {
			e.request("GET", png.URL, mallory, nil).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		})
		t.Run("DownloadUnknown", func(t *testing.T) {
			e.request("GET", "/attachments/01ARZ3NDEKTSV4RRFFQ69G5FAV", alice, nil).wantError(t, http.StatusNotFound, "Attachment not found.", event.CodeNotFound)
		})
		t.Run("DownloadUnauthenticated", func(t *testing.T) {
			e.request("GET", png.URL, "", nil).wantError(t, http.StatusUnauthorized, "Authentication required", event.CodeUnauthorized)
		})
		t.Run("UploadByNonMember", func(t *testing.T) {
			e.upload(c.ID, mallory, "x.png", "image/png", samplePNG).wantError(t, http.StatusForbidden, "You are not a member of this chat.", event.CodeForbidden)
		})
		t.Run("UploadUnknownChat", func(t *testing.T) {
			e.upload("nope", alice, "x.png", "image/png", samplePNG).wantError(t, http.StatusNotFound, "Chat not found.", event.CodeNotFound)
		})
		t.Run("NotMultipart", func(t *testing.T) {
			e.request("POST", "/chats/"+c.ID+"/attachments", alice, samplePNG, "Content-Type: image/png").
				wantError(t, http.StatusUnsupportedMediaType, "Content-Type must be multipart/form-data.", "unsupported_media_type")
		})
		t.Run("NoFilePart", func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			_ = mw.WriteField("other", "x")
			_ = mw.Close()
			e.request("POST", "/chats/"+c.ID+"/attachments", alice, &buf, "Content-Type: "+mw.FormDataContentType()).
				wantError(t, http.StatusBadRequest, "file: Required", event.CodeInvalidPayload)
		})
		t.Run("EmptyFile", func(t *testing.T) {
			e.upload(c.ID, alice, "empty.txt", "text/plain", nil).wantError(t, http.StatusBadRequest, "file: File is empty.", event.CodeInvalidPayload)
		})
		t.Run("TruncatedBody", func(t *testing.T) {
			body, mct := multipartBody(t, "a.txt", "text/plain", sampleText)
			cut := body.Bytes()[:body.Len()-20]
			e.request("POST", "/chats/"+c.ID+"/attachments", alice, bytes.NewReader(cut), "Content-Type: "+mct).
				wantError(t, http.StatusBadRequest, "Malformed multipart body.", event.CodeInvalidPayload)
		})

		for _, tc := range []struct {
			name, declared string
			content        []byte
			msg            string // "" → accepted
			stored         string
		}{
			{"PNGUndeclared", "", samplePNG, "", "image/png"},
			{"PNGAsOctetStream", "application/octet-stream", samplePNG, "", "image/png"},
			{"JPEGAlias", "image/jpg", sampleJPEG, "", "image/jpeg"},
			{"HTMLAsText", "text/plain", sampleHTML, "The file is declared as text/plain but its content is text/html.", ""},
			{"HTMLAsPNG", "image/png", sampleHTML, "The file is declared as image/png but its content is text/html.", ""},
			{"HTMLUndeclared", "", sampleHTML, "Files of type text/html are not accepted.", ""},
			{"PNGAsPDF", "application/pdf", samplePNG, "The file is declared as application/pdf but its content is image/png.", ""},
			{"TextAsPNG", "image/png", sampleText, "The file is declared as image/png but its content is text/plain.", ""},
			{"ZIPNotAllowed", "application/zip", sampleZIP, "Files of type application/zip are not accepted.", ""},
			{"SVGNotAllowed", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`),
				"The file is declared as image/svg+xml but its content is text/plain.", ""},
			{"JSONNotAllowed", "application/json", []byte(`{"a":1}`), "Files of type application/json are not accepted.", ""},
			{"MalformedDeclared", "image/", samplePNG, "The file's Content-Type is malformed.", ""},
		} {
			t.Run("Type"+tc.name, func(t *testing.T) {
				r := e.upload(c.ID, alice, "f", tc.declared, tc.content)
				if tc.msg != "" {
					r.wantError(t, http.StatusUnsupportedMediaType, tc.msg, "unsupported_media_type")
					return
				}
				var a restAttachment
				r.decode(t, http.StatusCreated, &a)
				if a.ContentType != tc.stored {
					t.Fatalf("stored as %q, want %q", a.ContentType, tc.stored)
				}
			})
		}

		t.Run("ConfiguredTypes", func(t *testing.T) {
			e2 := newEnv(APIConfig{AllowedTypes: []string{"application/json", "image/png"}})
			var a restAttachment
			e2.upload(c.ID, e2.token("alice"), "d.json", "application/json", []byte(`{"a":1}`)).decode(t, http.StatusCreated, &a)
			if a.ContentType != "application/json" {
				t.Fatalf("json stored as %q", a.ContentType)
			}
			e2.upload(c.ID, e2.token("alice"), "n.txt", "text/plain", sampleText).
				wantError(t, http.StatusUnsupportedMediaType, "Files of type text/plain are not accepted.", "unsupported_media_type")
		})
	})
}

// genReader yields n bytes of lower-case text without allocating.
type genReader struct{ n int64 }

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	g.n -= int64(len(p))
	return len(p), nil
}

// onlyReader hides a reader's type, so the client streams it chunked.
type onlyReader struct{ io.Reader }

// streamedUpload returns a multipart body whose file part is n generated
// bytes, produced while it is sent.
func streamedUpload(n int64) (io.Reader, string) {
	const boundary = "sockgate-test-boundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n" +
		"Content-Type: text/plain\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	return onlyReader{io.MultiReader(strings.NewReader(head), &genReader{n}, strings.NewReader(tail))},
		"multipart/form-data; boundary=" + boundary
}

// filesOnDisk counts the regular files under dir.
func filesOnDisk(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestChatAPI_UploadTooLarge is issue 4's acceptance 4: an upload over the
// limit is refused with 413, leaves nothing in the blob store, and is never
// held in memory; on every dialect and blob store.
func TestChatAPI_UploadTooLarge(t *testing.T) {
	eachBlobBackend(t, testUploadTooLarge)
}

func testUploadTooLarge(t *testing.T, st *store.Store, newEnv func(APIConfig) *apiEnv) {
	e := newEnv(APIConfig{})
	c := mustChat(t, st, "alice")
	alice := e.token("alice")
	path := "/chats/" + c.ID + "/attachments"
	tooLarge := fmt.Sprintf("file: The file exceeds %d bytes.", defaultMaxUpload)

	t.Run("AtTheLimit", func(t *testing.T) {
		body, ctype := streamedUpload(defaultMaxUpload)
		var a restAttachment
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		start := time.Now()
		e.request("POST", path, alice, body, "Content-Type: "+ctype).decode(t, http.StatusCreated, &a)
		took := time.Since(start)
		runtime.ReadMemStats(&m1)
		if a.Size != defaultMaxUpload {
			t.Fatalf("size %d", a.Size)
		}
		t.Logf("10 MiB upload: %v (%.0f MiB/s), %d KiB allocated (client and server)",
			took.Round(time.Millisecond), 10/took.Seconds(), (m1.TotalAlloc-m0.TotalAlloc)>>10)
		r := e.request("GET", a.URL, alice, nil, "Range: bytes=0-25")
		if string(r.body) != "abcdefghijklmnopqrstuvwxyz" {
			t.Fatalf("stored content starts %q", r.body)
		}
	})
	before := e.storedBlobs(t)

	t.Run("Streamed", func(t *testing.T) {
		const size = 12 << 20
		body, ctype := streamedUpload(size)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		r := e.request("POST", path, alice, body, "Content-Type: "+ctype)
		runtime.ReadMemStats(&m1)
		r.wantError(t, http.StatusRequestEntityTooLarge, tooLarge, event.CodePayloadTooLarge)
		alloc := m1.TotalAlloc - m0.TotalAlloc
		t.Logf("12 MiB refused upload: %d KiB allocated (client and server), heap in use %d → %d KiB",
			alloc>>10, m0.HeapInuse>>10, m1.HeapInuse>>10)
		// TotalAlloc counts the whole process (the client, the database
		// driver, background goroutines): ~1.6 MiB on a loaded machine. A
		// buffered body would be at least the 12 MiB.
		if alloc > size/4 {
			t.Fatalf("allocated %d bytes for a %d-byte upload: the body is buffered", alloc, size)
		}
		if m1.HeapInuse > m0.HeapInuse+size/8 {
			t.Fatalf("heap in use grew from %d to %d", m0.HeapInuse, m1.HeapInuse)
		}
	})
	t.Run("DeclaredLength", func(t *testing.T) {
		body, ctype := streamedUpload(20 << 20)
		req, err := http.NewRequest("POST", e.url+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 20<<20 + 200 // announced: refused before reading
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		apiResp{status: res.StatusCode, header: res.Header, body: raw}.
			wantError(t, http.StatusRequestEntityTooLarge, tooLarge, event.CodePayloadTooLarge)
	})
	t.Run("BodyOverLimitFileUnder", func(t *testing.T) {
		// A small file followed by a huge extra field: the body cap trips.
		const boundary = "b0undary"
		head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"junk\"\r\n\r\n"
		mid := "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--" + boundary + "--\r\n"
		body := onlyReader{io.MultiReader(strings.NewReader(head), &genReader{defaultMaxUpload + multipartOverhead}, strings.NewReader(mid))}
		e.request("POST", path, alice, body, "Content-Type: multipart/form-data; boundary="+boundary).
			wantError(t, http.StatusRequestEntityTooLarge, tooLarge, event.CodePayloadTooLarge)
	})
	if after := e.storedBlobs(t); after != before {
		t.Fatalf("%d blobs stored after refused uploads, %d before", after, before)
	}

	t.Run("ConfiguredLimit", func(t *testing.T) {
		e2 := newEnv(APIConfig{MaxUpload: 1000})
		e2.upload(c.ID, e2.token("alice"), "a.txt", "text/plain", bytes.Repeat([]byte("x"), 1001)).
			wantError(t, http.StatusRequestEntityTooLarge, "file: The file exceeds 1000 bytes.", event.CodePayloadTooLarge)
		var a restAttachment
		e2.upload(c.ID, e2.token("alice"), "a.txt", "text/plain", bytes.Repeat([]byte("x"), 1000)).decode(t, http.StatusCreated, &a)
		if n := e2.storedBlobs(t) - before; n != 1 {
			t.Fatalf("new blobs stored: %d, want 1", n)
		}
	})
}

func TestCleanFileName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"photo.png", "photo.png"},
		{"  spaced.txt ", "spaced.txt"},
		{"a\x00b\nc.txt", "abc.txt"},
		{`dir\evil.txt`, "direvil.txt"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{"", "file"},
		{"..", "file"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	} {
		if got := cleanFileName(tc.in); got != tc.want {
			t.Errorf("cleanFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsAttachmentUpload(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		want           bool
	}{
		{"POST", "/chats/01ABC/attachments", true},
		{"POST", "/chats/a%2Fb/attachments", true},
		{"GET", "/chats/01ABC/attachments", false},
		{"POST", "/chats//attachments", false},
		{"POST", "/chats/01ABC/attachments/x", false},
		{"POST", "/chats/01ABC/members", false},
		{"POST", "/api/chats/01ABC/attachments", false},
		{"POST", "/chats/a/b/attachments", false},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if got := IsAttachmentUpload(r); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.target, got, tc.want)
		}
		// The route must serve exactly what is exempted.
		mux := http.NewServeMux()
		mux.HandleFunc("POST /chats/{id}/attachments", func(http.ResponseWriter, *http.Request) {})
		if _, pattern := mux.Handler(r); (pattern != "") != tc.want {
			t.Errorf("%s %s: route pattern %q, exempt %v", tc.method, tc.target, pattern, tc.want)
		}
	}
}

// TestChatAPI_UploadDiskFailure checks that a file store that cannot write
// is our failure (500, detail logged, not sent), not the client's.
func TestChatAPI_UploadDiskFailure(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, nil, nil, APIConfig{})
	c := mustChat(t, st, "alice")
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.api.blobs = store.Files{Dir: filepath.Join(notADir, "files")}
	e.upload(c.ID, e.token("alice"), "a.txt", "text/plain", sampleText).
		wantError(t, http.StatusInternalServerError, "Internal server error", event.CodeInternal)
}

// TestChatAPI_UploadUnderOuterCap checks the 413 message when a smaller
// body cap was put on the request before the chat API (a server-wide one):
// it names that cap, not the file limit.
func TestChatAPI_UploadUnderOuterCap(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnv(t, st, nil, nil, APIConfig{})
	mux := http.NewServeMux()
	e.api.Routes(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1000)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url, e.http = srv.URL, srv.Client()
	c := mustChat(t, st, "alice")
	e.upload(c.ID, e.token("alice"), "a.txt", "text/plain", bytes.Repeat([]byte("x"), 2000)).
		wantError(t, http.StatusRequestEntityTooLarge, "The request body exceeds 1000 bytes.", event.CodePayloadTooLarge)
}

// TestChatAPI_BlobStoreDown checks that a database blob store that cannot
// be reached answers 503 (a retry may succeed) to uploads and downloads,
// and that an attachment whose bytes are missing is our failure (500),
// not a missing chat.
func TestChatAPI_BlobStoreDown(t *testing.T) {
	st := storetest.Open(t, store.DialectSQLite)
	down := storetest.Open(t, store.DialectSQLite)
	e := newAPIEnvOn(t, st, store.Blobs{Store: st}, nil, nil, APIConfig{})
	c := mustChat(t, st, "alice")
	alice := e.token("alice")
	var a restAttachment
	e.upload(c.ID, alice, "a.txt", "text/plain", sampleText).decode(t, http.StatusCreated, &a)
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}
	e.api.blobs = store.Blobs{Store: down}
	const msg = "The chat store is unavailable; try again later."
	e.upload(c.ID, alice, "b.txt", "text/plain", sampleText).wantError(t, http.StatusServiceUnavailable, msg, event.CodeUnavailable)
	e.request("GET", a.URL, alice, nil).wantError(t, http.StatusServiceUnavailable, msg, event.CodeUnavailable)

	e.api.blobs = store.Blobs{Store: storetest.Open(t, store.DialectSQLite)} // an empty one
	e.request("GET", a.URL, alice, nil).wantError(t, http.StatusInternalServerError, "Internal server error", event.CodeInternal)
}
