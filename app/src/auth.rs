//! Server functions for accounts and sign-in. Each hands the request's session to
//! `AccountService` and, where the person signed in or out, sends the browser on.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{Account, AdminOverview, Provider, SessionInfo};

#[cfg(feature = "ssr")]
mod context {
    use crate::error::AppError;
    use crate::services::Accounts;

    pub fn accounts() -> Result<Accounts, AppError> {
        crate::api::context::service()
    }

    /// "Chrome on Linux", for the session list.
    pub async fn device() -> String {
        let headers: http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
        let agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
        crate::services::describe_device(agent)
    }
}

/// Runs `work` with the account service and this request's session, answering errors with
/// their own status.
#[cfg(feature = "ssr")]
async fn with_accounts<T, Fut>(
    work: impl FnOnce(crate::services::Accounts, tower_sessions::Session) -> Fut,
) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    crate::api::context::with_service(work).await
}

#[server(endpoint = "auth/me")]
pub async fn current_account() -> Result<Option<Account>, AppError> {
    with_accounts(|accounts, session| async move { accounts.current(&session).await }).await
}

#[server(endpoint = "auth/providers")]
pub async fn sign_in_providers() -> Result<Vec<Provider>, AppError> {
    Ok(context::accounts()?.providers())
}

#[server(endpoint = "auth/signup")]
pub async fn sign_up(email: String, password: String, display_name: String) -> Result<(), AppError> {
    with_accounts(|accounts, session| async move { accounts.sign_up(&session, email, password, display_name).await })
        .await
}

#[server(endpoint = "auth/verify")]
pub async fn verify_email(token: String) -> Result<Account, AppError> {
    let device = context::device().await;
    with_accounts(|accounts, session| async move { accounts.verify_email(&session, token, device).await }).await
}

#[server(endpoint = "auth/signin")]
pub async fn sign_in(email: String, password: String) -> Result<Account, AppError> {
    let device = context::device().await;
    with_accounts(|accounts, session| async move { accounts.sign_in(&session, email, password, device).await }).await
}

#[server(endpoint = "auth/signout")]
pub async fn sign_out() -> Result<(), AppError> {
    with_accounts(|accounts, session| async move { accounts.sign_out(&session).await }).await
}

#[server(endpoint = "auth/signout-everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    with_accounts(|accounts, session| async move { accounts.sign_out_everywhere(&session).await }).await
}

#[server(endpoint = "auth/password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    with_accounts(|accounts, session| async move { accounts.change_password(&session, current, new).await }).await
}

#[server(endpoint = "auth/reset-request")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    with_accounts(|accounts, _| async move { accounts.request_password_reset(email).await }).await
}

#[server(endpoint = "auth/reset")]
pub async fn reset_password(token: String, new: String) -> Result<Account, AppError> {
    let device = context::device().await;
    with_accounts(|accounts, session| async move { accounts.reset_password(&session, token, new, device).await }).await
}

#[server(endpoint = "auth/sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    with_accounts(|accounts, session| async move { accounts.sessions(&session).await }).await
}

#[server(endpoint = "auth/sessions/end")]
pub async fn end_session(handle: String) -> Result<(), AppError> {
    with_accounts(|accounts, session| async move { accounts.end_session(&session, handle).await }).await
}

#[server(endpoint = "admin/overview")]
pub async fn admin_accounts() -> Result<AdminOverview, AppError> {
    with_accounts(|accounts, session| async move { accounts.admin_overview(&session).await }).await
}
