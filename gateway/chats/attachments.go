package chats

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/gateway/event"
	"github.com/sockgate/sockgate/store"
)

// Attachments over REST (SPEC §6): uploaded as multipart/form-data (field
// "file") by a member of a non-archived chat, their bytes kept in a Blobs
// (store.Files on the local disk, or store.Blobs in the database for a
// cluster: see the package doc), downloaded by members only.
//
// Memory: the body is read part by part with multipart.Reader (never
// ParseMultipartForm, which would spill to temp files of its own and buffer
// fields) and the file part is streamed to the blob store by Blobs.Put;
// only the first 512 bytes are held at once for sniffing, and the blob
// store holds at most one chunk (store.Blobs: 256 KiB). The body is capped by
// http.MaxBytesReader at MaxUpload plus multipartOverhead, and the file
// itself at MaxUpload; past either, the reply is 413 payload_too_large and
// Put has removed what it wrote. A Content-Length already over the cap
// is refused before any byte is read.
//
// Content types (the decision SPEC §6 leaves to us). The content is sniffed
// with http.DetectContentType on its first 512 bytes, and the declared type
// (the part's Content-Type; absent or application/octet-stream counts as
// undeclared) must agree with it:
//   - undeclared: the sniffed type is used;
//   - declared and sniffed equal (image/jpg and image/pjpeg read as
//     image/jpeg): that type;
//   - sniffing found nothing specific (text/plain or
//     application/octet-stream) and the declared type is not one sniffing
//     recognises by signature (images, audio, video, PDF, archives, fonts,
//     HTML, XML): the declared type, so a configured application/json or
//     text/csv can be uploaded;
//   - anything else is a dangerous disagreement and refused with 415: an
//     HTML page declared as text/plain or image/png (stored XSS), a PNG
//     declared as a PDF, a "PNG" with no PNG signature.
//
// The resulting type must be in the allow-list (415 otherwise). The stored
// type is served back with X-Content-Type-Options: nosniff, a sandboxing
// Content-Security-Policy, and Content-Disposition: attachment for anything
// but raster images, so that no upload ever runs as a page of our origin.
//
// An upload refused after its bytes reached the blob store (the chat
// archived between the membership check and CreateAttachment) leaves an
// unreferenced blob: blobs are content-addressed and shared, so one cannot
// be removed safely without a reference count; that race is rare and costs
// only space.

// Blobs is where attachment bytes live, by content address (SHA-256 in
// lower-case hex): store.Files (a local directory, one instance) or
// store.Blobs (the database, every instance of a cluster).
type Blobs interface {
	// Put streams r into the store without holding it in memory and
	// returns its SHA-256 and size; identical contents share one blob.
	// More than maxBytes fails with store.ErrTooLarge; on any failure
	// nothing is left behind.
	Put(ctx context.Context, r io.Reader, maxBytes int64) (sum string, size int64, err error)
	// Open returns a reader of the blob sum (store.ErrNotFound if there
	// is none) that seeks, for ranges; it may use ctx until closed.
	Open(ctx context.Context, sum string) (io.ReadSeekCloser, error)
}

var (
	_ Blobs = store.Files{}
	_ Blobs = store.Blobs{}
)

// defaultMaxUpload is the attachment size limit when APIConfig.MaxUpload
// is zero.
const defaultMaxUpload = 10 << 20

// multipartOverhead is the body allowance beyond the file itself:
// boundaries, part headers and small extra fields.
const multipartOverhead = 64 << 10

// defaultAllowedTypes is the attachment allow-list when
// APIConfig.AllowedTypes is nil.
var defaultAllowedTypes = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
}

// maxFileNameLen caps a stored file name, in bytes.
const maxFileNameLen = 255

var (
	errAttachmentNotFound = &event.Error{Code: event.CodeNotFound, Message: "Attachment not found."}
	errNotMultipart       = &event.Error{Code: event.CodeUnsupportedMedia, Message: "Content-Type must be multipart/form-data."}
	errNoFile             = &event.Error{Code: event.CodeInvalidPayload, Message: "file: Required"}
	errEmptyFile          = &event.Error{Code: event.CodeInvalidPayload, Message: "file: File is empty."}
	errBadMultipart       = &event.Error{Code: event.CodeInvalidPayload, Message: "Malformed multipart body."}
)

// restAttachment is an attachment as the REST API and messages show it.
type restAttachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	URL         string `json:"url"`
}

func restAttachmentOf(a store.Attachment) restAttachment {
	return restAttachment{
		ID: a.ID, Name: a.Name, Size: a.Size, ContentType: a.ContentType, URL: "/attachments/" + a.ID,
	}
}

func (a *API) errTooLarge() error {
	return &event.Error{Code: event.CodePayloadTooLarge, Message: fmt.Sprintf("file: The file exceeds %d bytes.", a.maxUpload)}
}

func (a *API) uploadAttachment(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	ch, _, err := a.memberOf(ctx, r.PathValue("id"), me.ID)
	if err != nil {
		return err
	}
	if ch.Archived {
		return errChatArchived
	}
	limit := a.maxUpload + multipartOverhead
	if r.ContentLength > limit {
		return a.errTooLarge()
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return errNotMultipart
	}
	body := &bodyRecorder{r: http.MaxBytesReader(w, r.Body, limit)}
	r.Body = struct {
		io.Reader
		io.Closer
	}{body, r.Body}
	mr, err := r.MultipartReader()
	if err != nil {
		return errBadMultipart
	}
	part, err := filePart(mr)
	if err != nil {
		return a.bodyError(body, err, true)
	}
	defer part.Close()

	name := cleanFileName(part.FileName())
	br := bufio.NewReaderSize(part, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return a.bodyError(body, err, true)
	}
	if len(head) == 0 {
		return errEmptyFile
	}
	ctype, err := a.attachmentType(part.Header.Get("Content-Type"), head)
	if err != nil {
		return err
	}
	sum, size, err := a.blobs.Put(ctx, br, a.maxUpload)
	if err != nil {
		return a.bodyError(body, err, false)
	}
	att, err := a.st.CreateAttachment(ctx, store.Attachment{
		ChatID: ch.ID, UploaderID: me.ID, Name: name, Size: size, ContentType: ctype, SHA256: sum,
	})
	switch {
	case errors.Is(err, store.ErrArchived): // archived since the check above
		return errChatArchived
	case errors.Is(err, store.ErrForbidden): // removed since the check above
		return errNotChatMember
	case err != nil:
		return err
	}
	event.WriteJSON(w, http.StatusCreated, restAttachmentOf(att))
	return nil
}

// IsAttachmentUpload reports whether r is POST /chats/{id}/attachments,
// whose body the chat API caps itself (MaxUpload plus multipartOverhead).
// The gateway's general body cap (Config.MaxBodyBytes, 1 MiB) must not wrap
// such a request, or no upload over it could succeed. It matches the
// escaped path as ServeMux does, so it exempts exactly what the route serves.
func IsAttachmentUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/chats/")
	if !ok {
		return false
	}
	id, tail, ok := strings.Cut(rest, "/")
	return ok && id != "" && tail == "attachments"
}

// filePart returns the body's "file" part, skipping (and draining) others.
func filePart(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errNoFile
		}
		if err != nil {
			return nil, err
		}
		if p.FormName() == "file" {
			return p, nil
		}
		p.Close()
	}
}

// bodyRecorder remembers the first error reading the request body, so
// that a failed upload is blamed on the client (a body over the cap, a
// broken or truncated body) or on us (the disk).
type bodyRecorder struct {
	r   io.Reader
	err error
}

func (b *bodyRecorder) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// bodyError classifies a failed upload: over a limit is 413; a body that
// could not be read or parsed (parsing: the error came from the multipart
// reader, whose errors are all about the client's bytes) is 400; our own
// refusals pass through, and anything else (the disk) is ours.
func (a *API) bodyError(body *bodyRecorder, err error, parsing bool) error {
	var (
		mbe *http.MaxBytesError
		ge  *event.Error
	)
	switch {
	case errors.As(err, &ge):
		return err
	case errors.As(body.err, &mbe) && mbe.Limit != a.maxUpload+multipartOverhead:
		// A smaller cap put on the body before us (a server-wide one):
		// say which limit it was, not the file limit.
		return mbe
	case errors.Is(err, store.ErrTooLarge), errors.As(body.err, &mbe):
		return a.errTooLarge()
	case body.err != nil, parsing, errors.Is(err, io.ErrUnexpectedEOF):
		return errBadMultipart
	}
	return err
}

// attachmentType decides an upload's stored content type from its declared
// type and its first bytes (see the file comment), or refuses it with 415.
func (a *API) attachmentType(declared string, head []byte) (string, error) {
	sniffed, sparams, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		sniffed, sparams = "application/octet-stream", nil
	}
	var dt string
	if declared != "" {
		m, _, err := mime.ParseMediaType(declared)
		if err != nil {
			return "", &event.Error{Code: event.CodeUnsupportedMedia, Message: "The file's Content-Type is malformed."}
		}
		dt = canonicalType(m)
		if dt == "application/octet-stream" {
			dt = ""
		}
	}
	generic := sniffed == "text/plain" || sniffed == "application/octet-stream"
	eff := sniffed
	switch {
	case dt == "" || dt == sniffed:
	case generic && !hasSignature(dt):
		eff, sparams = dt, nil
	default:
		return "", &event.Error{Code: event.CodeUnsupportedMedia, Message: fmt.Sprintf("The file is declared as %s but its content is %s.", dt, sniffed)}
	}
	if !a.allowed[eff] {
		return "", &event.Error{Code: event.CodeUnsupportedMedia, Message: fmt.Sprintf("Files of type %s are not accepted.", eff)}
	}
	if len(sparams) > 0 {
		return mime.FormatMediaType(eff, sparams), nil
	}
	return eff, nil
}

// canonicalType folds common aliases into the names DetectContentType uses.
func canonicalType(t string) string {
	switch t {
	case "image/jpg", "image/pjpeg":
		return "image/jpeg"
	case "image/x-png":
		return "image/png"
	}
	return t
}

// hasSignature reports whether t is a type DetectContentType recognises by
// its bytes: content declared so but not sniffed so is not what it claims.
func hasSignature(t string) bool {
	major, _, _ := strings.Cut(t, "/")
	switch major {
	case "image", "audio", "video", "font":
		return true
	}
	switch t {
	case "application/pdf", "application/postscript", "application/zip", "application/x-gzip",
		"application/gzip", "application/x-rar-compressed", "application/wasm", "application/ogg",
		"application/vnd.ms-fontobject", "text/html", "text/xml", "application/xml":
		return true
	}
	return false
}

// cleanFileName makes a client's file name safe to store and to send back in
// Content-Disposition: base name only, valid UTF-8, no control characters,
// at most maxFileNameLen bytes; "file" when nothing is left.
func cleanFileName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > maxFileNameLen {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "" || s == "." || s == ".." {
		return "file"
	}
	return s
}

// getAttachment serves an attachment to members of its chat, with ranges
// and conditional requests (http.ServeContent; the ETag is the content's
// SHA-256, which never changes). A blob store failing mid-body (the
// database going away) can only cut the response short: the status is
// sent already.
func (a *API) getAttachment(w http.ResponseWriter, r *http.Request, me auth.Identity) error {
	ctx := r.Context()
	att, err := a.st.AttachmentByID(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errAttachmentNotFound
	} else if err != nil {
		return err
	}
	ok, err := a.st.IsMember(ctx, att.ChatID, me.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errNotChatMember
	}
	f, err := a.blobs.Open(ctx, att.SHA256)
	if errors.Is(err, store.ErrNotFound) {
		// Metadata without bytes: the blob store lost a blob. Ours (500,
		// logged), not a missing chat, so the sentinel is not kept.
		return fmt.Errorf("chats: attachment %s: bytes missing: %v", att.ID, err)
	} else if err != nil {
		return fmt.Errorf("chats: attachment %s: %w", att.ID, err) // a store down: 503
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", att.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+att.SHA256+`"`)
	disp := "attachment"
	if mt, _, _ := mime.ParseMediaType(att.ContentType); strings.HasPrefix(mt, "image/") && mt != "image/svg+xml" {
		disp = "inline"
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": att.Name}); v != "" {
		disp = v
	}
	h.Set("Content-Disposition", disp)
	serveBounded(w, func(w http.ResponseWriter) { http.ServeContent(w, r, "", att.CreatedAt, f) })
	return nil
}

// DownloadWriteTimeout bounds each write of an attachment download (a
// 32 KB chunk, as http.ServeContent copies): a client that stops reading
// for that long has its connection closed, instead of pinning the
// handler's goroutine, its connection and an open blob until it hangs up.
// A variable for tests.
var DownloadWriteTimeout = 10 * time.Second

// serveBounded runs serve with a ResponseWriter that gives each write its
// own deadline (DownloadWriteTimeout from now), then clears the
// connection's write deadline: without a server-wide WriteTimeout,
// net/http does not reset it for the connection's next request.
func serveBounded(w http.ResponseWriter, serve func(w http.ResponseWriter)) {
	rc := http.NewResponseController(w)
	if rc.SetWriteDeadline(time.Now().Add(DownloadWriteTimeout)) != nil {
		serve(w) // no deadlines on this ResponseWriter
		return
	}
	serve(&deadlineWriter{ResponseWriter: w, rc: rc})
	rc.Flush()
	rc.SetWriteDeadline(time.Time{})
}

// deadlineWriter moves the write deadline before each write.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.rc.SetWriteDeadline(time.Now().Add(DownloadWriteTimeout))
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
