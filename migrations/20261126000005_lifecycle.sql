-- Privacy lifecycle (issue 7): the audit log, usage metering and "Download my data" jobs.

-- Append-only. `account_id` is whose data or account it concerns; `actor_id` who acted (an
-- administrator viewing someone's workspace; otherwise the same account or NULL).
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    account_id  TEXT,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_log_by_account ON audit_log (account_id, created_at);

-- What ran, how long and on what size: never pixels or prompts. `owner_id` is NULL once the
-- account is erased (billing totals are kept, anonymised).
CREATE TABLE usage_records (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT,
    tool           TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    input_width    BIGINT NOT NULL,
    input_height   BIGINT NOT NULL,
    output_width   BIGINT NOT NULL,
    output_height  BIGINT NOT NULL,
    credits        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX usage_records_by_owner ON usage_records (owner_id, created_at);

-- Background export jobs. A job left 'running' by a stopped server is started again.
CREATE TABLE export_jobs (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    owner_id     TEXT NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    progress     BIGINT NOT NULL,
    object_key   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX export_jobs_by_account ON export_jobs (account_id, created_at);
