-- One schema for SQLite and Postgres: portable types only (TEXT ids, BIGINT unix seconds).

-- Everyone who can own photos. Until accounts exist every owner is a browser session's guest.
CREATE TABLE owners (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('guest')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE photos (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    width          BIGINT NOT NULL,
    height         BIGINT NOT NULL,
    byte_size      BIGINT NOT NULL,
    object_key     TEXT NOT NULL,
    thumbnail_key  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX photos_by_owner ON photos (owner_id, created_at);

-- Saved edits: the recipe and the image the server replayed it into.
CREATE TABLE versions (
    id             TEXT PRIMARY KEY,
    photo_id       TEXT NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    owner_id       TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    recipe         TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    width          BIGINT NOT NULL,
    height         BIGINT NOT NULL,
    byte_size      BIGINT NOT NULL,
    object_key     TEXT NOT NULL,
    thumbnail_key  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX versions_by_owner ON versions (owner_id, created_at);
CREATE INDEX versions_by_photo ON versions (photo_id);

-- tower-sessions records.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
