-- Attachment bytes in the database (store.Blobs), readable by every
-- instance. A blob is a row of blobs plus its chunks in order; sha256 is
-- NULL while the blob is being written (a pending upload), then set once,
-- unique: identical contents share one blob.

CREATE TABLE blobs (
	id         TEXT PRIMARY KEY,
	sha256     TEXT UNIQUE,
	size       BIGINT NOT NULL DEFAULT 0,
	chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),
	created_at BIGINT NOT NULL
);
CREATE INDEX blobs_pending ON blobs (created_at) WHERE sha256 IS NULL;

CREATE TABLE blob_chunks (
	blob_id TEXT NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
	idx     INTEGER NOT NULL,
	data    BLOB NOT NULL,
	PRIMARY KEY (blob_id, idx)
);
