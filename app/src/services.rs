//! The contracts the server keeps. Server functions call these; `server/` implements them.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::{
    Account, AdminOverview, GalleryItem, OwnerId, PhotoId, PhotoSummary, Provider, SessionInfo, VersionId,
};
use crate::recipe::EditRecipe;

#[async_trait]
pub trait PhotoService: Send + Sync + 'static {
    async fn list_photos(&self, owner: OwnerId) -> Result<Vec<PhotoSummary>, AppError>;
    async fn photo(&self, owner: OwnerId, photo: PhotoId) -> Result<PhotoSummary, AppError>;
    /// Replays `recipe` on the full-resolution original and stores the result as a new version.
    async fn save_version(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError>;
    async fn version(&self, owner: OwnerId, version: VersionId) -> Result<GalleryItem, AppError>;
    async fn gallery(&self, owner: OwnerId) -> Result<Vec<GalleryItem>, AppError>;
    async fn delete_version(&self, owner: OwnerId, version: VersionId) -> Result<(), AppError>;
    /// `current` when it still exists, otherwise a new guest owner.
    async fn guest_owner(&self, current: Option<OwnerId>) -> Result<OwnerId, AppError>;
}

/// Provided to every server function through Leptos context.
pub type Photos = Arc<dyn PhotoService>;

/// Session keys: the visitor's workspace, and once signed in the account, when and where.
pub const OWNER_KEY: &str = "owner_id";
pub const ACCOUNT_KEY: &str = "account_id";
pub const SIGNED_IN_AT_KEY: &str = "signed_in_at";
pub const DEVICE_KEY: &str = "device";

/// Accounts and sign-in. Every method that changes who is signed in rotates the session id.
#[async_trait]
pub trait AccountService: Send + Sync + 'static {
    /// The sign-in providers configured, for the sign-in page.
    fn providers(&self) -> Vec<Provider>;
    async fn current(&self, session: &Session) -> Result<Option<Account>, AppError>;
    /// Answers the same whether or not the address already has an account (which is told by
    /// e-mail instead), so the form cannot be used to find out who has one.
    async fn sign_up(
        &self,
        session: &Session,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<(), AppError>;
    /// Follows the link from the sign-up e-mail: verifies the address and signs in.
    async fn verify_email(&self, session: &Session, token: String, device: String) -> Result<Account, AppError>;
    async fn sign_in(
        &self,
        session: &Session,
        email: String,
        password: String,
        device: String,
    ) -> Result<Account, AppError>;
    async fn sign_out(&self, session: &Session) -> Result<(), AppError>;
    /// Ends every session of the account, this one included.
    async fn sign_out_everywhere(&self, session: &Session) -> Result<(), AppError>;
    async fn change_password(&self, session: &Session, current: String, new: String) -> Result<(), AppError>;
    /// Sends a reset link when the address has an account; answers the same either way.
    async fn request_password_reset(&self, email: String) -> Result<(), AppError>;
    async fn reset_password(
        &self,
        session: &Session,
        token: String,
        new: String,
        device: String,
    ) -> Result<Account, AppError>;
    async fn sessions(&self, session: &Session) -> Result<Vec<SessionInfo>, AppError>;
    async fn end_session(&self, session: &Session, handle: String) -> Result<(), AppError>;
    /// Admins only; anyone else gets `NotFound`, as if the page did not exist.
    async fn admin_overview(&self, session: &Session) -> Result<AdminOverview, AppError>;
}

pub type Accounts = Arc<dyn AccountService>;

/// Consent records and the facts the privacy pages are written from.
#[async_trait]
pub trait PrivacyService: Send + Sync + 'static {
    fn policy_version(&self) -> u32;
    fn facts(&self) -> crate::consent::PolicyFacts;
    /// The records of this consent id and of this account, newest first.
    async fn consent_history(
        &self,
        consent_id: Option<String>,
        account: Option<crate::model::AccountId>,
    ) -> Result<Vec<crate::consent::ConsentRecord>, AppError>;
}

pub type Privacy = Arc<dyn PrivacyService>;

/// The person's own data: usage, audit entries, export and erasure; and administrators'
/// audited access to someone's workspace.
#[async_trait]
pub trait DataService: Send + Sync + 'static {
    /// Usage of this session's workspace, by day and tool.
    async fn usage(&self, session: &Session) -> Result<crate::model::UsageReport, AppError>;
    /// The signed-in account's own audit entries.
    async fn audit_log(&self, session: &Session) -> Result<Vec<crate::model::AuditEntry>, AppError>;
    /// Starts a "Download my data" archive (or returns the one already being made).
    async fn start_export(&self, session: &Session) -> Result<crate::model::ExportJob, AppError>;
    /// The account's recent exports, each ready one with a fresh signed link.
    async fn exports(&self, session: &Session) -> Result<Vec<crate::model::ExportJob>, AppError>;
    /// Erases the account and everything it holds; `confirmation` must be the account's e-mail
    /// address, or its display name when it has none.
    async fn delete_account(&self, session: &Session, confirmation: String) -> Result<(), AppError>;
    /// Admins only (`NotFound` for anyone else): every audit entry.
    async fn admin_audit_log(&self, session: &Session) -> Result<Vec<crate::model::AuditEntry>, AppError>;
    /// Admins only: one account's workspace, after writing the reason to the audit log.
    async fn admin_view_workspace(
        &self,
        session: &Session,
        account: crate::model::AccountId,
        reason: String,
    ) -> Result<crate::model::AdminWorkspaceView, AppError>;
}

pub type Data = Arc<dyn DataService>;

/// The AI tools: jobs on the durable queue, their results, moderation's held uploads.
#[async_trait]
pub trait AiService: Send + Sync + 'static {
    /// Queues `request` on one of the session's photos.
    async fn start(
        &self,
        session: &Session,
        photo: PhotoId,
        request: crate::model::ToolRequest,
    ) -> Result<crate::model::AiJob, AppError>;
    /// The session's jobs on a photo, newest first, with fresh signed links.
    async fn jobs(&self, session: &Session, photo: PhotoId) -> Result<Vec<crate::model::AiJob>, AppError>;
    async fn cancel(&self, session: &Session, job: crate::model::JobId) -> Result<(), AppError>;
    /// Keeps a finished image result: a new photo in the workspace, saved to the gallery.
    async fn save_result(&self, session: &Session, job: crate::model::JobId) -> Result<PhotoSummary, AppError>;
    /// Keeps tags and alt-text (as proposed or as the person edited them) on the photo.
    async fn keep_description(
        &self,
        session: &Session,
        photo: PhotoId,
        description: crate::model::PhotoDescription,
    ) -> Result<PhotoSummary, AppError>;
    /// Admins only: uploads moderation held.
    async fn held_photos(&self, session: &Session) -> Result<Vec<crate::model::HeldPhoto>, AppError>;
    /// Admins only: release a held upload to its owner, or delete it.
    async fn decide_held(&self, session: &Session, photo: PhotoId, release: bool) -> Result<(), AppError>;
}

pub type Ai = Arc<dyn AiService>;

/// The owner tied to this session, if the visitor has stored anything yet.
pub async fn session_owner(session: &Session) -> Result<Option<OwnerId>, AppError> {
    session.get::<OwnerId>(OWNER_KEY).await.map_err(|error| {
        tracing::error!(%error, "reading the session failed");
        AppError::Internal
    })
}

/// The session's owner, creating a guest owner (and so the session) when there is none yet.
pub async fn ensure_session_owner(session: &Session, photos: &dyn PhotoService) -> Result<OwnerId, AppError> {
    let current = session_owner(session).await?;
    let owner = photos.guest_owner(current).await?;
    if current != Some(owner) {
        session.insert(OWNER_KEY, owner).await.map_err(|error| {
            tracing::error!(%error, "writing the session failed");
            AppError::Internal
        })?;
    }
    Ok(owner)
}

/// A short description of the browser for the session list ("Chrome on Linux").
pub fn describe_device(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}
