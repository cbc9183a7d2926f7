-- Initial schema. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Times are BIGINT microseconds since the Unix epoch (UTC): exact on both
-- dialects and sortable without time-zone or text-format surprises.

CREATE TABLE users (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL DEFAULT '',
	username   TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE chats (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL CHECK (kind IN ('general', 'order')),
	order_id        TEXT NOT NULL DEFAULT '',
	title           TEXT NOT NULL DEFAULT '',
	creator_id      TEXT NOT NULL REFERENCES users (id),
	archived        BOOLEAN NOT NULL DEFAULT FALSE,
	archived_at     BIGINT,
	last_seq        BIGINT NOT NULL DEFAULT 0,
	last_message_id TEXT NOT NULL DEFAULT '',
	activity_at     BIGINT NOT NULL,
	created_at      BIGINT NOT NULL
);
CREATE INDEX chats_order_id ON chats (order_id);

CREATE TABLE memberships (
	chat_id   TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users (id),
	role      TEXT NOT NULL CHECK (role IN ('owner', 'member')),
	joined_at BIGINT NOT NULL,
	PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE messages (
	id            TEXT PRIMARY KEY,
	chat_id       TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	seq           BIGINT NOT NULL,
	sender_id     TEXT NOT NULL REFERENCES users (id),
	content       TEXT NOT NULL,
	client_msg_id TEXT,
	created_at    BIGINT NOT NULL,
	UNIQUE (chat_id, seq)
);
CREATE INDEX messages_chat_id_id ON messages (chat_id, id);
CREATE UNIQUE INDEX messages_sender_client_msg_id ON messages (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

CREATE TABLE attachments (
	id           TEXT PRIMARY KEY,
	chat_id      TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	uploader_id  TEXT NOT NULL REFERENCES users (id),
	message_id   TEXT REFERENCES messages (id) ON DELETE SET NULL,
	name         TEXT NOT NULL,
	size         BIGINT NOT NULL,
	content_type TEXT NOT NULL,
	sha256       TEXT NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE INDEX attachments_message_id ON attachments (message_id);
CREATE INDEX attachments_chat_id ON attachments (chat_id);

CREATE TABLE read_marks (
	chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id),
	message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	seq        BIGINT NOT NULL,
	read_at    BIGINT NOT NULL,
	PRIMARY KEY (chat_id, user_id)
);
