//! The near-duplicates contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;

use crate::duplicates::DuplicateReport;
use crate::error::AppError;
use crate::ids::{OwnerId, PhotoId};

#[async_trait]
pub trait DuplicateService: Send + Sync + 'static {
    /// The owner's groups of copies and bursts, best first in each; photos stored before
    /// fingerprints existed are fingerprinted a few at a time (`unchecked` says how many wait).
    async fn groups(&self, owner: OwnerId) -> Result<DuplicateReport, AppError>;
    /// Keeps `keep` and deletes those of `others` that are still in its group (files purged);
    /// answers how many went.
    async fn keep(&self, owner: OwnerId, keep: PhotoId, others: Vec<PhotoId>) -> Result<u32, AppError>;
}

/// Provided to every server function through Leptos context.
pub type Duplicates = Arc<dyn DuplicateService>;
