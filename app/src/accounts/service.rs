//! The accounts contract the server keeps.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::Session;

use crate::accounts::{
    Account, AdminOverview, MailPreferences, Mailing, Provider, SessionInfo, SignInStep, TwoFactorStatus,
};
use crate::error::AppError;
use crate::ids::{Admin, OwnerId, SignedIn};

/// Accounts and sign-in. This service keeps the session itself: it is the one that signs people
/// in and out, so it alone takes the `Session` (every method that changes who is signed in
/// rotates the session id); everything else receives the identity it resolves (`identify`).
#[async_trait]
pub trait AccountService: Send + Sync + 'static {
    /// The sign-in providers configured, for the sign-in page.
    fn providers(&self) -> Vec<Provider>;
    async fn current(&self, session: &Session) -> Result<Option<Account>, AppError>;
    /// Who is signed in on this session, for `server_fn::signed_in` and the server's routes.
    async fn identify(&self, session: &Session) -> Result<Option<SignedIn>, AppError>;
    /// The workspace this session may reach: its account's when signed in, else its guest
    /// workspace — never one that belongs to an account (the one rule every caller relies on).
    async fn workspace(&self, session: &Session) -> Result<Option<OwnerId>, AppError>;
    /// Answers the same whether or not the address already has an account (which is told by
    /// e-mail instead), so the form cannot be used to find out who has one.
    async fn sign_up(
        &self,
        session: &Session,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<(), AppError>;
    /// Follows the link from the sign-up e-mail: verifies the address, and signs in only the
    /// browser that started the sign-up (`None`: confirmed, now sign in with the password).
    /// `user_agent` is the browser's header as sent (described and hashed, never stored).
    async fn verify_email(
        &self,
        session: &Session,
        token: String,
        user_agent: String,
    ) -> Result<Option<Account>, AppError>;
    /// With two-factor sign-in on, a right password only opens the second step (`CodeNeeded`).
    async fn sign_in(
        &self,
        session: &Session,
        email: String,
        password: String,
        user_agent: String,
        from: std::net::IpAddr,
    ) -> Result<SignInStep, AppError>;
    /// The second step: a code from the authenticator app or an unused recovery code.
    async fn sign_in_code(&self, session: &Session, code: String) -> Result<Account, AppError>;
    async fn sign_out(&self, session: &Session) -> Result<(), AppError>;
    /// Ends every session of the account, this one included.
    async fn sign_out_everywhere(&self, session: &Session) -> Result<(), AppError>;
    async fn change_password(&self, session: &Session, current: String, new: String) -> Result<(), AppError>;
    /// Sends a reset link when the address has an account; answers the same either way.
    async fn request_password_reset(&self, session: &Session, email: String) -> Result<(), AppError>;
    /// Sets the new password and ends every session of the account; signs in only the browser
    /// that asked for the link (`None`: changed, now sign in).
    async fn reset_password(
        &self,
        session: &Session,
        token: String,
        new: String,
        user_agent: String,
    ) -> Result<Option<Account>, AppError>;
    async fn sessions(&self, session: &Session) -> Result<Vec<SessionInfo>, AppError>;
    async fn end_session(&self, session: &Session, handle: String) -> Result<(), AppError>;
    async fn admin_overview(&self, admin: Admin) -> Result<AdminOverview, AppError>;
    async fn change_display_name(&self, session: &Session, display_name: String) -> Result<Account, AppError>;
    /// Mails a link to the new address (the address changes only when it is opened); asks for
    /// the password when the account has one.
    async fn request_email_change(
        &self,
        session: &Session,
        new_email: String,
        password: Option<String>,
    ) -> Result<(), AppError>;
    /// Follows the link sent to the new address (from any browser: the link is the proof).
    async fn confirm_email_change(&self, token: String) -> Result<(), AppError>;
    /// Two-factor state; recovery codes made just now are handed out here once.
    async fn two_factor_status(&self, session: &Session) -> Result<TwoFactorStatus, AppError>;
    /// A new secret waiting for its first code (nothing changes until then).
    async fn start_two_factor(&self, session: &Session) -> Result<(), AppError>;
    /// Turns two-factor sign-in on with a first code from the app, and makes recovery codes.
    async fn confirm_two_factor(&self, session: &Session, code: String) -> Result<(), AppError>;
    /// Turns it off; `proof` is a current code, a recovery code or the password.
    async fn turn_off_two_factor(&self, session: &Session, proof: String) -> Result<(), AppError>;
    /// Ten new recovery codes (shown once) in place of the old; `proof` as for turning it off.
    async fn renew_recovery_codes(&self, session: &Session, proof: String) -> Result<(), AppError>;
    async fn mail_preferences(&self, session: &Session) -> Result<MailPreferences, AppError>;
    async fn set_mail_preferences(&self, session: &Session, preferences: MailPreferences) -> Result<(), AppError>;
    /// Mails everyone who opted in to `kind` (and no one else); returns how many.
    async fn send_announcement(
        &self,
        admin: Admin,
        kind: Mailing,
        subject: String,
        body: String,
    ) -> Result<u32, AppError>;
}

pub type Accounts = Arc<dyn AccountService>;

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
