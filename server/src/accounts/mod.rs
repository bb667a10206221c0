//! Accounts and sign-in: e-mail + password (Argon2id, rate-limited, no account enumeration),
//! e-mail verification and password reset, sign-in through OpenID Connect providers, sessions
//! (rotated at sign-in, idle and absolute timeouts, a list, "sign out everywhere") and roles.
//! `AccountStore` keeps `app::accounts::AccountService`; the OIDC routes live in `oidc.rs`.

pub mod mail;
pub mod oidc;
pub mod passwords;
pub mod repo;

use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tower_sessions::Session;
use uuid::Uuid;

use app::accounts::AccountService;
use app::accounts::{Account, AdminOverview, Provider, SessionInfo};
use app::error::AppError;
use app::ids::{AccountId, Admin, OwnerId, Role, SignedIn};
use app::server_fn::{session_owner, ACCOUNT_KEY, DEVICE_KEY, OWNER_KEY, SIGNED_IN_AT_KEY};

use self::mail::Mailer;
use self::repo::AccountRow;
use crate::platform::db::{now, Db};
use crate::platform::error::OrInternal;
use crate::platform::sessions::DbSessionStore;

/// Failed password sign-ins allowed per address within the window, before a pause.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
const VERIFY_LINK_SECS: i64 = 24 * 3600;
const RESET_LINK_SECS: i64 = 3600;

/// A person as an OpenID provider vouched for them.
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

pub struct AccountStore {
    pub db: Db,
    pub sessions: DbSessionStore,
    pub mailer: Mailer,
    pub public_url: String,
    pub providers: Arc<oidc::Providers>,
}

fn session_failed(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "session storage failed");
    AppError::Internal
}

/// Lower-cased and trimmed, or a clear error for what is not an address.
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AppError::BadRequest("Enter a valid e-mail address.".into()))
    }
}

fn clean_name(name: &str, email: &str) -> Result<String, AppError> {
    let name: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    let name = if name.is_empty() { email.split('@').next().unwrap_or("You").to_string() } else { name };
    if name.chars().count() > 80 {
        return Err(AppError::BadRequest("Use a name of at most 80 characters.".into()));
    }
    Ok(name)
}

/// A random single-use token for a link, and the hash that is stored instead of it.
fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = hex(&bytes);
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public name of a session: a hash of its id, so the id itself never appears in a page.
fn session_handle(id: &tower_sessions::session::Id) -> String {
    token_hash(&id.to_string())[..16].to_string()
}

pub use app::accounts::describe_device;

impl From<&AccountRow> for Account {
    fn from(row: &AccountRow) -> Self {
        Account {
            id: row.id,
            display_name: row.display_name.clone(),
            email: row.email.clone(),
            email_verified: row.email_verified,
            has_password: row.password_hash.is_some(),
            role: row.role,
        }
    }
}

impl AccountStore {
    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    /// Sends in the background: the answer to the request must not wait for (or reveal) mail.
    fn send_later(&self, to: String, subject: &'static str, body: String) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let _ = mailer.send(&to, subject, body).await;
        });
    }

    pub(crate) async fn signed_in(&self, session: &Session) -> Result<AccountRow, AppError> {
        let id = session.get::<AccountId>(ACCOUNT_KEY).await.map_err(session_failed)?.ok_or(AppError::Unauthorized)?;
        self.db.account_by_id(id).await?.ok_or(AppError::Unauthorized)
    }

    /// The workspace for a new account: the visitor's guest workspace when they have one that
    /// no account owns yet, otherwise a fresh one.
    async fn workspace_for_new_account(&self, session: &Session) -> Result<OwnerId, AppError> {
        if let Some(guest) = session_owner(session).await? {
            if !self.db.is_account_workspace(guest).await? && self.db.owner_exists(guest).await? {
                return Ok(guest);
            }
        }
        let owner = OwnerId(Uuid::new_v4());
        self.db.insert_guest_owner(owner).await?;
        Ok(owner)
    }

    /// Signs `account` in on this browser: adopts the guest workspace, rotates the session id
    /// (a fixated id is worthless), and records when and on what.
    pub async fn start_session(
        &self,
        session: &Session,
        account: &AccountRow,
        device: &str,
    ) -> Result<Account, AppError> {
        if let Some(guest) = session_owner(session).await? {
            if guest != account.owner && !self.db.is_account_workspace(guest).await? {
                self.db.adopt_workspace(guest, account.owner).await?;
            }
        }
        session.cycle_id().await.map_err(session_failed)?;
        session.insert(OWNER_KEY, account.owner).await.map_err(session_failed)?;
        session.insert(ACCOUNT_KEY, account.id).await.map_err(session_failed)?;
        session.insert(SIGNED_IN_AT_KEY, now()).await.map_err(session_failed)?;
        session.insert(DEVICE_KEY, device).await.map_err(session_failed)?;
        let detail = format!("Signed in on {device}.");
        self.db.audit_or_log(Some(account.id), Some(account.id), crate::data::audit::Event::SignedIn, &detail).await;
        tracing::info!(account = %account.id, "signed in");
        Ok(Account::from(account))
    }

    /// Sign-in through a provider: the account is found by (issuer, subject) only; a first
    /// sign-in creates one (taking the e-mail only when verified and not already in use).
    pub async fn sign_in_with_identity(
        &self,
        session: &Session,
        identity: Identity,
        device: &str,
    ) -> Result<Account, AppError> {
        let known = self.db.identity_account(&identity.issuer, &identity.subject).await?;
        let account = match known {
            Some(id) => self.db.account_by_id(id).await?.ok_or(AppError::Internal)?,
            None => {
                let email = match identity.email.as_deref().map(normalize_email) {
                    Some(Ok(email)) if identity.email_verified => {
                        let taken = self.db.account_by_email(&email).await?.is_some();
                        (!taken).then_some(email)
                    }
                    _ => None,
                };
                let name = identity.name.clone().unwrap_or_default();
                let row = AccountRow {
                    id: AccountId(Uuid::new_v4()),
                    owner: self.workspace_for_new_account(session).await?,
                    display_name: clean_name(&name, email.as_deref().unwrap_or("You"))?,
                    email_verified: email.is_some(),
                    email,
                    password_hash: None,
                    role: Role::User,
                };
                self.db.insert_account(&row).await?;
                self.db.insert_identity(&identity.issuer, &identity.subject, row.id).await?;
                row
            }
        };
        self.start_session(session, &account, device).await
    }

    /// The administrator signed in on this session, for the server's own routes; anyone else gets
    /// `NotFound` (the one admin check is `SignedIn::admin`).
    pub async fn admin(&self, session: &Session) -> Result<Admin, AppError> {
        self.identify(session).await?.ok_or(AppError::NotFound)?.admin()
    }

    /// Refuses while the address has had too many recent failures.
    async fn check_rate(&self, key: &str) -> Result<(), AppError> {
        let failures = self.db.recent_login_failures(key, now() - FAILURE_WINDOW_SECS).await?;
        if failures >= MAX_FAILURES {
            return Err(AppError::TooManyRequests(
                "Too many failed attempts. Wait 15 minutes, or reset your password.".into(),
            ));
        }
        Ok(())
    }

    async fn record_failure(&self, key: &str) -> Result<(), AppError> {
        self.db.record_login_failure(key, now() - FAILURE_WINDOW_SECS).await.or_internal("recording a failure")
    }
}

/// The provider sign-in routes (the rest of sign-in is server functions).
/// Generic over the state, so this feature needs no more of it than its own store.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AccountStore>: axum::extract::FromRef<S>,
{
    use axum::routing::get;
    axum::Router::new()
        .route("/auth/{provider}/start", get(oidc::start))
        .route("/auth/{provider}/callback", get(oidc::callback))
}

/// Ends a signed-in session whose sign-in is older than the absolute limit, however active it
/// has been (the idle limit is the session record's own expiry).
pub async fn enforce_absolute_timeout(
    State(max_age_secs): State<i64>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    if let Ok(Some(signed_in_at)) = session.get::<i64>(SIGNED_IN_AT_KEY).await {
        if now() - signed_in_at > max_age_secs {
            if let Err(error) = session.flush().await {
                tracing::warn!(%error, "ending an expired session failed");
            }
        }
    }
    next.run(request).await
}

const WRONG_LOGIN: &str = "The e-mail address or password is not right.";

#[async_trait]
impl AccountService for AccountStore {
    fn providers(&self) -> Vec<Provider> {
        self.providers.list()
    }

    async fn current(&self, session: &Session) -> Result<Option<Account>, AppError> {
        match self.signed_in(session).await {
            Ok(row) => Ok(Some(Account::from(&row))),
            Err(AppError::Unauthorized) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn identify(&self, session: &Session) -> Result<Option<SignedIn>, AppError> {
        match self.signed_in(session).await {
            Ok(row) => Ok(Some(SignedIn { account: row.id, owner: row.owner, role: row.role })),
            Err(AppError::Unauthorized) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn sign_up(
        &self,
        session: &Session,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<(), AppError> {
        if session.get::<AccountId>(ACCOUNT_KEY).await.map_err(session_failed)?.is_some() {
            return Err(AppError::BadRequest("You are signed in already; sign out to create another account.".into()));
        }
        let email = normalize_email(&email)?;
        passwords::check_strength(&password)?;
        let display_name = clean_name(&display_name, &email)?;
        // Hashed whether or not the address is taken, so both answers take as long.
        let hash = passwords::hash(password).await?;
        if self.db.account_by_email(&email).await?.is_some() {
            self.send_later(
                email,
                "Someone tried to sign up with your address",
                format!(
                    "Someone (perhaps you) tried to create an Atelier account with this address, which already has one.\n\n\
                     Sign in: {}\nForgot your password? {}\n\nIf it was not you, you can ignore this message.\n",
                    self.link("/signin"),
                    self.link("/reset")
                ),
            );
            return Ok(());
        }
        let row = AccountRow {
            id: AccountId(Uuid::new_v4()),
            owner: self.workspace_for_new_account(session).await?,
            email: Some(email.clone()),
            email_verified: false,
            password_hash: Some(hash),
            display_name,
            role: Role::User,
        };
        if let Err(error) = self.db.insert_account(&row).await {
            // Two sign-ups for one address at once: the second is answered like any taken one.
            tracing::info!(%error, "sign-up raced another for the same address");
            return Ok(());
        }
        let (token, hash) = new_token();
        self.db.insert_email_token(&hash, row.id, "verify", now() + VERIFY_LINK_SECS).await?;
        self.send_later(
            email,
            "Confirm your e-mail address for Atelier",
            format!(
                "Welcome to Atelier, {}.\n\nOpen this link within 24 hours to confirm your address and sign in:\n{}\n",
                row.display_name,
                self.link(&format!("/verify?token={token}"))
            ),
        );
        Ok(())
    }

    async fn verify_email(&self, session: &Session, token: String, device: String) -> Result<Account, AppError> {
        let expired = || AppError::BadRequest("This link has expired or was already used.".into());
        let id = self.db.take_email_token(&token_hash(token.trim()), "verify").await?.ok_or_else(expired)?;
        self.db.set_email_verified(id).await?;
        let account = self.db.account_by_id(id).await?.ok_or_else(expired)?;
        self.start_session(session, &account, &device).await
    }

    async fn sign_in(
        &self,
        session: &Session,
        email: String,
        password: String,
        device: String,
    ) -> Result<Account, AppError> {
        let key = normalize_email(&email).map_err(|_| AppError::BadRequest(WRONG_LOGIN.into()))?;
        self.check_rate(&key).await?;
        let account = self.db.account_by_email(&key).await?;
        let matches = passwords::verify(password, account.as_ref().and_then(|a| a.password_hash.clone())).await?;
        let Some(account) = account.filter(|_| matches) else {
            self.record_failure(&key).await?;
            return Err(AppError::BadRequest(WRONG_LOGIN.into()));
        };
        self.db.clear_login_failures(&key).await?;
        if !account.email_verified {
            let (token, hash) = new_token();
            self.db.insert_email_token(&hash, account.id, "verify", now() + VERIFY_LINK_SECS).await?;
            self.send_later(
                key,
                "Confirm your e-mail address for Atelier",
                format!(
                    "Open this link within 24 hours to confirm your address and sign in:\n{}\n",
                    self.link(&format!("/verify?token={token}"))
                ),
            );
            return Err(AppError::Forbidden(
                "Confirm your e-mail address first: we have sent you the link again.".into(),
            ));
        }
        self.start_session(session, &account, &device).await
    }

    async fn sign_out(&self, session: &Session) -> Result<(), AppError> {
        session.flush().await.map_err(session_failed)
    }

    async fn sign_out_everywhere(&self, session: &Session) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        self.sessions.delete_for_account(&account.id.to_string(), None).await?;
        session.flush().await.map_err(session_failed)
    }

    async fn change_password(&self, session: &Session, current: String, new: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let Some(stored) = account.password_hash.clone() else {
            return Err(AppError::BadRequest(
                "This account signs in through a provider and has no password to change.".into(),
            ));
        };
        let key = account.email.clone().unwrap_or_else(|| account.id.to_string());
        self.check_rate(&key).await?;
        passwords::check_strength(&new)?;
        if !passwords::verify(current, Some(stored)).await? {
            self.record_failure(&key).await?;
            return Err(AppError::BadRequest("The current password is not right.".into()));
        }
        let hash = passwords::hash(new).await?;
        self.db.set_password_hash(account.id, &hash).await?;
        // Anyone signed in elsewhere with the old password is signed out.
        self.sessions.delete_for_account(&account.id.to_string(), session.id()).await?;
        Ok(())
    }

    async fn request_password_reset(&self, email: String) -> Result<(), AppError> {
        let Ok(email) = normalize_email(&email) else { return Ok(()) };
        if let Some(account) = self.db.account_by_email(&email).await? {
            let (token, hash) = new_token();
            self.db.insert_email_token(&hash, account.id, "reset", now() + RESET_LINK_SECS).await?;
            self.send_later(
                email,
                "Reset your Atelier password",
                format!(
                    "Open this link within an hour to choose a new password:\n{}\n\nIf you did not ask for this, ignore this message; your password stays as it is.\n",
                    self.link(&format!("/reset?token={token}"))
                ),
            );
        }
        Ok(())
    }

    async fn reset_password(
        &self,
        session: &Session,
        token: String,
        new: String,
        device: String,
    ) -> Result<Account, AppError> {
        passwords::check_strength(&new)?;
        let expired = || AppError::BadRequest("This link has expired or was already used.".into());
        let id = self.db.take_email_token(&token_hash(token.trim()), "reset").await?.ok_or_else(expired)?;
        let hash = passwords::hash(new).await?;
        self.db.set_password_hash(id, &hash).await?;
        // The link reached the mailbox, so the address is proven.
        self.db.set_email_verified(id).await?;
        self.sessions.delete_for_account(&id.to_string(), None).await?;
        let account = self.db.account_by_id(id).await?.ok_or_else(expired)?;
        self.start_session(session, &account, &device).await
    }

    async fn sessions(&self, session: &Session) -> Result<Vec<SessionInfo>, AppError> {
        let account = self.signed_in(session).await?;
        let current = session.id().map(|id| session_handle(&id));
        let mut list: Vec<SessionInfo> = self
            .sessions
            .for_account(&account.id.to_string())
            .await?
            .into_iter()
            .map(|record| {
                let handle = session_handle(&record.id);
                SessionInfo {
                    current: current.as_deref() == Some(handle.as_str()),
                    handle,
                    device: record.data.get(DEVICE_KEY).and_then(|v| v.as_str()).unwrap_or("A browser").to_string(),
                    signed_in_at: record.data.get(SIGNED_IN_AT_KEY).and_then(|v| v.as_i64()).unwrap_or(0),
                    expires_at: record.expiry_date.unix_timestamp(),
                }
            })
            .collect();
        list.sort_by_key(|info| (!info.current, -info.signed_in_at));
        Ok(list)
    }

    async fn end_session(&self, session: &Session, handle: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let records = self.sessions.for_account(&account.id.to_string()).await?;
        let record = records.iter().find(|record| session_handle(&record.id) == handle).ok_or(AppError::NotFound)?;
        if Some(record.id) == session.id() {
            return session.flush().await.map_err(session_failed);
        }
        use tower_sessions::SessionStore;
        self.sessions.delete(&record.id).await.map_err(session_failed)
    }

    async fn admin_overview(&self, _admin: Admin) -> Result<AdminOverview, AppError> {
        let page_views = self
            .db
            .page_view_totals()
            .await?
            .into_iter()
            .map(|(path, views, visitors)| app::accounts::PageViews { path, views, visitors })
            .collect();
        Ok(AdminOverview { accounts: self.db.admin_accounts().await?, page_views })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_nonsense_is_refused() {
        assert_eq!(normalize_email("  Ada@Example.ORG ").unwrap(), "ada@example.org");
        for bad in ["", "ada", "@example.org", "ada@", "ada@localhost", "a da@example.org", "ada@.org"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devices_are_described_briefly() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert_eq!(describe_device(chrome), "Chrome on Linux");
        assert_eq!(describe_device("curl/8"), "A browser");
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), hash_a);
        assert_ne!(a, hash_a);
    }
}
