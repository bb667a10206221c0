-- Cookie consent (issue 5): every choice and withdrawal, as evidence of consent (GDPR Art. 7(1)).
CREATE TABLE consent_records (
    id              TEXT PRIMARY KEY,
    -- Pseudonymous: the random id in the visitor's consent cookie.
    consent_id      TEXT NOT NULL,
    account_id      TEXT,
    action          TEXT NOT NULL CHECK (action IN ('accept_all', 'reject_all', 'save', 'withdraw')),
    preferences     BIGINT NOT NULL,
    analytics       BIGINT NOT NULL,
    marketing       BIGINT NOT NULL,
    gpc             BIGINT NOT NULL,
    policy_version  BIGINT NOT NULL,
    banner_version  BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX consent_records_by_consent ON consent_records (consent_id, created_at);
CREATE INDEX consent_records_by_account ON consent_records (account_id, created_at);

-- Atelier's own page statistics, recorded only with analytics consent: the page, the day and a
-- hash of the random visitor cookie. No IP address, no user agent, no account.
CREATE TABLE page_views (
    day         TEXT NOT NULL,
    path        TEXT NOT NULL,
    visitor     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX page_views_by_day ON page_views (day, path);
