//! Signed download links: every media or archive URL a page gets carries an expiry and an
//! HMAC-SHA256 over (path, owner, expiry). The owner is the session's workspace, so a link is
//! bound to its object and its owner; a changed, foreign or expired link gets 403. Pages ask
//! for links each time they render, so the ones in a page are always fresh.

use app::error::AppError;
use app::ids::OwnerId;
use serde::Deserialize;

use crate::platform::crypto::Keyring;
use crate::platform::db::now;

#[derive(Clone, Debug)]
pub struct Links {
    keys: Keyring,
    ttl_secs: i64,
}

/// The query part of a signed link.
#[derive(Debug, Default, Deserialize)]
pub struct Signature {
    pub exp: Option<i64>,
    pub sig: Option<String>,
}

fn message(path: &str, owner: OwnerId, expires: i64) -> String {
    format!("{path}\n{owner}\n{expires}")
}

impl Links {
    pub fn new(keys: Keyring, ttl_secs: i64) -> Self {
        Self { keys, ttl_secs }
    }

    /// `path` signed for `owner`, valid for the configured time from now.
    pub fn sign(&self, path: &str, owner: OwnerId) -> String {
        self.sign_until(path, owner, now() + self.ttl_secs)
    }

    pub fn sign_until(&self, path: &str, owner: OwnerId, expires: i64) -> String {
        format!("{path}?exp={expires}&sig={}", self.keys.sign(&message(path, owner, expires)))
    }

    /// Accepts the link only for the owner it was signed for, before it expires.
    pub fn check(&self, path: &str, owner: Option<OwnerId>, signature: &Signature) -> Result<OwnerId, AppError> {
        let refused =
            || AppError::Forbidden("This link is not valid or has expired. Reload the page for a fresh one.".into());
        let (Some(owner), Some(expires), Some(sig)) = (owner, signature.exp, signature.sig.as_deref()) else {
            return Err(refused());
        };
        if expires < now() || !self.keys.verify(&message(path, owner, expires), sig) {
            return Err(refused());
        }
        Ok(owner)
    }
}
