-- Retention (issue 7): stored objects whose rows are gone wait here until storage confirms their
-- deletion. Rows are deleted and their keys queued in one transaction, so a crash in between
-- loses track of nothing and the next sweep finishes the job.
CREATE TABLE purge_queue (
    object_key  TEXT PRIMARY KEY,
    queued_at   BIGINT NOT NULL
);
