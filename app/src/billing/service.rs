//! The credits contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;

use crate::billing::{CreditAccount, CreditGrant, CreditPrices};
use crate::error::AppError;
use crate::ids::{Admin, OwnerId};

#[async_trait]
pub trait BillingService: Send + Sync + 'static {
    /// What each tool costs and whether credits are counted.
    async fn prices(&self) -> Result<CreditPrices, AppError>;
    /// The workspace's balance and ledger (its monthly allowance granted first when due).
    async fn credit_account(&self, owner: OwnerId) -> Result<CreditAccount, AppError>;
    /// Credits an account, audited; `Ok(false)` when this grant's reference was already used.
    async fn grant_credits(&self, admin: Admin, grant: CreditGrant) -> Result<bool, AppError>;
}

pub type Billing = Arc<dyn BillingService>;
