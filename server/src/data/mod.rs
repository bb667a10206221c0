//! The person's own data, end to end: usage, the audit log, "Download my data" (export.rs),
//! "Delete my account" (erasure.rs), and administrators' audited view of a workspace.
//! `DataStore` keeps `app::data::DataService`.

pub mod audit;
pub mod backup;
pub mod erasure;
pub mod export;
pub mod reconcile;
pub mod retention;
pub mod usage;

use std::sync::Arc;

use app::data::DataService;
use app::data::{AdminWorkspaceView, AuditEntry, ExportJob, UsageReport};
use app::error::AppError;
use app::ids::{AccountId, Admin, OwnerId, SignedIn};
use async_trait::async_trait;

use crate::accounts::repo::AccountRow;
use crate::data::audit::Event;
use crate::photos::PhotoStore;
use crate::platform::db::Db;
use crate::platform::error::OrInternal;
use crate::platform::sessions::DbSessionStore;

const AUDIT_PAGE: i64 = 200;

#[derive(Clone)]
pub struct DataStore {
    pub db: Db,
    pub photos: Arc<PhotoStore>,
    /// For the sessions "Download my data" lists.
    pub sessions: DbSessionStore,
    /// How long a finished archive stays downloadable.
    pub export_secs: i64,
    /// Payments, when on: erasure deletes the account's customer at the payment service first.
    pub payments: Option<Arc<crate::billing::payments::PaymentStore>>,
}

impl DataStore {
    async fn account(&self, me: SignedIn) -> Result<AccountRow, AppError> {
        self.db.account_by_id(me.account).await?.ok_or(AppError::Unauthorized)
    }
}

#[async_trait]
impl DataService for DataStore {
    async fn usage(&self, owner: OwnerId) -> Result<UsageReport, AppError> {
        self.db.usage_report(owner).await.or_internal("reading usage")
    }

    async fn audit_log(&self, me: SignedIn) -> Result<Vec<AuditEntry>, AppError> {
        self.db.audit_entries(Some(me.account), AUDIT_PAGE).await.or_internal("reading the audit log")
    }

    async fn start_export(&self, me: SignedIn) -> Result<ExportJob, AppError> {
        let account = self.account(me).await?;
        export::start(self, &account).await
    }

    async fn exports(&self, me: SignedIn) -> Result<Vec<ExportJob>, AppError> {
        let account = self.account(me).await?;
        export::list(self, &account).await
    }

    async fn delete_account(&self, me: SignedIn, confirmation: String) -> Result<(), AppError> {
        let account = self.account(me).await?;
        let expected = account.email.clone().unwrap_or_else(|| account.display_name.clone());
        if confirmation.trim().to_lowercase() != expected.to_lowercase() {
            let what = if account.email.is_some() { "your e-mail address" } else { "your name" };
            return Err(AppError::BadRequest(format!("To delete your account, type {what} exactly as shown.")));
        }
        erasure::erase(self, &account).await
    }

    async fn admin_audit_log(&self, _admin: Admin) -> Result<Vec<AuditEntry>, AppError> {
        self.db.audit_entries(None, AUDIT_PAGE).await.or_internal("reading the audit log")
    }

    /// The entry is written before anything is read: no entry, no access.
    async fn admin_view_workspace(
        &self,
        admin: Admin,
        account: AccountId,
        reason: String,
    ) -> Result<AdminWorkspaceView, AppError> {
        let reason = reason.trim();
        if reason.chars().count() < 5 {
            return Err(AppError::BadRequest("Say why you need to see this workspace (at least a few words).".into()));
        }
        let target = self.db.account_by_id(account).await?.ok_or(AppError::NotFound)?;
        let detail =
            format!("Administrator viewed the workspace. Reason: {}", reason.chars().take(300).collect::<String>());
        self.db.audit(Some(target.id), Some(admin.account()), Event::AdminViewedWorkspace, &detail).await?;
        // Metadata only: links are bound to their owner's session, so none are handed out here.
        let photos = self.db.list_photos(target.owner).await?;
        let gallery = self.db.gallery(target.owner).await?;
        Ok(AdminWorkspaceView { display_name: target.display_name, photos, gallery })
    }
}
