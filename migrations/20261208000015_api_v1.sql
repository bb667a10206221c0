-- The REST API `/api/v1` (issue 19): idempotency keys and the jobs an API key started.

-- A POST that creates something, remembered by (key, Idempotency-Key) for 24 hours: the same key
-- and request again get the stored answer without doing it twice; the same key with another
-- request is refused. `status` and `body` stay NULL while the first request is still running.
CREATE TABLE api_idempotency (
    key_id          TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of method, path and body (hex): what "the same request" means.
    fingerprint     TEXT NOT NULL,
    status          BIGINT,
    body            TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX api_idempotency_by_time ON api_idempotency (created_at);

-- Which key started a job (an AI job, a batch or a generation), so its completion webhook goes
-- to that key's URL once the job has finished, failed or been cancelled.
CREATE TABLE api_jobs (
    kind            TEXT NOT NULL CHECK (kind IN ('job', 'batch', 'generation')),
    target_id       TEXT NOT NULL,
    key_id          TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    owner_id        TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    -- Delivery attempts so far, and when the webhook was answered with 2xx (or given up: see
    -- `outcome`).
    attempts        BIGINT NOT NULL DEFAULT 0,
    notified_at     BIGINT,
    outcome         TEXT,
    PRIMARY KEY (kind, target_id)
);
CREATE INDEX api_jobs_by_time ON api_jobs (created_at);
CREATE INDEX api_jobs_by_owner ON api_jobs (owner_id);
