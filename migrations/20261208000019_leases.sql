-- Several processes on one database (issue 20): a named lease is held by one process at a time
-- until `until_ms`, renewed while its holder lives; once it has lapsed (the holder was killed)
-- another process takes it. The periodic sweeps, export builds and webhook watches run under one
-- each, and every AI worker process keeps one (`worker:<holder>`) that says what it can run.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    -- `<host>:<pid>:<random>` of the holding process: no person.
    holder      TEXT NOT NULL,
    until_ms    BIGINT NOT NULL,
    -- What the holder is (a worker's capability, 'gpu' or 'cpu'); NULL for the others.
    detail      TEXT,
    -- When the present holder took it (Unix milliseconds).
    taken_at    BIGINT NOT NULL,
    -- How many times holders did the lease's work (a sweep, a build), for operators and tests.
    runs        BIGINT NOT NULL DEFAULT 0
);

-- The worker that last claimed a job (`<pid>-<n>-<random>`, as `locked_by`, which is cleared when
-- the job ends): which process ran what, for operators and the scale-out test.
ALTER TABLE jobs ADD COLUMN ran_by TEXT;
