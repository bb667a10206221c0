-- Credits (issue 19): an append-only ledger per workspace, never a balance column. The balance
-- is the sum of `credits` (see server/src/billing/ledger.rs for the arithmetic). No foreign key
-- to `owners` or `jobs`: a job row lives a day and the entries outlive it; erasure anonymises
-- (`owner_id`, `created_by`, `note` and `job_id` cleared) so the totals stay for accounting.
CREATE TABLE credit_ledger (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('grant', 'purchase', 'allowance', 'subscription', 'refund',
                                              'reserve', 'capture', 'release')),
    credits     BIGINT NOT NULL,
    job_id      TEXT,
    -- What makes a credit idempotent: an allowance's month, a payment event or session, an
    -- admin form's token. NULL for a job's entries (a job may be reserved again after a retry).
    reference   TEXT,
    note        TEXT NOT NULL DEFAULT '',
    -- The administrator who granted, for grants.
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (owner_id, kind, reference)
);
CREATE INDEX credit_ledger_by_owner ON credit_ledger (owner_id, created_at);
CREATE INDEX credit_ledger_by_job ON credit_ledger (job_id);
