-- Security (issue 15): the sessions table keeps the SHA-256 of each session id, never the id the
-- cookie carries, so a leaked table or backup signs nobody in. Ids stored the old way cannot be
-- hashed in SQL on both databases; those sessions end once (everyone signs in again).
DELETE FROM sessions;

-- Quotas count every stored byte: an AI result's size is kept with its job.
ALTER TABLE jobs ADD COLUMN result_bytes BIGINT NOT NULL DEFAULT 0;
