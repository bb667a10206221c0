-- Accounts (issue 4). An account owns exactly one owner row: its workspace. The guest workspace a
-- visitor filled before signing up becomes the account's, so nothing uploaded is lost. (owners.kind
-- stays 'guest' for every row: SQLite cannot alter the CHECK in place, and whether an owner belongs
-- to an account is answered by accounts.owner_id.)
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL UNIQUE REFERENCES owners (id),
    -- Lower-cased. NULL for accounts made through a provider that shared no address.
    email           TEXT UNIQUE,
    email_verified  BIGINT NOT NULL DEFAULT 0,
    -- Argon2id PHC string; NULL for provider-only accounts.
    password_hash   TEXT,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at      BIGINT NOT NULL
);

-- Sign-in through a provider: users are keyed by (issuer, subject), never by e-mail alone.
CREATE TABLE identities (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_by_account ON identities (account_id);

-- Failed password sign-ins, for rate limiting (by lower-cased e-mail, whether or not it exists).
CREATE TABLE login_failures (
    login_key   TEXT NOT NULL,
    failed_at   BIGINT NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (login_key, failed_at);

-- E-mail verification and password-reset links: only a hash of the token is kept.
CREATE TABLE email_tokens (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at  BIGINT NOT NULL
);

-- Which account a session is signed in to, so "sign out everywhere" and the session list are one
-- indexed query.
ALTER TABLE sessions ADD COLUMN account_id TEXT;
CREATE INDEX sessions_by_account ON sessions (account_id);
