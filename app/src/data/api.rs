//! Server functions for the person's own data (usage, audit log, export, erasure) and for
//! administrators' audited access.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::data::Data;
#[cfg(feature = "ssr")]
use crate::server_fn::{admin, run, service, signed_in, visitor};

use crate::data::{AdminWorkspaceView, AuditEntry, ExportJob, UsageReport};
use crate::error::AppError;
use crate::ids::AccountId;

#[server(endpoint = "data/usage")]
pub async fn my_usage() -> Result<UsageReport, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Data>()?.usage(owner).await,
            None => Ok(UsageReport::default()),
        }
    })
    .await
}

#[server(endpoint = "data/audit")]
pub async fn my_audit_log() -> Result<Vec<AuditEntry>, AppError> {
    run(async { service::<Data>()?.audit_log(signed_in().await?).await }).await
}

#[server(endpoint = "data/export")]
pub async fn start_export() -> Result<ExportJob, AppError> {
    run(async { service::<Data>()?.start_export(signed_in().await?).await }).await
}

#[server(endpoint = "data/exports")]
pub async fn my_exports() -> Result<Vec<ExportJob>, AppError> {
    run(async { service::<Data>()?.exports(signed_in().await?).await }).await
}

/// Ends the session once the account is gone.
#[server(endpoint = "data/delete-account")]
pub async fn delete_account(confirmation: String) -> Result<(), AppError> {
    run(async {
        service::<Data>()?.delete_account(signed_in().await?, confirmation).await?;
        let ended = crate::server_fn::session().await?.flush().await.map_err(|error| {
            tracing::error!(%error, "ending the session of an erased account failed");
            AppError::Internal
        });
        crate::server_fn::after_plain_form("/?account=deleted", ended)
    })
    .await
}

#[server(endpoint = "admin/audit")]
pub async fn admin_audit_log() -> Result<Vec<AuditEntry>, AppError> {
    run(async { service::<Data>()?.admin_audit_log(admin().await?).await }).await
}

#[server(endpoint = "admin/view-workspace")]
pub async fn admin_view_workspace(account: AccountId, reason: String) -> Result<AdminWorkspaceView, AppError> {
    run(async { service::<Data>()?.admin_view_workspace(admin().await?, account, reason).await }).await
}
