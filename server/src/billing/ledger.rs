//! The credit ledger's SQL: an append-only list of entries per workspace (`credit_ledger`).
//!
//! # The arithmetic
//!
//! The balance — what a workspace may spend — is **the sum of `credits` over its entries**,
//! nothing else; there is no balance column to drift from it.
//!
//! | kind                                   | credits | when                                      |
//! |----------------------------------------|---------|-------------------------------------------|
//! | grant, purchase, allowance, subscription | `+n`  | credits arrive (idempotent by reference)  |
//! | refund                                 | `-n`    | a payment is taken back                   |
//! | reserve                                | `-c`    | a job of cost `c` is queued               |
//! | capture                                | `0`     | the job succeeded: the `-c` stays, spent  |
//! | release                                | `+c`    | the job failed, was cancelled or expired  |
//!
//! Each reservation is settled at most once, by exactly one capture or one release, written in
//! the same transaction as the job's move to its end state (which only one writer can make). So
//! a job's entries sum to `-c` while it is held or once it is spent, and to `0` once it is
//! released; a batch item tried again is reserved again and settled again. What is *held* is the
//! sum of reservations not yet followed by a settlement. A reservation is written only when the
//! balance covers it, under the workspace's write lock, so enforcement never lets the balance go
//! below zero (a refund can; then nothing new runs until credits arrive).

use app::billing::{EntryKind, LedgerEntry};
use app::ids::{AccountId, JobId, OwnerId};
use sqlx::Row;
use uuid::Uuid;

use crate::platform::db::{now, Db};

/// How a reservation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The job succeeded: the reserved credits are spent.
    Capture,
    /// The job failed, was cancelled, or expired unrun: the reserved credits come back.
    Release,
}

/// The signed credits an entry of `kind` carries for an amount of `amount` credits: what comes in
/// is positive, what goes out negative, a capture nothing (its reservation already went out).
pub fn signed(kind: EntryKind, amount: i64) -> i64 {
    let amount = amount.saturating_abs();
    match kind {
        EntryKind::Grant | EntryKind::Purchase | EntryKind::Allowance | EntryKind::Subscription => amount,
        EntryKind::Release => amount,
        EntryKind::Refund | EntryKind::Reserve => -amount,
        EntryKind::Capture => 0,
    }
}

/// One credit to write: `credits` is the amount, its sign follows `kind` (see [`signed`]).
pub struct Credit<'a> {
    pub owner: OwnerId,
    pub kind: EntryKind,
    pub credits: i64,
    pub reference: &'a str,
    pub note: &'a str,
    pub created_by: Option<AccountId>,
}

/// The sum of an owner's entries, as an integer on both databases (Postgres sums BIGINT into
/// NUMERIC).
pub(crate) const BALANCE: &str =
    "SELECT CAST(COALESCE(SUM(credits), 0) AS BIGINT) AS balance FROM credit_ledger WHERE owner_id = $1";

/// The settlement of a job's newest reservation, written only while it has more reservations
/// than settlements (so twice is once). `{kind}` and `{credits}` are constants (never input).
macro_rules! settle_sql {
    ($kind:literal, $credits:literal) => {
        concat!(
            "INSERT INTO credit_ledger (id, owner_id, kind, credits, job_id, reference, note, created_by, created_at)
             SELECT $1, owner_id, '",
            $kind,
            "', ",
            $credits,
            ", job_id, NULL, $3, NULL, $4
             FROM credit_ledger
             WHERE job_id = $2 AND kind = 'reserve'
               AND (SELECT COUNT(*) FROM credit_ledger WHERE job_id = $2 AND kind = 'reserve')
                 > (SELECT COUNT(*) FROM credit_ledger WHERE job_id = $2 AND kind IN ('capture', 'release'))
             ORDER BY id DESC LIMIT 1"
        )
    };
}
const CAPTURE: &str = settle_sql!("capture", "0");
const RELEASE: &str = settle_sql!("release", "-credits");

/// Writes a reservation of `credits` for `job` inside the caller's transaction (the caller has
/// already checked the balance under the owner's lock).
pub async fn reserve(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    job: &str,
    credits: i64,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credit_ledger (id, owner_id, kind, credits, job_id, reference, note, created_by, created_at)
         VALUES ($1, $2, 'reserve', $3, $4, NULL, $5, NULL, $6)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(owner)
    .bind(signed(EntryKind::Reserve, credits))
    .bind(job)
    .bind(note)
    .bind(now())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Settles `job`'s open reservation, if it has one, inside the transaction that moves the job to
/// its end state. A job that reserved nothing (billing off, a free tool) writes nothing.
pub async fn settle(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &str,
    settlement: Settlement,
) -> Result<(), sqlx::Error> {
    let (sql, note) = match settlement {
        Settlement::Capture => (CAPTURE, "The job succeeded."),
        Settlement::Release => (RELEASE, "The job did not finish; its credits came back."),
    };
    sqlx::query(sql)
        .bind(Uuid::now_v7().to_string())
        .bind(job)
        .bind(note)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// The balance inside a transaction (after the owner's lock).
pub async fn balance_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(BALANCE).bind(owner).fetch_one(&mut **tx).await?.try_get("balance")
}

/// Account erasure: the owner's entries stay for the books with nothing that leads back to a
/// person (workspace, granting administrator, note, job).
pub async fn anonymise(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE credit_ledger SET owner_id = NULL, note = '', job_id = NULL, created_by = NULL WHERE owner_id = $1",
    )
    .bind(owner)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// "2026-12": the allowance's reference for the month of `unix`.
pub fn month_of(unix: i64) -> String {
    let (year, month, _) = app::ui::format::date_of(unix);
    format!("{year:04}-{month:02}")
}

fn entry(row: &sqlx::any::AnyRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown ledger kind {kind}").into()))?,
        credits: row.try_get("credits")?,
        note: row.try_get("note")?,
        job_id: row.try_get("job_id")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Credits free to spend: the sum of every entry.
    pub async fn credit_balance(&self, owner: OwnerId) -> Result<i64, sqlx::Error> {
        sqlx::query(BALANCE).bind(owner.to_string()).fetch_one(self.pool()).await?.try_get("balance")
    }

    /// Credits held by reservations no settlement followed yet.
    pub async fn credits_held(&self, owner: OwnerId) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "SELECT CAST(COALESCE(SUM(-r.credits), 0) AS BIGINT) AS held FROM credit_ledger r
             WHERE r.owner_id = $1 AND r.kind = 'reserve' AND NOT EXISTS (
                 SELECT 1 FROM credit_ledger s
                 WHERE s.job_id = r.job_id AND s.kind IN ('capture', 'release') AND s.id > r.id)",
        )
        .bind(owner.to_string())
        .fetch_one(self.pool())
        .await?
        .try_get("held")
    }

    /// Writes a credit unless one of the same kind and reference exists for this owner: true
    /// when it was new. This is what makes allowances, webhooks and grant forms idempotent.
    pub async fn add_credit(&self, credit: &Credit<'_>) -> Result<bool, sqlx::Error> {
        let written = sqlx::query(
            "INSERT INTO credit_ledger (id, owner_id, kind, credits, job_id, reference, note, created_by, created_at)
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8)
             ON CONFLICT (owner_id, kind, reference) DO NOTHING",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(credit.owner.to_string())
        .bind(credit.kind.name())
        .bind(signed(credit.kind, credit.credits))
        .bind(credit.reference)
        .bind(credit.note)
        .bind(credit.created_by.map(|a| a.to_string()))
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(written.rows_affected() == 1)
    }

    /// Whether the owner has an entry of `kind` with `reference`.
    pub async fn has_credit(&self, owner: OwnerId, kind: EntryKind, reference: &str) -> Result<bool, sqlx::Error> {
        let row =
            sqlx::query("SELECT 1 AS one FROM credit_ledger WHERE owner_id = $1 AND kind = $2 AND reference = $3")
                .bind(owner.to_string())
                .bind(kind.name())
                .bind(reference)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// The newest `limit` entries, newest first.
    pub async fn ledger_entries(&self, owner: OwnerId, limit: i64) -> Result<Vec<LedgerEntry>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM credit_ledger WHERE owner_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(owner.to_string())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry).collect()
    }

    /// Every entry, oldest first, as "Download my data" lists them.
    pub async fn ledger_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM credit_ledger WHERE owner_id = $1 ORDER BY id")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(serde_json::json!({
                    "kind": row.try_get::<String, _>("kind")?,
                    "credits": row.try_get::<i64, _>("credits")?,
                    "job_id": row.try_get::<Option<String>, _>("job_id")?,
                    "reference": row.try_get::<Option<String>, _>("reference")?,
                    "note": row.try_get::<String, _>("note")?,
                    "created_at": row.try_get::<i64, _>("created_at")?,
                }))
            })
            .collect()
    }

    /// Whether `owner` is an account's workspace (rather than a guest's).
    pub async fn is_account_owner(&self, owner: OwnerId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE owner_id = $1")
            .bind(owner.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// A job's entries, oldest first (tests and support).
    pub async fn job_ledger(&self, job: JobId) -> Result<Vec<LedgerEntry>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM credit_ledger WHERE job_id = $1 ORDER BY id")
            .bind(job.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_reference_is_the_utc_month() {
        // 2026-12-31T23:59:59Z and a second later.
        assert_eq!(month_of(1_798_761_599), "2026-12");
        assert_eq!(month_of(1_798_761_600), "2027-01");
    }

    /// The ledger in memory, following the rules the SQL keeps: a reservation only when the
    /// balance covers it, one settlement per reservation.
    #[derive(Default)]
    struct Model {
        entries: Vec<(EntryKind, i64, Option<u32>)>,
    }

    impl Model {
        fn balance(&self) -> i64 {
            self.entries.iter().map(|(_, credits, _)| credits).sum()
        }
        fn held(&self) -> i64 {
            let open = |job: u32| {
                let reserves = self.entries.iter().filter(|e| e.0 == EntryKind::Reserve && e.2 == Some(job)).count();
                let settled = self
                    .entries
                    .iter()
                    .filter(|e| matches!(e.0, EntryKind::Capture | EntryKind::Release) && e.2 == Some(job))
                    .count();
                reserves > settled
            };
            self.entries.iter().filter(|e| e.0 == EntryKind::Reserve && e.2.is_some_and(open)).map(|e| -e.1).sum()
        }
        fn add(&mut self, kind: EntryKind, amount: i64, job: Option<u32>) {
            self.entries.push((kind, signed(kind, amount), job));
        }
        fn reserve(&mut self, job: u32, cost: i64) -> bool {
            let covered = self.balance() >= cost;
            if covered {
                self.add(EntryKind::Reserve, cost, Some(job));
            }
            covered
        }
        fn settle(&mut self, job: u32, settlement: Settlement) {
            let cost = self.entries.iter().rev().find(|e| e.0 == EntryKind::Reserve && e.2 == Some(job)).map(|e| -e.1);
            let kind = match settlement {
                Settlement::Capture => EntryKind::Capture,
                Settlement::Release => EntryKind::Release,
            };
            if let Some(cost) = cost {
                self.add(kind, cost, Some(job));
            }
        }
    }

    #[test]
    fn kinds_carry_their_sign_whatever_sign_the_amount_has() {
        assert_eq!(signed(EntryKind::Grant, 5), 5);
        assert_eq!(signed(EntryKind::Purchase, -5), 5);
        assert_eq!(signed(EntryKind::Refund, 5), -5);
        assert_eq!(signed(EntryKind::Reserve, 4), -4);
        assert_eq!(signed(EntryKind::Release, 4), 4);
        assert_eq!(signed(EntryKind::Capture, 4), 0);
    }

    #[test]
    fn reserve_capture_and_release_keep_the_balance_exact() {
        let mut ledger = Model::default();
        ledger.add(EntryKind::Allowance, 10, None);
        assert!(ledger.reserve(1, 4));
        assert!(ledger.reserve(2, 4));
        assert_eq!((ledger.balance(), ledger.held()), (2, 8));
        // Not covered: nothing is written.
        assert!(!ledger.reserve(3, 4));
        ledger.settle(1, Settlement::Capture);
        assert_eq!((ledger.balance(), ledger.held()), (2, 4));
        ledger.settle(2, Settlement::Release);
        assert_eq!((ledger.balance(), ledger.held()), (6, 0));
        // A retried job reserves and settles again; the totals stay exact.
        assert!(ledger.reserve(2, 4));
        ledger.settle(2, Settlement::Capture);
        assert_eq!((ledger.balance(), ledger.held()), (2, 0));
        // Spent = granted - balance - held.
        assert_eq!(10 - ledger.balance() - ledger.held(), 8);
    }

    #[test]
    fn the_settlement_statements_capture_nothing_and_return_the_reservation() {
        assert!(CAPTURE.contains("'capture', 0,"));
        assert!(RELEASE.contains("'release', -credits,"));
    }
}
