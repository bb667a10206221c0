//! The privacy contract the server keeps: consent records and the facts the privacy pages are
//! written from.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AppError;
use crate::ids::AccountId;
use crate::privacy::{ConsentRecord, PolicyFacts};

#[async_trait]
pub trait PrivacyService: Send + Sync + 'static {
    fn policy_version(&self) -> u32;
    fn facts(&self) -> PolicyFacts;
    /// The records of this consent id and of this account, newest first.
    async fn consent_history(
        &self,
        consent_id: Option<String>,
        account: Option<AccountId>,
    ) -> Result<Vec<ConsentRecord>, AppError>;
}

pub type Privacy = Arc<dyn PrivacyService>;
