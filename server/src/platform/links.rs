//! Signed download links: every media or archive URL a page gets carries an expiry and an
//! HMAC-SHA256 over (path, expiry), so a changed or expired link gets 403. Who may use it is
//! decided after that by the object's owner: a valid link in someone else's session answers 404,
//! like any object they do not own (nothing reveals that it exists). Pages ask for links each
//! time they render, so the ones in a page are always fresh.

use app::accounts::AccountService;
use app::error::AppError;
use app::ids::OwnerId;
use serde::Deserialize;
use tower_sessions::Session;

use crate::platform::crypto::SharedKeyring;
use crate::platform::db::now;

/// Shares the keyring with storage, so a rotation in this process kills the old links at once.
#[derive(Clone, Debug)]
pub struct Links {
    keys: SharedKeyring,
    ttl_secs: i64,
}

/// The query part of a signed link.
#[derive(Debug, Default, Deserialize)]
pub struct Signature {
    pub exp: Option<i64>,
    pub sig: Option<String>,
}

fn message(path: &str, expires: i64) -> String {
    format!("{path}\n{expires}")
}

impl Links {
    pub fn new(keys: SharedKeyring, ttl_secs: i64) -> Self {
        Self { keys, ttl_secs }
    }

    /// `path` signed, valid for the configured time from now.
    pub fn sign(&self, path: &str) -> String {
        self.sign_until(path, now() + self.ttl_secs)
    }

    pub fn sign_until(&self, path: &str, expires: i64) -> String {
        format!("{path}?exp={expires}&sig={}", self.keys.current().sign(&message(path, expires)))
    }

    /// Accepts the link as it was signed, before it expires; the caller then looks the object up
    /// for the session's own workspace.
    pub fn check(&self, path: &str, signature: &Signature) -> Result<(), AppError> {
        let refused =
            || AppError::Forbidden("This link is not valid or has expired. Reload the page for a fresh one.".into());
        let (Some(expires), Some(sig)) = (signature.exp, signature.sig.as_deref()) else {
            return Err(refused());
        };
        if expires < now() || !self.keys.current().verify(&message(path, expires), sig) {
            return Err(refused());
        }
        Ok(())
    }

    /// The workspace a valid link is used from: this session's own (`NotFound` without one).
    pub async fn owner_for(
        &self,
        path: &str,
        signature: &Signature,
        accounts: &dyn AccountService,
        session: &Session,
    ) -> Result<OwnerId, AppError> {
        self.check(path, signature)?;
        accounts.workspace(session).await?.ok_or(AppError::NotFound)
    }
}
