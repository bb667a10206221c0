//! Accounts and sign-in: e-mail + password (Argon2id, rate-limited, no account enumeration),
//! e-mail verification and password reset, sign-in through OpenID Connect providers, sessions
//! (rotated at sign-in, idle and absolute timeouts, a list, "sign out everywhere") and roles.
//! `AccountStore` keeps `app::accounts::AccountService`; the OIDC routes live in `oidc.rs`, the
//! account page's security side (e-mail change, two-factor sign-in, mailings) in `security.rs`.

pub mod mail;
pub mod notices;
pub mod oidc;
pub mod passwords;
pub mod repo;
pub mod security;
pub mod totp;

use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;
use uuid::Uuid;

use app::accounts::AccountService;
use app::accounts::{
    Account, AdminOverview, MailPreferences, Mailing, Provider, SessionInfo, SignInStep, TwoFactorStatus,
};
use app::error::AppError;
use app::ids::{AccountId, Admin, OwnerId, Role, SignedIn};
use app::server_fn::{ACCOUNT_KEY, DEVICE_KEY, FLOW_KEY, OWNER_KEY, SIGNED_IN_AT_KEY, STARTED_AT_KEY};

use self::mail::Mailer;
use self::notices::SecurityNotice;
use self::repo::AccountRow;
use crate::data::audit::Event;
use crate::platform::crypto::{hex, sha256_hex, SharedKeyring};
use crate::platform::db::{now, Db};
use crate::platform::error::OrInternal;
use crate::platform::rate::RateLimits;
use crate::platform::sessions::{stored_key, DbSessionStore};

/// Failed password sign-ins allowed per address within the window, before a pause.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
pub const BACK_OFF_SECS: i64 = 30;
pub const MAX_BACK_OFF_SECS: i64 = 15 * 60;
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
    pub limits: Arc<RateLimits>,
    /// Seals two-factor secrets and signs unsubscribe links.
    pub keys: SharedKeyring,
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
    sha256_hex(token)
}

/// The public name of a session: the start of its stored key, so the id never appears in a page.
fn session_handle(stored_key: &str) -> String {
    stored_key.chars().take(16).collect()
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
    /// Argon2 in one of a few slots: each hash takes 19 MiB and a core for tens of milliseconds.
    async fn hash_password(&self, password: String) -> Result<String, AppError> {
        let _slot = self.limits.password_slot().await?;
        passwords::hash(password).await
    }

    async fn verify_password(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let _slot = self.limits.password_slot().await?;
        passwords::verify(password, stored).await
    }

    /// Sends in the background, at most the configured number an hour to one address (beyond,
    /// the mail is left unsent and logged: the page's answer never says which happened).
    fn send_later(&self, to: String, subject: &'static str, body: String) {
        if !self.limits.mail_to(&to) {
            tracing::warn!(subject, "mail not sent: this address had its hourly share");
            return;
        }
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let _ = mailer.send(&to, subject, body).await;
        });
    }

    pub(crate) async fn signed_in(&self, session: &Session) -> Result<AccountRow, AppError> {
        let id = session.get::<AccountId>(ACCOUNT_KEY).await.map_err(session_failed)?.ok_or(AppError::Unauthorized)?;
        self.db.account_by_id(id).await?.ok_or(AppError::Unauthorized)
    }

    /// The workspace for an account made by signing in through a provider (a sign-in proper):
    /// the visitor's guest workspace when they have one, otherwise a fresh one.
    async fn workspace_for_new_account(&self, session: &Session) -> Result<OwnerId, AppError> {
        if let Some(guest) = self.workspace(session).await? {
            if !self.db.is_account_workspace(guest).await? {
                return Ok(guest);
            }
        }
        self.new_workspace().await
    }

    async fn new_workspace(&self) -> Result<OwnerId, AppError> {
        let owner = OwnerId(Uuid::new_v4());
        self.db.insert_guest_owner(owner).await?;
        Ok(owner)
    }

    /// Remembers that this browser started a sign-up or reset for `email`: only here do its
    /// links sign in (and so bring this browser's guest workspace along).
    async fn start_flow(&self, session: &Session, email: &str) -> Result<(), AppError> {
        session.insert(FLOW_KEY, email).await.map_err(session_failed)
    }

    async fn started_here(&self, session: &Session, account: &AccountRow) -> Result<bool, AppError> {
        let flow = session.get::<String>(FLOW_KEY).await.map_err(session_failed)?;
        Ok(flow.is_some() && flow == account.email)
    }

    /// Signs `account` in on this browser: adopts the guest workspace, rotates the session id
    /// (a fixated id is worthless), and records when and on what (a new browser is mailed about).
    pub async fn start_session(
        &self,
        session: &Session,
        account: &AccountRow,
        user_agent: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Account, AppError> {
        let device = describe_device(user_agent);
        if let Some(guest) = self.workspace(session).await? {
            if guest != account.owner && !self.db.is_account_workspace(guest).await? {
                self.db.adopt_workspace(guest, account.owner).await?;
            }
        }
        session.cycle_id().await.map_err(session_failed)?;
        // The account names the workspace from now on; a guest key left behind would outlive it.
        for key in [OWNER_KEY, STARTED_AT_KEY, FLOW_KEY, security::PENDING_KEY] {
            session.remove_value(key).await.map_err(session_failed)?;
        }
        session.insert(ACCOUNT_KEY, account.id).await.map_err(session_failed)?;
        session.insert(SIGNED_IN_AT_KEY, now()).await.map_err(session_failed)?;
        session.insert(DEVICE_KEY, &device).await.map_err(session_failed)?;
        let detail = format!("Signed in on {device}.");
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::SignedIn, &detail).await;
        tracing::info!(account = %account.id, "signed in");
        self.note_device(account, user_agent, &device, ip).await;
        Ok(Account::from(account))
    }

    /// Sign-in through a provider: the account is found by (issuer, subject) only; a first
    /// sign-in creates one (taking the e-mail only when verified and not already in use). An
    /// account with two-factor sign-in on still needs its code.
    pub async fn sign_in_with_identity(
        &self,
        session: &Session,
        identity: Identity,
        user_agent: &str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<SignInStep, AppError> {
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
        self.finish_sign_in(session, &account, user_agent, ip).await
    }

    /// The administrator signed in on this session, for the server's own routes; anyone else gets
    /// `NotFound` (the one admin check is `SignedIn::admin`).
    pub async fn admin(&self, session: &Session) -> Result<Admin, AppError> {
        self.identify(session).await?.ok_or(AppError::NotFound)?.admin()
    }

    /// Exponential back-off per account and client address: the first `MAX_FAILURES` failures
    /// in the window are free, then each one doubles the wait before the next try (from
    /// `BACK_OFF_SECS`, at most `MAX_BACK_OFF_SECS`). Nobody is locked out: the wait ends, and
    /// failures from one address never delay another.
    async fn back_off(&self, key: &str) -> Result<(), AppError> {
        let (failures, last) = self.db.recent_login_failures(key, now() - FAILURE_WINDOW_SECS).await?;
        if failures < MAX_FAILURES {
            return Ok(());
        }
        let doublings = u32::try_from(failures - MAX_FAILURES).unwrap_or(u32::MAX).min(16);
        let wait = BACK_OFF_SECS.saturating_mul(1 << doublings).min(MAX_BACK_OFF_SECS);
        let left = last + wait - now();
        if left <= 0 {
            return Ok(());
        }
        Err(AppError::TooManyRequests {
            message: format!("Too many failed attempts. Try again in {left} seconds, or reset your password."),
            retry_after_secs: left.unsigned_abs(),
        })
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
        .route("/unsubscribe", get(security::unsubscribe_page).post(security::unsubscribe))
}

/// Ends a session whose sign-in (or, for a guest, whose workspace) is older than the absolute
/// limit, however active it has been (the idle limit is the session record's own expiry).
pub async fn enforce_absolute_timeout(
    State(max_age_secs): State<i64>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let began = match session.get::<i64>(SIGNED_IN_AT_KEY).await {
        Ok(Some(at)) => Some(at),
        _ => session.get::<i64>(STARTED_AT_KEY).await.ok().flatten(),
    };
    if began.is_some_and(|at| now() - at > max_age_secs) {
        if let Err(error) = session.flush().await {
            tracing::warn!(%error, "ending an expired session failed");
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

    async fn workspace(&self, session: &Session) -> Result<Option<OwnerId>, AppError> {
        if session.get::<AccountId>(ACCOUNT_KEY).await.map_err(session_failed)?.is_some() {
            return Ok(self.identify(session).await?.map(|signed_in| signed_in.owner));
        }
        match session.get::<OwnerId>(OWNER_KEY).await.map_err(session_failed)? {
            // An account's workspace named by a session not signed in to it (a record from before
            // this rule) is worthless: the key goes, and the visitor starts afresh.
            Some(owner) if self.db.is_account_workspace(owner).await? => {
                tracing::warn!(%owner, "a guest session named an account's workspace; dropped");
                session.remove_value(OWNER_KEY).await.map_err(session_failed)?;
                Ok(None)
            }
            owner => Ok(owner),
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
        let hash = self.hash_password(password).await?;
        self.start_flow(session, &email).await?;
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
        // A workspace of its own: sign-up before the address is confirmed grants nothing, and the
        // guest's photos move in only when this browser confirms (`start_session`).
        let row = AccountRow {
            id: AccountId(Uuid::new_v4()),
            owner: self.new_workspace().await?,
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

    async fn verify_email(
        &self,
        session: &Session,
        token: String,
        user_agent: String,
    ) -> Result<Option<Account>, AppError> {
        let expired = || AppError::BadRequest("This link has expired or was already used.".into());
        let id = self.db.take_email_token(&token_hash(token.trim()), "verify").await?.ok_or_else(expired)?;
        self.db.set_email_verified(id).await?;
        let account = self.db.account_by_id(id).await?.ok_or_else(expired)?;
        // A link proves the mailbox only: with two-factor on, the person signs in with a code.
        if !self.started_here(session, &account).await? || self.db.two_factor_enabled(id).await? {
            return Ok(None);
        }
        self.start_session(session, &account, &user_agent, None).await.map(Some)
    }

    async fn sign_in(
        &self,
        session: &Session,
        email: String,
        password: String,
        user_agent: String,
        from: std::net::IpAddr,
    ) -> Result<SignInStep, AppError> {
        let key = normalize_email(&email).map_err(|_| AppError::BadRequest(WRONG_LOGIN.into()))?;
        // Counted before hashing, so guesses sent in parallel are counted as they arrive.
        self.limits.sign_in_to(&key)?;
        let attempt = format!("{key} {from}");
        self.back_off(&attempt).await?;
        let account = self.db.account_by_email(&key).await?;
        let stored = account.as_ref().and_then(|a| a.password_hash.clone());
        let matches = self.verify_password(password, stored).await?;
        let Some(account) = account.clone().filter(|_| matches) else {
            self.record_failure(&attempt).await?;
            if let Some(account) = &account {
                let detail = format!("A sign-in with a wrong password on {}.", describe_device(&user_agent));
                self.db.audit_or_log(Some(account.id), None, Event::SignInFailed, &detail).await;
            }
            return Err(AppError::BadRequest(WRONG_LOGIN.into()));
        };
        self.db.clear_login_failures(&attempt).await?;
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
        self.finish_sign_in(session, &account, &user_agent, Some(from)).await
    }

    async fn sign_in_code(&self, session: &Session, code: String) -> Result<Account, AppError> {
        self.second_step(session, code).await
    }

    async fn sign_out(&self, session: &Session) -> Result<(), AppError> {
        session.flush().await.map_err(session_failed)
    }

    async fn sign_out_everywhere(&self, session: &Session) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let ended = self.sessions.delete_for_account(&account.id.to_string(), None).await?;
        let detail = format!("Signed out everywhere: {ended} session(s) ended.");
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::SessionsEnded, &detail).await;
        session.flush().await.map_err(session_failed)
    }

    async fn change_password(&self, session: &Session, current: String, new: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let Some(stored) = account.password_hash.clone() else {
            return Err(AppError::BadRequest(
                "This account signs in through a provider and has no password to change.".into(),
            ));
        };
        let key = format!("{} password change", account.id);
        self.back_off(&key).await?;
        passwords::check_strength(&new)?;
        if !self.verify_password(current, Some(stored)).await? {
            self.record_failure(&key).await?;
            return Err(AppError::BadRequest("The current password is not right.".into()));
        }
        let hash = self.hash_password(new).await?;
        self.db.set_password_hash(account.id, &hash).await?;
        // Anyone signed in elsewhere with the old password is signed out, and old reset links die.
        let ended = self.sessions.delete_for_account(&account.id.to_string(), session.id()).await?;
        self.db.delete_email_tokens(account.id, "reset").await?;
        let detail = format!("Password changed; {ended} other session(s) ended.");
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::PasswordChanged, &detail).await;
        self.notify(account.id, SecurityNotice::PasswordChanged).await;
        Ok(())
    }

    async fn request_password_reset(&self, session: &Session, email: String) -> Result<(), AppError> {
        let Ok(email) = normalize_email(&email) else { return Ok(()) };
        // Remembered whether or not the address has an account, so the answer is the same.
        self.start_flow(session, &email).await?;
        if let Some(account) = self.db.account_by_email(&email).await? {
            let (token, hash) = new_token();
            // A new link supersedes any earlier one.
            self.db.delete_email_tokens(account.id, "reset").await?;
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
        user_agent: String,
    ) -> Result<Option<Account>, AppError> {
        passwords::check_strength(&new)?;
        let expired = || AppError::BadRequest("This link has expired or was already used.".into());
        let id = self.db.take_email_token(&token_hash(token.trim()), "reset").await?.ok_or_else(expired)?;
        let hash = self.hash_password(new).await?;
        self.db.set_password_hash(id, &hash).await?;
        // The link reached the mailbox, so the address is proven; every other link dies with it.
        self.db.set_email_verified(id).await?;
        self.db.delete_email_tokens(id, "reset").await?;
        let ended = self.sessions.delete_for_account(&id.to_string(), None).await?;
        let detail = format!("Password reset from an e-mailed link; {ended} session(s) ended.");
        self.db.audit_or_log(Some(id), Some(id), Event::PasswordReset, &detail).await;
        self.notify(id, SecurityNotice::PasswordChanged).await;
        let account = self.db.account_by_id(id).await?.ok_or_else(expired)?;
        if !self.started_here(session, &account).await? || self.db.two_factor_enabled(id).await? {
            return Ok(None);
        }
        self.start_session(session, &account, &user_agent, None).await.map(Some)
    }

    async fn sessions(&self, session: &Session) -> Result<Vec<SessionInfo>, AppError> {
        let account = self.signed_in(session).await?;
        let current = session.id().map(|id| session_handle(&stored_key(&id)));
        let mut list: Vec<SessionInfo> = self
            .sessions
            .for_account(&account.id.to_string())
            .await?
            .into_iter()
            .map(|record| {
                let handle = session_handle(&record.key);
                SessionInfo {
                    current: current.as_deref() == Some(handle.as_str()),
                    handle,
                    device: record.data.get(DEVICE_KEY).and_then(|v| v.as_str()).unwrap_or("A browser").to_string(),
                    signed_in_at: record.data.get(SIGNED_IN_AT_KEY).and_then(|v| v.as_i64()).unwrap_or(0),
                    expires_at: record.expires_at,
                }
            })
            .collect();
        list.sort_by_key(|info| (!info.current, -info.signed_in_at));
        Ok(list)
    }

    async fn end_session(&self, session: &Session, handle: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let records = self.sessions.for_account(&account.id.to_string()).await?;
        let record = records.iter().find(|record| session_handle(&record.key) == handle).ok_or(AppError::NotFound)?;
        let detail = format!(
            "Ended the session on {}.",
            record.data.get(DEVICE_KEY).and_then(|v| v.as_str()).unwrap_or("a browser")
        );
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::SessionsEnded, &detail).await;
        if session.id().map(|id| stored_key(&id)).as_deref() == Some(record.key.as_str()) {
            return session.flush().await.map_err(session_failed);
        }
        Ok(self.sessions.delete_key(&record.key).await?)
    }

    async fn admin_overview(&self, admin: Admin) -> Result<AdminOverview, AppError> {
        let actor = Some(admin.account());
        self.db.audit_or_log(None, actor, Event::AdminListedAccounts, "Listed every account.").await;
        let page_views = self
            .db
            .page_view_totals()
            .await?
            .into_iter()
            .map(|(path, views, visitors)| app::accounts::PageViews { path, views, visitors })
            .collect();
        Ok(AdminOverview { accounts: self.db.admin_accounts().await?, page_views })
    }

    async fn change_display_name(&self, session: &Session, display_name: String) -> Result<Account, AppError> {
        self.change_name(session, display_name).await
    }

    async fn request_email_change(
        &self,
        session: &Session,
        new_email: String,
        password: Option<String>,
    ) -> Result<(), AppError> {
        self.ask_email_change(session, new_email, password).await
    }

    async fn confirm_email_change(&self, token: String) -> Result<(), AppError> {
        self.finish_email_change(token).await
    }

    async fn two_factor_status(&self, session: &Session) -> Result<TwoFactorStatus, AppError> {
        self.two_factor_state(session).await
    }

    async fn start_two_factor(&self, session: &Session) -> Result<(), AppError> {
        self.begin_two_factor(session).await
    }

    async fn confirm_two_factor(&self, session: &Session, code: String) -> Result<(), AppError> {
        self.enable_two_factor(session, code).await
    }

    async fn turn_off_two_factor(&self, session: &Session, proof: String) -> Result<(), AppError> {
        self.disable_two_factor(session, proof).await
    }

    async fn renew_recovery_codes(&self, session: &Session, proof: String) -> Result<(), AppError> {
        self.renew_codes(session, proof).await
    }

    async fn mail_preferences(&self, session: &Session) -> Result<MailPreferences, AppError> {
        self.mailings(session).await
    }

    async fn set_mail_preferences(&self, session: &Session, preferences: MailPreferences) -> Result<(), AppError> {
        self.choose_mailings(session, preferences).await
    }

    async fn send_announcement(
        &self,
        admin: Admin,
        kind: Mailing,
        subject: String,
        body: String,
    ) -> Result<u32, AppError> {
        self.announce(admin, kind, subject, body).await
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
