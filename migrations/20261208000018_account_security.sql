-- The account page (issue 19): e-mail change, new-device notices, two-factor sign-in (TOTP and
-- recovery codes) and opt-in mailings.

-- Marketing and product-announcement mail: strictly opt-in, so NULL (off) by default; when on,
-- the time the person opted in (what a consent record needs to show).
ALTER TABLE accounts ADD COLUMN marketing_opt_in_at BIGINT;
ALTER TABLE accounts ADD COLUMN announcements_opt_in_at BIGINT;

-- A change of address waiting for its link: the address changes only when the link sent to the
-- new one is opened. Only a hash of the token is kept, as for `email_tokens`.
CREATE TABLE email_changes (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    new_email   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX email_changes_by_account ON email_changes (account_id);

-- Browsers an account has signed in from, so a sign-in from a new one is mailed about. Only a
-- hash keyed by the account (see `accounts::devices`), never the user agent or an address.
CREATE TABLE known_devices (
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_hash    TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_hash)
);

-- Two-factor sign-in: the TOTP secret sealed with the keyring (it must be read back to check a
-- code, so it cannot be hashed); `enabled_at` NULL while enrolment waits for its confirming code;
-- `last_step` is the newest time step accepted, so no code works twice.
CREATE TABLE two_factor (
    account_id     TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_sealed  TEXT NOT NULL,
    enabled_at     BIGINT,
    last_step      BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

-- Recovery codes, shown once: SHA-256 of each (50 random bits each), deleted when used.
CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);
