//! Server functions for accounts and sign-in. The sign-in flows hand the request's session to
//! `AccountService`, which is the one service that keeps it.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::accounts::Accounts;
#[cfg(feature = "ssr")]
use crate::server_fn::{admin, after_plain_form, run, service, session};

use crate::accounts::{Account, AdminOverview, Provider, SessionInfo};
use crate::error::AppError;

/// "Chrome on Linux", for the session list.
#[cfg(feature = "ssr")]
async fn device() -> String {
    let headers = crate::server_fn::headers().await;
    let agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    crate::accounts::describe_device(agent)
}

#[server(endpoint = "auth/me")]
pub async fn current_account() -> Result<Option<Account>, AppError> {
    run(async { service::<Accounts>()?.current(&session().await?).await }).await
}

#[server(endpoint = "auth/providers")]
pub async fn sign_in_providers() -> Result<Vec<Provider>, AppError> {
    run(async { Ok(service::<Accounts>()?.providers()) }).await
}

#[server(endpoint = "auth/signup")]
pub async fn sign_up(email: String, password: String, display_name: String) -> Result<(), AppError> {
    run(async {
        after_plain_form(
            "/signup?sent=1",
            service::<Accounts>()?.sign_up(&session().await?, email, password, display_name).await,
        )
    })
    .await
}

/// Where a plain form goes after a link was followed: home when it signed in, else to sign in.
#[cfg(feature = "ssr")]
fn after_link(result: Result<Option<Account>, AppError>, done: &str) -> Result<Option<Account>, AppError> {
    match &result {
        Ok(Some(_)) => after_plain_form("/", result),
        _ => after_plain_form(done, result),
    }
}

#[server(endpoint = "auth/verify")]
pub async fn verify_email(token: String) -> Result<Option<Account>, AppError> {
    let device = device().await;
    run(async {
        after_link(service::<Accounts>()?.verify_email(&session().await?, token, device).await, "/signin?confirmed=1")
    })
    .await
}

#[server(endpoint = "auth/signin")]
pub async fn sign_in(email: String, password: String) -> Result<Account, AppError> {
    let device = device().await;
    run(async {
        let from = crate::server_fn::client_ip();
        after_plain_form("/", service::<Accounts>()?.sign_in(&session().await?, email, password, device, from).await)
    })
    .await
}

#[server(endpoint = "auth/signout")]
pub async fn sign_out() -> Result<(), AppError> {
    run(async { after_plain_form("/", service::<Accounts>()?.sign_out(&session().await?).await) }).await
}

#[server(endpoint = "auth/signout-everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    run(async { after_plain_form("/", service::<Accounts>()?.sign_out_everywhere(&session().await?).await) }).await
}

#[server(endpoint = "auth/password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    run(async { service::<Accounts>()?.change_password(&session().await?, current, new).await }).await
}

#[server(endpoint = "auth/reset-request")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    run(async { service::<Accounts>()?.request_password_reset(&session().await?, email).await }).await
}

#[server(endpoint = "auth/reset")]
pub async fn reset_password(token: String, new: String) -> Result<Option<Account>, AppError> {
    let device = device().await;
    run(async {
        after_link(
            service::<Accounts>()?.reset_password(&session().await?, token, new, device).await,
            "/signin?reset=1",
        )
    })
    .await
}

#[server(endpoint = "auth/sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, AppError> {
    run(async { service::<Accounts>()?.sessions(&session().await?).await }).await
}

#[server(endpoint = "auth/sessions/end")]
pub async fn end_session(handle: String) -> Result<(), AppError> {
    run(async { service::<Accounts>()?.end_session(&session().await?, handle).await }).await
}

#[server(endpoint = "admin/overview")]
pub async fn admin_accounts() -> Result<AdminOverview, AppError> {
    run(async { service::<Accounts>()?.admin_overview(admin().await?).await }).await
}
