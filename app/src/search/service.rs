//! The search contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AppError;
use crate::ids::OwnerId;
use crate::search::{SearchQuery, SearchResults};

#[async_trait]
pub trait SearchService: Send + Sync + 'static {
    /// The owner's photos that match, best first; never another workspace's.
    async fn search(&self, owner: OwnerId, query: SearchQuery) -> Result<SearchResults, AppError>;
}

pub type Searches = Arc<dyn SearchService>;
