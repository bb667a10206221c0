-- Developer API keys (issue 19). A key's token is `atl_<prefix>_<secret>`, shown once: only the
-- SHA-256 of the whole token is kept (tokens are 256-bit random, so a plain hash is enough and it
-- is looked up by equality), with the short prefix for people to tell keys apart.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    -- Comma-separated scope names (read, write, ai, generate, billing).
    scopes          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    last_used_ip    TEXT,
    revoked_at      BIGINT,
    -- Where finished jobs started with this key are announced (NULL: nowhere).
    webhook_url     TEXT,
    -- The storage key of the webhook signing secret: an object sealed with the keyring like every
    -- stored file, so key rotation re-wraps it and a database dump alone cannot forge webhooks.
    webhook_secret_key TEXT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

-- Every authenticated `/api/v1` call: never bodies or query strings.
CREATE TABLE api_calls (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_id      TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_calls_by_account ON api_calls (account_id, id);
CREATE INDEX api_calls_by_time ON api_calls (created_at);
