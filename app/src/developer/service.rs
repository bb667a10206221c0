//! The contract the server keeps for a person's own API keys and call log.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::developer::{ApiCallPage, ApiKeyInfo, CreatedApiKey, NewApiKey};
use crate::error::AppError;
use crate::ids::SignedIn;

#[async_trait]
pub trait DeveloperService: Send + Sync + 'static {
    /// The account's keys, newest first, revoked ones too (they explain old log entries).
    async fn api_keys(&self, me: SignedIn) -> Result<Vec<ApiKeyInfo>, AppError>;
    /// Makes a key; its token and webhook secret are in the answer and nowhere else ever after.
    async fn create_api_key(&self, me: SignedIn, request: NewApiKey) -> Result<CreatedApiKey, AppError>;
    /// Stops a key at once; the account's own keys only (another's is `NotFound`).
    async fn revoke_api_key(&self, me: SignedIn, key: Uuid) -> Result<(), AppError>;
    /// The call log, newest first, a page at a time: `before` is a page's `next`.
    async fn api_calls(&self, me: SignedIn, before: Option<String>) -> Result<ApiCallPage, AppError>;
}

pub type Developer = Arc<dyn DeveloperService>;
