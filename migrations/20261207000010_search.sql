-- Search (issue 21): what the search index knows of each photo, made by the `index` job after an
-- upload or a change of its description, deleted with the photo. The full-text indexes over
-- `words` differ by database and are made at start-up (search::repo::create_full_text_index):
-- SQLite's FTS5 table kept equal by triggers, a GIN index of to_tsvector on Postgres.
CREATE TABLE photo_index (
    photo_id    TEXT PRIMARY KEY REFERENCES photos (id) ON DELETE CASCADE,
    owner_id    TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    -- The searchable words, lower case without accents: name, tags, alt-text, caption, text in
    -- the photo, camera, dominant colours, month and year.
    words       TEXT NOT NULL,
    -- The sentence embedding of the description and text in the photo (search::vector), NULL
    -- when there is nothing to embed.
    embedding   TEXT,
    faces       BIGINT NOT NULL DEFAULT 0,
    indexed_at  BIGINT NOT NULL
);
CREATE INDEX photo_index_by_owner ON photo_index (owner_id, indexed_at);
