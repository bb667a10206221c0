-- AI tools (issue 6): the durable job queue, moderation state and descriptions of photos.

-- One row per tool run. Workers claim a 'queued' row whose run_after has come (or a 'running' one
-- whose lease ran out: its worker died) and hold it by renewing lease_until while they work.
-- photo_id has no foreign key: a job outlives neither its 24 hours nor its owner, and its files
-- are queued for purging by whoever deletes the row.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    photo_id          TEXT NOT NULL,
    tool              TEXT NOT NULL,
    params            TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    progress          BIGINT NOT NULL,
    attempts          BIGINT NOT NULL,
    max_attempts      BIGINT NOT NULL,
    run_after         BIGINT NOT NULL,
    locked_by         TEXT,
    lease_until       BIGINT,
    cancel_requested  BIGINT NOT NULL,
    provider          TEXT,
    detail            TEXT,
    error             TEXT,
    mask_key          TEXT,
    result_key        TEXT,
    result_thumbnail_key TEXT,
    result_content_type  TEXT,
    result_width      BIGINT,
    result_height     BIGINT,
    saved_photo_id    TEXT,
    created_at        BIGINT NOT NULL,
    finished_at       BIGINT
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
CREATE INDEX jobs_by_owner ON jobs (owner_id, created_at);

-- Moderation: 'unchecked' (no model installed), 'clear', or 'held' for an administrator.
ALTER TABLE photos ADD COLUMN moderation TEXT NOT NULL DEFAULT 'unchecked';
ALTER TABLE photos ADD COLUMN nsfw_score BIGINT;
-- Tags (JSON array) and alt-text the person accepted or wrote; camera facts (JSON) from EXIF,
-- read before the metadata is stripped, location never kept.
ALTER TABLE photos ADD COLUMN tags TEXT;
ALTER TABLE photos ADD COLUMN alt_text TEXT;
ALTER TABLE photos ADD COLUMN camera TEXT;
