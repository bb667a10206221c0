//! The People contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::AppError;
use crate::ids::{OwnerId, PersonId, SignedIn};
use crate::people::{PeopleOverview, PersonPhotos, PersonSummary};
use crate::photos::PhotoSummary;

#[async_trait]
pub trait PeopleService: Send + Sync + 'static {
    /// Whether People is on, and the people found; a guest (no account) sees it off, with no way
    /// to switch it on.
    async fn overview(&self, me: Option<SignedIn>, visitor: Option<OwnerId>) -> Result<PeopleOverview, AppError>;
    /// Switches People on with the person's explicit consent to `CONSENT_TEXT` (`agreed` must be
    /// true and `text_version` the current one): recorded, then the faces of every photo are
    /// looked for in the job queue.
    async fn enable(&self, me: SignedIn, agreed: bool, text_version: u32) -> Result<PeopleOverview, AppError>;
    /// Switches People off: every face and person of the account is deleted at once, and the
    /// withdrawal recorded.
    async fn disable(&self, me: SignedIn) -> Result<PeopleOverview, AppError>;
    async fn person(&self, owner: OwnerId, id: PersonId) -> Result<PersonPhotos, AppError>;
    /// Names a person (an empty name clears it).
    async fn rename(&self, owner: OwnerId, id: PersonId, name: String) -> Result<PersonSummary, AppError>;
    /// Moves every face of `from` to `into` and deletes `from`.
    async fn merge(&self, owner: OwnerId, into: PersonId, from: PersonId) -> Result<PersonSummary, AppError>;
    /// Photos of the people whose name contains `name` ("photos of Anna"), newest first.
    async fn photos_of(&self, owner: OwnerId, name: String) -> Result<Vec<PhotoSummary>, AppError>;
}

/// Provided to every server function through Leptos context.
pub type People = Arc<dyn PeopleService>;
