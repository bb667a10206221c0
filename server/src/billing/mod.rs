//! Credits: the ledger (`ledger`), what each tool costs (`CreditPolicy`), enforcement when a job
//! is queued (`charge`), monthly allowances and administrators' grants (`CreditStore`).

pub mod ledger;
pub mod payments;
pub mod routes;
pub mod stripe;

use std::collections::BTreeMap;

use app::billing::{credits_label, BillingMode, BillingService, CreditAccount, CreditGrant, CreditPrices, EntryKind};
use app::error::AppError;
use app::ids::{AccountId, Admin, OwnerId};
use async_trait::async_trait;

use crate::ai_tools::queue::{Enqueued, NewJob};
use crate::ai_tools::AiStore;
use crate::config::BillingSettings;
use crate::data::audit::Event;
use crate::platform::db::{now, Db};

pub use ledger::{Credit, Settlement};

/// How the operator bills, from `[billing]`: the mode, each tool's price and the allowances.
#[derive(Clone, Debug, Default)]
pub struct CreditPolicy {
    pub mode: BillingMode,
    /// Credits per tool name (`generate` is per image); an unlisted tool costs one.
    pub costs: BTreeMap<String, i64>,
    pub monthly_allowance: i64,
    pub guest_allowance: i64,
}

impl CreditPolicy {
    pub fn from_settings(settings: &BillingSettings) -> Self {
        Self {
            mode: settings.mode,
            costs: settings
                .costs
                .iter()
                .map(|(tool, credits)| (tool.clone(), i64::try_from(*credits).unwrap_or(i64::MAX)))
                .collect(),
            monthly_allowance: i64::try_from(settings.monthly_allowance).unwrap_or(i64::MAX),
            guest_allowance: i64::try_from(settings.guest_allowance).unwrap_or(i64::MAX),
        }
    }

    /// The price of one run of `tool`, whatever the mode.
    pub fn cost(&self, tool: &str) -> i64 {
        self.costs.get(tool).copied().unwrap_or(1).max(0)
    }

    /// What a job of this price reserves: nothing while billing is off.
    pub fn charge(&self, price: i64) -> i64 {
        if self.mode.enforced() {
            price.max(0)
        } else {
            0
        }
    }

    pub fn prices(&self) -> CreditPrices {
        let mut costs = self.costs.clone();
        for kind in app::ai_tools::ToolKind::ALL {
            costs.entry(kind.name().to_string()).or_insert(1);
        }
        CreditPrices { mode: self.mode, costs }
    }
}

/// The 402 a job gets when the balance does not cover it.
pub fn insufficient(needed: i64, balance: i64) -> AppError {
    AppError::PaymentRequired(format!(
        "This needs {}; you have {}. Credits held by a job come back if it fails or is cancelled; \
         your balance and its history are on your account page.",
        credits_label(needed),
        balance.max(0)
    ))
}

/// Grants the workspace's allowance for this month unless it was already granted (the month is
/// the entry's reference, so concurrent callers grant it once). Nothing while billing is off.
pub async fn grant_allowance(db: &Db, policy: &CreditPolicy, owner: OwnerId) -> Result<(), AppError> {
    if !policy.mode.enforced() {
        return Ok(());
    }
    let month = ledger::month_of(now());
    // Read first: most calls find this month's allowance there, and a read takes no write lock.
    if db.has_credit(owner, EntryKind::Allowance, &month).await? {
        return Ok(());
    }
    let amount = if db.is_account_owner(owner).await? { policy.monthly_allowance } else { policy.guest_allowance };
    if amount > 0 {
        let note = format!("Free allowance for {month}");
        db.add_credit(&Credit {
            owner,
            kind: EntryKind::Allowance,
            credits: amount,
            reference: &month,
            note: &note,
            created_by: None,
        })
        .await?;
    }
    Ok(())
}

/// Queues `job`, reserving `price` credits with it when billing is on (after the month's
/// allowance was granted, when due). `Ok(false)`: the workspace has as many jobs as it may;
/// `PaymentRequired` when its balance does not cover the price.
pub async fn enqueue(ai: &AiStore, job: &NewJob<'_>, price: i64) -> Result<bool, AppError> {
    let policy = &ai.settings.credits;
    let credits = policy.charge(price);
    if credits > 0 {
        grant_allowance(&ai.db, policy, job.owner).await?;
    }
    match ai.db.enqueue_charged_job(job, ai.settings.max_active_per_owner, credits).await? {
        Enqueued::Queued => Ok(true),
        Enqueued::Full => Ok(false),
        Enqueued::Short { balance } => Err(insufficient(credits, balance)),
    }
}

/// The service behind the credits pages and the admin grant, and the entry point for payments.
#[derive(Clone)]
pub struct CreditStore {
    pub db: Db,
    pub policy: CreditPolicy,
}

impl CreditStore {
    /// Credits `owner`'s workspace unless this `kind` with this `reference` was already written
    /// for it: true when new. Payment webhooks call this with the provider's event or session id,
    /// so a redelivered event credits once. `credits` is the amount; the kind gives the sign
    /// (a refund takes away).
    pub async fn credit(
        &self,
        owner: OwnerId,
        kind: EntryKind,
        credits: i64,
        reference: &str,
        note: &str,
    ) -> Result<bool, AppError> {
        if matches!(kind, EntryKind::Reserve | EntryKind::Capture | EntryKind::Release) {
            tracing::error!(%kind, "a job's entry was asked for outside the job queue");
            return Err(AppError::Internal);
        }
        if reference.trim().is_empty() {
            tracing::error!(%kind, "a credit without a reference would not be idempotent");
            return Err(AppError::Internal);
        }
        Ok(self.db.add_credit(&Credit { owner, kind, credits, reference, note, created_by: None }).await?)
    }

    /// The balance after the month's allowance was granted, when due.
    pub async fn balance(&self, owner: OwnerId) -> Result<i64, AppError> {
        grant_allowance(&self.db, &self.policy, owner).await?;
        Ok(self.db.credit_balance(owner).await?)
    }
}

#[async_trait]
impl BillingService for CreditStore {
    async fn prices(&self) -> Result<CreditPrices, AppError> {
        Ok(self.policy.prices())
    }

    async fn credit_account(&self, owner: OwnerId) -> Result<CreditAccount, AppError> {
        let balance = self.balance(owner).await?;
        let monthly_allowance = if !self.policy.mode.enforced() {
            0
        } else if self.db.is_account_owner(owner).await? {
            self.policy.monthly_allowance
        } else {
            self.policy.guest_allowance
        };
        Ok(CreditAccount {
            mode: self.policy.mode,
            balance,
            held: self.db.credits_held(owner).await?,
            monthly_allowance,
            entries: self.db.ledger_entries(owner, 100).await?,
        })
    }

    async fn grant_credits(&self, admin: Admin, grant: CreditGrant) -> Result<bool, AppError> {
        if !(1..=1_000_000).contains(&grant.credits) {
            return Err(AppError::BadRequest("Grant between 1 and 1,000,000 credits.".into()));
        }
        let reference = grant.reference.trim();
        if reference.is_empty() || reference.len() > 100 {
            return Err(AppError::BadRequest("This form has expired; reload the page and try again.".into()));
        }
        let note: String = grant.note.trim().chars().filter(|c| !c.is_control()).take(200).collect();
        let account = self.db.account_by_id(grant.account).await?.ok_or(AppError::NotFound)?;
        let granted = self
            .db
            .add_credit(&Credit {
                owner: account.owner,
                kind: EntryKind::Grant,
                credits: grant.credits,
                reference,
                note: if note.is_empty() { "Granted by an administrator" } else { &note },
                created_by: Some(admin.account()),
            })
            .await?;
        if granted {
            let detail = format!("An administrator granted {}.", credits_label(grant.credits));
            audit(&self.db, account.id, admin, &detail).await?;
        }
        Ok(granted)
    }
}

async fn audit(db: &Db, account: AccountId, admin: Admin, detail: &str) -> Result<(), AppError> {
    Ok(db.audit(Some(account), Some(admin.account()), Event::CreditsGranted, detail).await?)
}
