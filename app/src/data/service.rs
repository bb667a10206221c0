//! The data contract the server keeps: the person's own usage, audit entries, export and
//! erasure; and administrators' audited access to someone's workspace.

use std::sync::Arc;

use async_trait::async_trait;

use crate::data::{AdminWorkspaceView, AuditEntry, ExportJob, UsageReport};
use crate::error::AppError;
use crate::ids::{AccountId, Admin, OwnerId, SignedIn};

#[async_trait]
pub trait DataService: Send + Sync + 'static {
    /// Usage of this workspace, by day and tool.
    async fn usage(&self, owner: OwnerId) -> Result<UsageReport, AppError>;
    /// The account's own audit entries.
    async fn audit_log(&self, me: SignedIn) -> Result<Vec<AuditEntry>, AppError>;
    /// Starts a "Download my data" archive (or returns the one already being made).
    async fn start_export(&self, me: SignedIn) -> Result<ExportJob, AppError>;
    /// The account's recent exports, each ready one with a fresh signed link.
    async fn exports(&self, me: SignedIn) -> Result<Vec<ExportJob>, AppError>;
    /// Erases the account and everything it holds; `confirmation` must be the account's e-mail
    /// address, or its display name when it has none. The caller ends the session after.
    async fn delete_account(&self, me: SignedIn, confirmation: String) -> Result<(), AppError>;
    /// Every audit entry.
    async fn admin_audit_log(&self, admin: Admin) -> Result<Vec<AuditEntry>, AppError>;
    /// One account's workspace, after writing the reason to the audit log.
    async fn admin_view_workspace(
        &self,
        admin: Admin,
        account: AccountId,
        reason: String,
    ) -> Result<AdminWorkspaceView, AppError>;
}

pub type Data = Arc<dyn DataService>;
