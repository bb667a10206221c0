//! Argon2id password hashes, computed on the blocking pool so a sign-in never stalls the runtime.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use app::error::AppError;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

/// Rejects passwords that are too short or absurdly long (hashing cost is bounded either way).
pub fn check_strength(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(AppError::BadRequest(format!("Use a password of at least {MIN_LENGTH} characters.")));
    }
    if length > MAX_LENGTH {
        return Err(AppError::BadRequest(format!("Use a password of at most {MAX_LENGTH} characters.")));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "password hashing task failed");
        AppError::Internal
    })
}

/// A PHC string (`$argon2id$v=19$...`) for `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, AppError> {
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string())
    })
    .await?
    .map_err(|error| {
        tracing::error!(%error, "hashing a password failed");
        AppError::Internal
    })
}

/// Whether `password` matches `stored`. With no stored hash (no such account, or one without a
/// password) it checks against a fixed hash anyway, so the answer takes the same time.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let known = stored.is_some();
    blocking(move || {
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is unreadable");
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify_only_the_right_password() {
        let first = hash("correct horse battery".into()).await.unwrap();
        let second = hash("correct horse battery".into()).await.unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("correct horse battery".into(), Some(first.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(first)).await.unwrap());
        assert!(!verify("no account has this password".into(), None).await.unwrap());
    }

    #[test]
    fn short_and_overlong_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"x".repeat(300)).is_err());
        assert!(check_strength("long enough pass").is_ok());
    }
}
