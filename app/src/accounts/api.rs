//! Server functions for accounts and sign-in. The sign-in flows hand the request's session to
//! `AccountService`, which is the one service that keeps it.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::accounts::Accounts;
#[cfg(feature = "ssr")]
use crate::server_fn::{admin, after_plain_form, run, service, session};

use crate::accounts::{Account, AdminOverview, MailPreferences, Provider, SessionInfo, SignInStep, TwoFactorStatus};
use crate::error::AppError;

/// The browser's User-Agent header (described for the session list and hashed for new-device
/// notices by the service; never stored as sent).
#[cfg(feature = "ssr")]
async fn user_agent() -> String {
    let headers = crate::server_fn::headers().await;
    headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(512).collect()
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
    let device = user_agent().await;
    run(async {
        after_link(service::<Accounts>()?.verify_email(&session().await?, token, device).await, "/signin?confirmed=1")
    })
    .await
}

#[server(endpoint = "auth/signin")]
pub async fn sign_in(email: String, password: String) -> Result<SignInStep, AppError> {
    let agent = user_agent().await;
    run(async {
        let from = crate::server_fn::client_ip();
        let step = service::<Accounts>()?.sign_in(&session().await?, email, password, agent, from).await;
        let next = if matches!(step, Ok(SignInStep::CodeNeeded)) { "/signin/code" } else { "/" };
        after_plain_form(next, step)
    })
    .await
}

/// The second step of signing in when two-factor sign-in is on.
#[server(endpoint = "auth/signin-code")]
pub async fn sign_in_code(code: String) -> Result<Account, AppError> {
    run(async { after_plain_form("/", service::<Accounts>()?.sign_in_code(&session().await?, code).await) }).await
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
    let device = user_agent().await;
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

#[server(endpoint = "account/name")]
pub async fn change_display_name(display_name: String) -> Result<Account, AppError> {
    run(async {
        after_plain_form("/account", service::<Accounts>()?.change_display_name(&session().await?, display_name).await)
    })
    .await
}

/// Asks for a change of address; `password` is needed when the account has one.
#[server(endpoint = "account/email")]
pub async fn request_email_change(new_email: String, password: Option<String>) -> Result<(), AppError> {
    run(async {
        let accounts = service::<Accounts>()?;
        after_plain_form(
            "/account?email=sent",
            accounts.request_email_change(&session().await?, new_email, password).await,
        )
    })
    .await
}

#[server(endpoint = "account/email/confirm")]
pub async fn confirm_email_change(token: String) -> Result<(), AppError> {
    run(async { after_plain_form("/account/email?done=1", service::<Accounts>()?.confirm_email_change(token).await) })
        .await
}

#[server(endpoint = "account/two-factor")]
pub async fn load_two_factor_status() -> Result<TwoFactorStatus, AppError> {
    run(async { service::<Accounts>()?.two_factor_status(&session().await?).await }).await
}

#[server(endpoint = "account/two-factor/start")]
pub async fn start_two_factor() -> Result<(), AppError> {
    run(async {
        after_plain_form("/account#two-factor", service::<Accounts>()?.start_two_factor(&session().await?).await)
    })
    .await
}

#[server(endpoint = "account/two-factor/confirm")]
pub async fn confirm_two_factor(code: String) -> Result<(), AppError> {
    run(async {
        after_plain_form(
            "/account#two-factor",
            service::<Accounts>()?.confirm_two_factor(&session().await?, code).await,
        )
    })
    .await
}

/// Turns two-factor sign-in off; `proof` is a code from the app, a recovery code or the password.
#[server(endpoint = "account/two-factor/off")]
pub async fn turn_off_two_factor(proof: String) -> Result<(), AppError> {
    run(async {
        after_plain_form(
            "/account#two-factor",
            service::<Accounts>()?.turn_off_two_factor(&session().await?, proof).await,
        )
    })
    .await
}

/// New recovery codes in place of the old; `proof` as for turning two-factor sign-in off.
#[server(endpoint = "account/two-factor/recovery-codes")]
pub async fn renew_recovery_codes(proof: String) -> Result<(), AppError> {
    run(async {
        let accounts = service::<Accounts>()?;
        after_plain_form("/account#two-factor", accounts.renew_recovery_codes(&session().await?, proof).await)
    })
    .await
}

#[server(endpoint = "account/mail")]
pub async fn load_mail_preferences() -> Result<MailPreferences, AppError> {
    run(async { service::<Accounts>()?.mail_preferences(&session().await?).await }).await
}

/// Plain checkboxes: a box left unticked is simply absent from the form.
#[server(endpoint = "account/mail/set")]
pub async fn set_mail_preferences(marketing: Option<String>, announcements: Option<String>) -> Result<(), AppError> {
    let choice = MailPreferences { marketing: marketing.is_some(), announcements: announcements.is_some() };
    run(async {
        after_plain_form("/account#mail", service::<Accounts>()?.set_mail_preferences(&session().await?, choice).await)
    })
    .await
}

/// Mails everyone who opted in to `kind` ("marketing" or "announcements"); answers how many.
#[server(endpoint = "admin/announce")]
pub async fn send_announcement(kind: String, subject: String, body: String) -> Result<u32, AppError> {
    run(async {
        let kind = crate::accounts::Mailing::parse(&kind)
            .ok_or_else(|| AppError::BadRequest("Choose which mailing to send.".into()))?;
        service::<Accounts>()?.send_announcement(admin().await?, kind, subject, body).await
    })
    .await
}
