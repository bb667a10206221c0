//! The studio's contract the server keeps: runs on the durable queue, the prompt history, the
//! person's own templates.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AppError;
use crate::generate::{GenerateRequest, Generation, PromptTemplate, Studio};
use crate::ids::{GenerationId, OwnerId, TemplateId};

#[async_trait]
pub trait GenerationService: Send + Sync + 'static {
    /// The configured services (no addresses, no keys) and the templates, curated then own.
    async fn studio(&self, owner: Option<OwnerId>) -> Result<Studio, AppError>;
    /// Checks and queues a run; its images arrive as the job makes them.
    async fn start(&self, owner: OwnerId, request: GenerateRequest) -> Result<Generation, AppError>;
    /// The owner's runs, newest first; `search` matches prompt words.
    async fn history(&self, owner: OwnerId, search: String) -> Result<Vec<Generation>, AppError>;
    async fn generation(&self, owner: OwnerId, id: GenerationId) -> Result<Generation, AppError>;
    async fn cancel(&self, owner: OwnerId, id: GenerationId) -> Result<(), AppError>;
    /// Forgets a run with the images of it not saved to the gallery; `None` forgets them all.
    async fn delete(&self, owner: OwnerId, id: Option<GenerationId>) -> Result<u64, AppError>;
    async fn save_template(&self, owner: OwnerId, template: PromptTemplate) -> Result<PromptTemplate, AppError>;
    async fn delete_template(&self, owner: OwnerId, id: TemplateId) -> Result<(), AppError>;
}

pub type Generations = Arc<dyn GenerationService>;
