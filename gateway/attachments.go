package gateway

import (
	"fmt"

	"github.com/sockgate/sockgate/gateway/chats"
	"github.com/sockgate/sockgate/store"
)

// AttachmentStore is where attachment bytes live (Config.Attachments).
type AttachmentStore string

// Attachment stores.
const (
	// AttachmentsAuto (the default) is AttachmentsDB when the store is
	// PostgreSQL (production, usually several instances) and
	// AttachmentsDisk when it is SQLite (one instance).
	AttachmentsAuto AttachmentStore = "auto"
	// AttachmentsDB keeps the bytes in the store's database
	// (store.Blobs): every instance on that database serves every upload.
	AttachmentsDB AttachmentStore = "db"
	// AttachmentsDisk keeps them in Config.Files, a directory of this
	// instance: an upload is served only by the instance that took it,
	// unless the directory is shared.
	AttachmentsDisk AttachmentStore = "disk"
)

// ParseAttachmentStore parses "auto", "db" or "disk" ("" means auto).
func ParseAttachmentStore(s string) (AttachmentStore, error) {
	switch m := AttachmentStore(s); m {
	case "":
		return AttachmentsAuto, nil
	case AttachmentsAuto, AttachmentsDB, AttachmentsDisk:
		return m, nil
	}
	return "", fmt.Errorf("gateway: attachment store must be auto, db or disk, not %q", s)
}

// resolve is the store m means on st's database: db or disk, never auto.
func (m AttachmentStore) resolve(st *store.Store) AttachmentStore {
	if m == AttachmentsAuto || m == "" {
		if st.Dialect() == store.DialectPostgres {
			return AttachmentsDB
		}
		return AttachmentsDisk
	}
	return m
}

// blobs is the blob store of the chat API's attachments on st.
func (s *Server) blobs(st *store.Store) chats.Blobs {
	if s.cfg.Attachments.resolve(st) == AttachmentsDB {
		s.log.Info("attachments stored in the database", "dialect", st.Dialect())
		return store.Blobs{Store: st}
	}
	s.log.Info("attachments stored on this instance's disk", "dir", s.cfg.Files.Dir)
	return s.cfg.Files
}
