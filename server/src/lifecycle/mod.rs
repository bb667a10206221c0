//! The person's own data, end to end: usage, the audit log, "Download my data" (export.rs),
//! "Delete my account" (erasure.rs), and administrators' audited view of a workspace.
//! `DataStore` keeps `app::services::DataService`.

pub mod erasure;
pub mod export;

use std::sync::Arc;

use app::error::AppError;
use app::model::{AccountId, AdminWorkspaceView, AuditEntry, ExportJob, Role, UsageReport};
use app::services::{session_owner, DataService};
use async_trait::async_trait;
use tower_sessions::Session;

use crate::accounts::repo::AccountRow;
use crate::accounts::AccountStore;
use crate::audit::Event;
use crate::db::Db;
use crate::error::OrInternal;
use crate::photos::PhotoStore;

const AUDIT_PAGE: i64 = 200;

#[derive(Clone)]
pub struct DataStore {
    pub db: Db,
    pub accounts: Arc<AccountStore>,
    pub photos: Arc<PhotoStore>,
    /// How long a finished archive stays downloadable.
    pub export_secs: i64,
}

impl DataStore {
    async fn admin(&self, session: &Session) -> Result<AccountRow, AppError> {
        let account = self.accounts.signed_in(session).await.map_err(|_| AppError::NotFound)?;
        if account.role != Role::Admin {
            return Err(AppError::NotFound);
        }
        Ok(account)
    }
}

#[async_trait]
impl DataService for DataStore {
    async fn usage(&self, session: &Session) -> Result<UsageReport, AppError> {
        match session_owner(session).await? {
            Some(owner) => self.db.usage_report(owner).await.or_internal("reading usage"),
            None => Ok(UsageReport::default()),
        }
    }

    async fn audit_log(&self, session: &Session) -> Result<Vec<AuditEntry>, AppError> {
        let account = self.accounts.signed_in(session).await?;
        self.db.audit_entries(Some(account.id), AUDIT_PAGE).await.or_internal("reading the audit log")
    }

    async fn start_export(&self, session: &Session) -> Result<ExportJob, AppError> {
        let account = self.accounts.signed_in(session).await?;
        export::start(self, &account).await
    }

    async fn exports(&self, session: &Session) -> Result<Vec<ExportJob>, AppError> {
        let account = self.accounts.signed_in(session).await?;
        export::list(self, &account).await
    }

    async fn delete_account(&self, session: &Session, confirmation: String) -> Result<(), AppError> {
        let account = self.accounts.signed_in(session).await?;
        let expected = account.email.clone().unwrap_or_else(|| account.display_name.clone());
        if confirmation.trim().to_lowercase() != expected.to_lowercase() {
            let what = if account.email.is_some() { "your e-mail address" } else { "your name" };
            return Err(AppError::BadRequest(format!("To delete your account, type {what} exactly as shown.")));
        }
        erasure::erase(self, &account).await?;
        session.flush().await.or_internal("ending the session")
    }

    async fn admin_audit_log(&self, session: &Session) -> Result<Vec<AuditEntry>, AppError> {
        self.admin(session).await?;
        self.db.audit_entries(None, AUDIT_PAGE).await.or_internal("reading the audit log")
    }

    /// The entry is written before anything is read: no entry, no access.
    async fn admin_view_workspace(
        &self,
        session: &Session,
        account: AccountId,
        reason: String,
    ) -> Result<AdminWorkspaceView, AppError> {
        let admin = self.admin(session).await?;
        let reason = reason.trim();
        if reason.chars().count() < 5 {
            return Err(AppError::BadRequest("Say why you need to see this workspace (at least a few words).".into()));
        }
        let target =
            self.db.account_by_id(account).await.or_internal("reading an account")?.ok_or(AppError::NotFound)?;
        let detail =
            format!("Administrator viewed the workspace. Reason: {}", reason.chars().take(300).collect::<String>());
        self.db
            .audit(Some(target.id), Some(admin.id), Event::AdminViewedWorkspace, &detail)
            .await
            .or_internal("writing the audit log")?;
        // Metadata only: links are bound to their owner's session, so none are handed out here.
        let photos = self.db.list_photos(target.owner).await.or_internal("listing photos")?;
        let gallery = self.db.gallery(target.owner).await.or_internal("listing the gallery")?;
        Ok(AdminWorkspaceView { display_name: target.display_name, photos, gallery })
    }
}
