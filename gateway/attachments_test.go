package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/sockgate/sockgate/auth"
	"github.com/sockgate/sockgate/store"
	"github.com/sockgate/sockgate/store/storetest"
)

// attachmentInstance starts an instance with stored chats on its own
// Store (as a separate process would have) over dsn, with an empty
// attachment directory of its own, and returns its URL.
func attachmentInstance(t *testing.T, dsn string, mode AttachmentStore) string {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: chatTestSecret})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenConfig(t, store.Config{DSN: dsn})
	s, err := New(st, v, nil, Config{Attachments: mode, Files: store.Files{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, s)
}

// uploadTo posts content as a text file to chat chatID through url.
func uploadTo(t *testing.T, url, chatID, token string, content []byte) (id string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", url+"/chats/"+chatID+"/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var att struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&att); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload through %s: %d %v", url, res.StatusCode, err)
	}
	return att.ID
}

// download GETs attachment id through url, with a Range header unless rng
// is empty, and returns the status and body.
func download(t *testing.T, url, id, token, rng string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/attachments/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if rng != "" {
		req.Header.Set("Range", rng)
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
	return res.StatusCode, b
}

// TestAttachments_CrossInstance is issue 8's "an attachment uploaded on A
// downloads on B": two instances on one PostgreSQL database, each with an
// empty directory of its own. With the default (auto: the database on
// PostgreSQL) B serves A's upload, whole and by ranges; with attachments
// on disk it cannot, which is what the default avoids.
func TestAttachments_CrossInstance(t *testing.T) {
	content := make([]byte, 700<<10) // three chunks of 256 KiB, the last one partial
	for i := range content {
		content[i] = 'a' + byte(i%26)
	}
	copy(content[262140:], "chunk-boundary")
	alice, bob := mintToken(t, "alice", time.Hour), mintToken(t, "bob", time.Hour)
	for _, tc := range []struct {
		mode AttachmentStore
		want int // status of the download through B
	}{
		{"", http.StatusOK},
		{AttachmentsDisk, http.StatusInternalServerError},
	} {
		t.Run(fmt.Sprintf("mode=%q", tc.mode), func(t *testing.T) {
			dsn := storetest.DSN(t, store.DialectPostgres)
			a, b := attachmentInstance(t, dsn, tc.mode), attachmentInstance(t, dsn, tc.mode)
			c, err := storetest.OpenConfig(t, store.Config{DSN: dsn}).CreateChat(t.Context(),
				store.NewChat{Kind: store.KindGeneral, CreatorID: "alice", MemberIDs: []string{"bob"}})
			if err != nil {
				t.Fatal(err)
			}
			id := uploadTo(t, a, c.ID, alice, content)
			if st, got := download(t, a, id, bob, ""); st != http.StatusOK || !bytes.Equal(got, content) {
				t.Fatalf("download through A: %d, %d bytes", st, len(got))
			}
			st, got := download(t, b, id, bob, "")
			if st != tc.want {
				t.Fatalf("download through B: %d, want %d", st, tc.want)
			}
			if st != http.StatusOK {
				return
			}
			if !bytes.Equal(got, content) {
				t.Fatalf("download through B: %d bytes differ from the %d uploaded", len(got), len(content))
			}
			st, got = download(t, b, id, alice, "bytes=262140-262153")
			if st != http.StatusPartialContent || string(got) != "chunk-boundary" {
				t.Fatalf("range through B: %d %q", st, got)
			}
			st, got = download(t, b, id, alice, "bytes=-5")
			if st != http.StatusPartialContent || !bytes.Equal(got, content[len(content)-5:]) {
				t.Fatalf("suffix range through B: %d %q", st, got)
			}
		})
	}
}
