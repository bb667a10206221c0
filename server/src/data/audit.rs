//! The audit log: sign-ins, exports, deletions, consent changes and administrators' views of
//! someone's data, appended and never edited. People read their own entries; admins read all.

use app::data::AuditEntry;
use app::ids::AccountId;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::platform::db::{now, Db};

/// What can be audited; the text is what the log stores and shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    SignedIn,
    ConsentChanged,
    ExportRequested,
    ExportDownloaded,
    GalleryItemDeleted,
    AccountDeleted,
    AdminViewedWorkspace,
    /// An administrator released or deleted an upload moderation held.
    ModerationDecision,
    SignInFailed,
    PasswordChanged,
    PasswordReset,
    /// The account page: display name, e-mail address, two-factor sign-in, mail choices.
    ProfileChanged,
    EmailChanged,
    TwoFactorChanged,
    MailPreferencesChanged,
    /// An administrator mailed those who opted in to a mailing.
    AnnouncementSent,
    /// Sessions ended from the session list or by "sign out everywhere".
    SessionsEnded,
    /// An administrator listed every account, or the uploads moderation held.
    AdminListedAccounts,
    AdminListedHeld,
    /// An administrator granted credits to an account.
    CreditsGranted,
    /// An API key was made or revoked on the account page.
    ApiKeyCreated,
    ApiKeyRevoked,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignedIn => "signed_in",
            Event::ConsentChanged => "consent_changed",
            Event::ExportRequested => "export_requested",
            Event::ExportDownloaded => "export_downloaded",
            Event::GalleryItemDeleted => "gallery_item_deleted",
            Event::AccountDeleted => "account_deleted",
            Event::AdminViewedWorkspace => "admin_viewed_workspace",
            Event::ModerationDecision => "moderation_decision",
            Event::SignInFailed => "sign_in_failed",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::ProfileChanged => "profile_changed",
            Event::EmailChanged => "email_changed",
            Event::TwoFactorChanged => "two_factor_changed",
            Event::MailPreferencesChanged => "mail_preferences_changed",
            Event::AnnouncementSent => "announcement_sent",
            Event::SessionsEnded => "sessions_ended",
            Event::AdminListedAccounts => "admin_listed_accounts",
            Event::AdminListedHeld => "admin_listed_held",
            Event::CreditsGranted => "credits_granted",
            Event::ApiKeyCreated => "api_key_created",
            Event::ApiKeyRevoked => "api_key_revoked",
        }
    }
}

fn entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        account: row.try_get("account_id")?,
        actor: row.try_get("actor_id")?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    pub async fn audit(
        &self,
        account: Option<AccountId>,
        actor: Option<AccountId>,
        event: Event,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO audit_log (id, account_id, actor_id, action, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(Uuid::now_v7().to_string())
            .bind(account.map(|a| a.to_string()))
            .bind(actor.map(|a| a.to_string()))
            .bind(event.as_str())
            .bind(detail)
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Best effort for events whose action already happened: a failure is logged loudly.
    pub async fn audit_or_log(&self, account: Option<AccountId>, actor: Option<AccountId>, event: Event, detail: &str) {
        if let Err(error) = self.audit(account, actor, event, detail).await {
            tracing::error!(%error, event = event.as_str(), "writing the audit log failed");
        }
    }

    /// Entries about `account` (or every entry when `None`), newest first.
    pub async fn audit_entries(&self, account: Option<AccountId>, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let rows = match account {
            Some(account) => {
                sqlx::query("SELECT * FROM audit_log WHERE account_id = $1 OR actor_id = $1 ORDER BY id DESC LIMIT $2")
                    .bind(account.to_string())
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM audit_log ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(entry).collect()
    }
}
