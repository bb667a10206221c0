//! Server functions for the person's own data (usage, audit log, export, erasure) and for
//! administrators' audited access. Each hands the session to `DataService`.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AccountId, AdminWorkspaceView, AuditEntry, ExportJob, UsageReport};

#[cfg(feature = "ssr")]
async fn with_data<T, Fut>(
    work: impl FnOnce(crate::services::Data, tower_sessions::Session) -> Fut,
) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    crate::api::context::with_service(work).await
}

#[server(endpoint = "data/usage")]
pub async fn my_usage() -> Result<UsageReport, AppError> {
    with_data(|data, session| async move { data.usage(&session).await }).await
}

#[server(endpoint = "data/audit")]
pub async fn my_audit_log() -> Result<Vec<AuditEntry>, AppError> {
    with_data(|data, session| async move { data.audit_log(&session).await }).await
}

#[server(endpoint = "data/export")]
pub async fn start_export() -> Result<ExportJob, AppError> {
    with_data(|data, session| async move { data.start_export(&session).await }).await
}

#[server(endpoint = "data/exports")]
pub async fn my_exports() -> Result<Vec<ExportJob>, AppError> {
    with_data(|data, session| async move { data.exports(&session).await }).await
}

#[server(endpoint = "data/delete-account")]
pub async fn delete_account(confirmation: String) -> Result<(), AppError> {
    with_data(|data, session| async move { data.delete_account(&session, confirmation).await }).await
}

#[server(endpoint = "admin/audit")]
pub async fn admin_audit_log() -> Result<Vec<AuditEntry>, AppError> {
    with_data(|data, session| async move { data.admin_audit_log(&session).await }).await
}

#[server(endpoint = "admin/view-workspace")]
pub async fn admin_view_workspace(account: AccountId, reason: String) -> Result<AdminWorkspaceView, AppError> {
    with_data(|data, session| async move { data.admin_view_workspace(&session, account, reason).await }).await
}
