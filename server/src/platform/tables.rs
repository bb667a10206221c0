//! Every table and column, with what happens to it when its person asks for erasure or for their
//! data, and how long it is kept. A table not listed here, or a column a migration added that its
//! entry does not name, fails `tests/integration/tables.rs`, which reads the live schema of both
//! databases: a new table cannot land without a privacy policy. The privacy page and the README's
//! retention table say the same in words.

/// What "Delete my account" does to a table's rows of that person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erase {
    /// Deleted, with the files they point at (`data::erasure`).
    Delete,
    /// Kept with the link to the person removed, for the reason given.
    Anonymise(&'static str),
    /// Holds nothing that leads back to a person, for the reason given.
    NotPersonal(&'static str),
}

/// Whether "Download my data" carries a table's rows of that person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// In the archive's `manifest.json` under this key.
    Included(&'static str),
    /// Left out, for the reason given.
    Excluded(&'static str),
}

/// One table's policy.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub erase: Erase,
    pub export: Export,
    /// How long a row lives, and what removes it.
    pub retain: &'static str,
}

pub const TABLES: &[Table] = &[
    Table {
        name: "owners",
        columns: &["id", "kind", "created_at"],
        erase: Erase::Delete,
        export: Export::Excluded("an internal id; everything the workspace holds is exported"),
        retain: "a guest workspace left empty is removed by the retention sweep; an account's lives with it",
    },
    Table {
        name: "photos",
        columns: &[
            "id",
            "owner_id",
            "name",
            "content_type",
            "width",
            "height",
            "byte_size",
            "object_key",
            "thumbnail_key",
            "created_at",
            "moderation",
            "nsfw_score",
            "tags",
            "alt_text",
            "camera",
            "generation_id",
            "seed",
            // Near-duplicates: the perceptual hash, sharpness, exposure and capture time.
            "phash",
            "sharpness",
            "exposure",
            "taken_at",
            // Text in photos: what OCR read (NULL until read, '' for none).
            "ocr_text",
            // People: when its faces were looked for (NULL again when People is switched off).
            "faces_scanned_at",
        ],
        erase: Erase::Delete,
        export: Export::Included("photos"),
        retain:
            "an upload with no saved version: `unsaved_retention_hours` after upload; else until its last version goes",
    },
    // Search: each photo's words and the embedding of its description say what it shows.
    Table {
        name: "photo_index",
        columns: &["photo_id", "owner_id", "words", "embedding", "faces", "indexed_at"],
        erase: Erase::Delete,
        export: Export::Included("search_index"),
        retain: "with its photo: deleting the photo (by the person or the retention sweep) deletes its entry",
    },
    Table {
        name: "versions",
        columns: &[
            "id",
            "photo_id",
            "owner_id",
            "recipe",
            "content_type",
            "width",
            "height",
            "byte_size",
            "object_key",
            "thumbnail_key",
            "created_at",
            "pipeline",
        ],
        erase: Erase::Delete,
        export: Export::Included("gallery"),
        retain: "`saved_retention_days` after it was saved (the gallery warns before)",
    },
    Table {
        name: "sessions",
        columns: &["id", "data", "expires_at", "account_id"],
        erase: Erase::Delete,
        export: Export::Included("sessions"),
        retain: "until `session_idle_days` without use, `session_absolute_days` after sign-in, or sign-out",
    },
    Table {
        name: "accounts",
        columns: &[
            "id",
            "owner_id",
            "email",
            "email_verified",
            "password_hash",
            "display_name",
            "role",
            "created_at",
            // People: when it was switched on (NULL: off); exported as people.enabled_at.
            "people_enabled_at",
            // Opt-in mailings: when the person opted in (NULL: off); exported as account.security.mailings.
            "marketing_opt_in_at",
            "announcements_opt_in_at",
        ],
        erase: Erase::Delete,
        export: Export::Included("account"),
        retain: "until the person deletes it",
    },
    Table {
        name: "identities",
        columns: &["issuer", "subject", "account_id", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("account.identities"),
        retain: "with the account",
    },
    Table {
        name: "login_failures",
        columns: &["login_key", "failed_at"],
        erase: Erase::Delete,
        export: Export::Excluded("a short-lived security counter, not the person's data"),
        retain: "the rate-limit window, then deleted at the next sign-in attempt",
    },
    Table {
        name: "email_tokens",
        columns: &["token_hash", "account_id", "purpose", "expires_at"],
        erase: Erase::Delete,
        export: Export::Excluded("one-use secrets, kept only as hashes"),
        retain: "until used or expired",
    },
    Table {
        name: "email_changes",
        columns: &["token_hash", "account_id", "new_email", "expires_at"],
        erase: Erase::Delete,
        export: Export::Included("account.security.email_change"),
        retain: "until its link is used, a newer change replaces it, or the account goes (the link works 24 hours)",
    },
    Table {
        name: "known_devices",
        columns: &["account_id", "device_hash", "first_seen_at", "last_seen_at"],
        erase: Erase::Delete,
        export: Export::Included("account.security.known_devices"),
        retain: "with the account: a keyed hash of each browser signed in from, for new-device notices",
    },
    Table {
        name: "two_factor",
        columns: &["account_id", "secret_sealed", "enabled_at", "last_step", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("account.security.two_factor"),
        retain: "until two-factor sign-in is turned off (the sealed secret is never exported)",
    },
    Table {
        name: "recovery_codes",
        columns: &["account_id", "code_hash", "created_at"],
        erase: Erase::Delete,
        export: Export::Excluded("one-use secrets, kept only as hashes; the export counts those left"),
        retain: "until used, replaced, or two-factor sign-in is turned off",
    },
    Table {
        name: "consent_records",
        columns: &[
            "id",
            "consent_id",
            "account_id",
            "action",
            "preferences",
            "analytics",
            "marketing",
            "gpc",
            "policy_version",
            "banner_version",
            "created_at",
        ],
        erase: Erase::Delete,
        export: Export::Included("consent_records"),
        retain: "as proof of consent while the account lives; a guest's under a random id only",
    },
    Table {
        name: "page_views",
        columns: &["day", "path", "visitor", "created_at"],
        erase: Erase::NotPersonal(
            "counted with analytics consent only, under a truncated hash no cookie can be matched to",
        ),
        export: Export::Excluded("cannot be matched to anyone"),
        retain: "aggregate statistics, kept",
    },
    Table {
        name: "purge_queue",
        columns: &["object_key", "queued_at"],
        erase: Erase::Delete,
        export: Export::Excluded("the keys of files being deleted"),
        retain: "until the file is gone, minutes (erasure empties it before it answers)",
    },
    Table {
        name: "audit_log",
        columns: &["id", "account_id", "actor_id", "action", "detail", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("audit_log"),
        retain: "with the account; an erasure leaves one entry that names nobody",
    },
    Table {
        name: "usage_records",
        columns: &[
            "id",
            "owner_id",
            "tool",
            "duration_ms",
            "input_width",
            "input_height",
            "output_width",
            "output_height",
            "credits",
            "created_at",
        ],
        erase: Erase::Anonymise("the owner is cleared; sizes and durations stay for capacity planning"),
        export: Export::Included("usage"),
        retain: "kept, anonymous once the workspace is gone",
    },
    // Payments (Stripe): what the seed policies promise and no more.
    Table {
        name: "billing_customers",
        columns: &[
            "account_id",
            "customer_id",
            "card_brand",
            "card_last4",
            "plan",
            "subscription_id",
            "subscription_status",
            "period_end",
            "updated_at",
        ],
        erase: Erase::Delete,
        export: Export::Included("payments.customers"),
        retain: "while the account lives: the customer id at the payment service and the card's brand and last four digits",
    },
    Table {
        name: "billing_payments",
        columns: &[
            "id",
            "account_id",
            "kind",
            "item",
            "credits",
            "amount",
            "currency",
            "payment_intent",
            "refunded_credits",
            "created_at",
        ],
        erase: Erase::Anonymise(
            "the account is cleared; what was bought, when and for how much stay, as accounting and tax law ask of a seller",
        ),
        export: Export::Included("payments.payments"),
        retain: "kept for accounting, anonymous once the account is gone",
    },
    Table {
        name: "payment_events",
        columns: &["id", "kind", "received_at"],
        erase: Erase::NotPersonal("the payment service's event ids and types, which name nobody"),
        export: Export::Excluded("ids that only make a redelivered event count once"),
        retain: "kept, so an event the payment service delivers again is never applied twice",
    },
    Table {
        name: "export_jobs",
        columns: &["id", "account_id", "owner_id", "state", "progress", "object_key", "created_at", "finished_at"],
        erase: Erase::Delete,
        export: Export::Excluded("the archives themselves"),
        retain: "the archive `export_retention_hours` after it is ready",
    },
    Table {
        name: "jobs",
        columns: &[
            "id",
            "owner_id",
            "photo_id",
            "tool",
            "params",
            "state",
            "progress",
            "attempts",
            "max_attempts",
            "run_after",
            "locked_by",
            // Which worker process last claimed it (not a person).
            "ran_by",
            "lease_until",
            "cancel_requested",
            "provider",
            "detail",
            "error",
            "mask_key",
            "result_key",
            "result_thumbnail_key",
            "result_content_type",
            "result_width",
            "result_height",
            "result_bytes",
            "saved_photo_id",
            "created_at",
            "finished_at",
            "batch_id",
            "step",
            "version_id",
        ],
        erase: Erase::Delete,
        export: Export::Included("ai_jobs"),
        retain: "`unsaved_retention_hours` after it was queued, with its result and mask",
    },
    Table {
        name: "pipelines",
        columns: &["id", "owner_id", "name", "steps", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("pipelines"),
        retain: "until the person deletes it, or with the workspace",
    },
    Table {
        name: "batches",
        columns: &["id", "owner_id", "name", "pipeline", "save_to_gallery", "preview", "paused", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("batches"),
        retain: "`unsaved_retention_hours` after it started, with its items (results saved to the gallery stay there)",
    },
    Table {
        name: "generations",
        columns: &["id", "owner_id", "request", "search", "provider", "model", "seed", "width", "height", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("generations"),
        retain: "until the person deletes it from the history, at most `saved_retention_days` after the run; its images not saved go like any unsaved upload",
    },
    Table {
        name: "prompt_templates",
        columns: &["id", "owner_id", "name", "prompt", "negative_prompt", "style", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("prompt_templates"),
        retain: "until the person deletes it, or with the workspace",
    },
    Table {
        name: "people_consents",
        columns: &["id", "account_id", "action", "text_version", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("people.consents"),
        retain: "as proof of consent to People while the account lives",
    },
    Table {
        name: "people",
        columns: &["id", "owner_id", "name", "centroid", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("people.people"),
        retain: "while People is on: switching it off deletes every person at once; one left without faces goes when the People page is next opened",
    },
    Table {
        name: "faces",
        columns: &[
            "id",
            "owner_id",
            "photo_id",
            "person_id",
            "box_x",
            "box_y",
            "box_w",
            "box_h",
            "embedding",
            "created_at",
        ],
        erase: Erase::Delete,
        export: Export::Included("people.faces"),
        retain: "while People is on and its photo exists: switching People off deletes every face at once, deleting the photo deletes its faces",
    },
    Table {
        name: "api_keys",
        columns: &[
            "id",
            "account_id",
            "name",
            "prefix",
            "secret_hash",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_used_ip",
            "revoked_at",
            "webhook_url",
            "webhook_secret_key",
        ],
        erase: Erase::Delete,
        export: Export::Included("api_keys"),
        retain: "with the account (revoked keys too, so the call log can name them); the webhook secret goes at revocation",
    },
    Table {
        name: "api_calls",
        columns: &["id", "account_id", "key_id", "method", "path", "status", "duration_ms", "created_at"],
        erase: Erase::Delete,
        export: Export::Included("api_calls"),
        retain: "`api_log_retention_days` (default 90) after the call, then deleted by the retention sweep",
    },
    Table {
        name: "api_idempotency",
        columns: &["key_id", "idempotency_key", "fingerprint", "status", "body", "created_at"],
        erase: Erase::Delete,
        export: Export::Excluded(
            "answers kept a day only to replay a repeated request; what they describe (photos, versions, jobs) is exported itself",
        ),
        retain: "24 hours, then deleted by the retention sweep (and with its key)",
    },
    Table {
        name: "api_jobs",
        columns: &["kind", "target_id", "key_id", "owner_id", "created_at", "attempts", "notified_at", "outcome"],
        erase: Erase::Delete,
        export: Export::Included("api_jobs"),
        retain: "as long as an unsaved upload (`unsaved_retention_hours`), like the jobs it names; then the retention sweep",
    },
    Table {
        name: "credit_ledger",
        columns: &["id", "owner_id", "kind", "credits", "job_id", "reference", "note", "created_by", "created_at"],
        erase: Erase::Anonymise(
            "money records are kept for accounting: the workspace, the granting administrator, the note and the job are cleared; kind, credits, the payment reference and the time stay",
        ),
        export: Export::Included("credits"),
        retain: "kept (the balance is their sum), anonymous once the workspace is gone",
    },
    Table {
        name: "leases",
        columns: &["name", "holder", "until_ms", "detail", "taken_at", "runs"],
        erase: Erase::NotPersonal(
            "operational: which process holds which periodic task, export build or webhook watch; names hold ids of exports and jobs, never a person's data",
        ),
        export: Export::Excluded("operational state of the server processes, not the person's data"),
        retain: "while held; a lapsed lease is deleted by the sweeper a day after it lapsed",
    },
];

/// Tables a database makes for an index of a listed table, kept equal to it by the database (so
/// erased, exported and expired with it): SQLite's full-text table over `photo_index.words` and
/// FTS5's own tables behind it (`photo_words_data`, …). Postgres keeps a GIN index instead.
pub const DERIVED: &[(&str, &str)] = &[("photo_words", "photo_index")];

/// Whether `name` is a derived table or one of its database's internal tables.
pub fn is_derived(name: &str) -> bool {
    DERIVED
        .iter()
        .any(|(derived, _)| name == *derived || name.strip_prefix(derived).is_some_and(|rest| rest.starts_with('_')))
}

/// sqlx's own record of applied migrations: not Atelier's data.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// The policy of `name`, if it has one.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|table| table.name == name)
}
