-- Payments through the operator's payment provider (issue 19). Only what the seed policies
-- promise is kept: the provider's customer id and the card's brand and last four digits for
-- display, never a card number.

-- One row per account that has paid: its customer at the provider, the card shown, its plan.
CREATE TABLE billing_customers (
    account_id           TEXT PRIMARY KEY,
    customer_id          TEXT NOT NULL UNIQUE,
    card_brand           TEXT,
    card_last4           TEXT,
    -- A plan id from the settings, while a subscription exists.
    plan                 TEXT,
    subscription_id      TEXT,
    subscription_status  TEXT,
    period_end           BIGINT,
    updated_at           BIGINT NOT NULL
);

-- Each payment that granted credits (a pack's checkout or a plan's invoice), so a refund or a
-- dispute takes back what it granted. Kept for accounting with `account_id` cleared on erasure.
CREATE TABLE billing_payments (
    id                TEXT PRIMARY KEY,
    account_id        TEXT,
    kind              TEXT NOT NULL CHECK (kind IN ('pack', 'plan')),
    item              TEXT NOT NULL,
    credits           BIGINT NOT NULL,
    amount            BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    payment_intent    TEXT,
    refunded_credits  BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL
);
CREATE INDEX billing_payments_by_account ON billing_payments (account_id, created_at);
CREATE INDEX billing_payments_by_intent ON billing_payments (payment_intent);

-- Webhook events already applied, by the provider's event id: a redelivered event is answered
-- without being applied twice.
CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
