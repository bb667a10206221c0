-- Batch pipelines (issue 17): saved pipelines, batches, and the queue's link from a job to its
-- batch.

-- A person's own pipelines: an ordered list of steps (JSON), erased and exported with them.
CREATE TABLE pipelines (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    steps       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX pipelines_by_owner ON pipelines (owner_id, created_at);

-- One pipeline run over many photos. Its items are jobs (one per photo) carrying the pipeline
-- in their params; its state is theirs, counted. `paused` holds queued items back (their
-- run_after moves far ahead until it is lifted).
CREATE TABLE batches (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    pipeline         TEXT NOT NULL,
    save_to_gallery  BIGINT NOT NULL,
    preview          BIGINT NOT NULL,
    paused           BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX batches_by_owner ON batches (owner_id, created_at);

ALTER TABLE jobs ADD COLUMN batch_id TEXT;
-- The step a batch item is on (or failed at), for its progress row.
ALTER TABLE jobs ADD COLUMN step TEXT;
-- The gallery version a batch item saved (its id is the job's, so a retried item replaces it).
ALTER TABLE jobs ADD COLUMN version_id TEXT;
CREATE INDEX jobs_by_batch ON jobs (batch_id, created_at);

-- The pipeline (JSON: name and steps) that made a version, when one did.
ALTER TABLE versions ADD COLUMN pipeline TEXT;
