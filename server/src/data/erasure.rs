//! "Delete my account": every row that names the account or its workspace goes in one
//! transaction (photos, versions, exports, sessions, identities, tokens, sign-in failures,
//! consent records and their pseudonymous ids, audit entries); usage records are kept for the
//! totals but no longer point at anyone. The files are queued for purging in the same
//! transaction and purged at once; anything storage refuses now, the hourly sweep finishes.

use app::error::AppError;
use sqlx::Row;

use super::DataStore;
use crate::accounts::repo::AccountRow;
use crate::data::audit::Event;
use crate::platform::db::{queue_purge, Db};
use crate::platform::storage::keys;

impl Db {
    pub async fn erase_account(&self, account: &AccountRow) -> Result<(), sqlx::Error> {
        let (id, owner) = (account.id.to_string(), account.owner.to_string());
        let mut tx = self.pool().begin().await?;
        let exports =
            sqlx::query("DELETE FROM export_jobs WHERE account_id = $1 OR owner_id = $2 RETURNING object_key")
                .bind(&id)
                .bind(&owner)
                .fetch_all(&mut *tx)
                .await?;
        queue_purge(&mut tx, &exports, &["object_key"]).await?;
        crate::ai_tools::queue::delete_owner_jobs(&mut tx, &owner).await?;
        for statement in [
            "DELETE FROM batches WHERE owner_id = $1",
            "DELETE FROM pipelines WHERE owner_id = $1",
            "DELETE FROM generations WHERE owner_id = $1",
            "DELETE FROM prompt_templates WHERE owner_id = $1",
            "DELETE FROM photo_index WHERE owner_id = $1",
            // People: faces before the people they point at.
            "DELETE FROM faces WHERE owner_id = $1",
            "DELETE FROM people WHERE owner_id = $1",
        ] {
            sqlx::query(statement).bind(&owner).execute(&mut *tx).await?;
        }
        for delete in [
            "DELETE FROM versions WHERE owner_id = $1 RETURNING object_key, thumbnail_key",
            "DELETE FROM photos WHERE owner_id = $1 RETURNING object_key, thumbnail_key",
        ] {
            let rows = sqlx::query(delete).bind(&owner).fetch_all(&mut *tx).await?;
            queue_purge(&mut tx, &rows, &["object_key", "thumbnail_key"]).await?;
        }
        // Consent records under any pseudonymous id this account ever used, then the account's.
        let consent_ids: Vec<String> =
            sqlx::query("SELECT DISTINCT consent_id FROM consent_records WHERE account_id = $1")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get("consent_id"))
                .collect::<Result<_, _>>()?;
        for consent_id in &consent_ids {
            sqlx::query("DELETE FROM consent_records WHERE consent_id = $1").bind(consent_id).execute(&mut *tx).await?;
        }
        let by_account = [
            "DELETE FROM consent_records WHERE account_id = $1",
            "DELETE FROM people_consents WHERE account_id = $1",
            // The call log before the keys it names; webhook secrets go with the workspace's files.
            "DELETE FROM api_calls WHERE account_id = $1",
            "DELETE FROM api_keys WHERE account_id = $1",
            "DELETE FROM audit_log WHERE account_id = $1 OR actor_id = $1",
            "DELETE FROM identities WHERE account_id = $1",
            "DELETE FROM email_tokens WHERE account_id = $1",
            "DELETE FROM email_changes WHERE account_id = $1",
            "DELETE FROM known_devices WHERE account_id = $1",
            "DELETE FROM recovery_codes WHERE account_id = $1",
            "DELETE FROM two_factor WHERE account_id = $1",
            "DELETE FROM sessions WHERE account_id = $1",
        ];
        for statement in by_account {
            sqlx::query(statement).bind(&id).execute(&mut *tx).await?;
        }
        // Payments: the link to the customer at the payment service goes; what was paid stays for
        // the books (accounting and tax law), naming nobody.
        sqlx::query("DELETE FROM billing_customers WHERE account_id = $1").bind(&id).execute(&mut *tx).await?;
        sqlx::query("UPDATE billing_payments SET account_id = NULL WHERE account_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        // Guest sessions of the same workspace (a signed-out browser) hold the owner id.
        sqlx::query("DELETE FROM sessions WHERE data LIKE $1").bind(format!("%{owner}%")).execute(&mut *tx).await?;
        if let Some(email) = &account.email {
            sqlx::query("DELETE FROM login_failures WHERE login_key = $1").bind(email).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE usage_records SET owner_id = NULL WHERE owner_id = $1")
            .bind(&owner)
            .execute(&mut *tx)
            .await?;
        // Credit entries are money records: kept for the books, with nothing that leads back.
        crate::billing::ledger::anonymise(&mut tx, &owner).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1").bind(&id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM owners WHERE id = $1").bind(&owner).execute(&mut *tx).await?;
        tx.commit().await
    }
}

pub async fn erase(store: &DataStore, account: &AccountRow) -> Result<(), AppError> {
    // The customer at the payment service goes first (its cards, and a plan that would go on
    // charging): while it cannot be reached nothing is erased, and the person can try again.
    if let Some(payments) = &store.payments {
        payments.forget_customer(account.id).await?;
    }
    store.db.erase_account(account).await?;
    // The log keeps that an erasure happened, never whose.
    store
        .db
        .audit_or_log(
            None,
            None,
            Event::AccountDeleted,
            "An account and all its data were erased at its owner's request.",
        )
        .await;
    crate::data::retention::purge(&store.db, &store.photos.storage).await?;
    // Anything under the workspace's prefix that no row pointed at (an upload interrupted midway).
    let prefix = keys::owner_prefix(account.owner);
    for key in store.photos.storage.list(Some(&prefix)).await? {
        store.photos.storage.delete(&key).await?;
    }
    tracing::info!("an account was erased");
    Ok(())
}
