//! The SQL behind accounts, identities, failed-login counts and e-mail tokens (portable to
//! SQLite and Postgres, like `db.rs`).

use app::accounts::{AdminAccountRow, MailPreferences, Mailing};
use app::ids::{AccountId, OwnerId, Role};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::platform::db::{now, Db};

#[derive(Clone, Debug)]
pub struct AccountRow {
    pub id: AccountId,
    pub owner: OwnerId,
    pub email: Option<String>,
    pub email_verified: bool,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub role: Role,
}

fn role(text: &str) -> Role {
    if text == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

fn parse<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| sqlx::Error::Decode(format!("{column} is not a valid id").into()))
}

fn account(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: parse(row, "id")?,
        owner: parse(row, "owner_id")?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        password_hash: row.try_get("password_hash")?,
        display_name: row.try_get("display_name")?,
        role: role(&row.try_get::<String, _>("role")?),
    })
}

/// Accounts filtered by `$where`.
macro_rules! select_accounts {
    ($where:literal) => {
        concat!(
            "SELECT id, owner_id, email, email_verified, password_hash, display_name, role FROM accounts WHERE ",
            $where
        )
    };
}

impl Db {
    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, sqlx::Error> {
        sqlx::query(select_accounts!("email = $1"))
            .bind(email)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    pub async fn account_by_id(&self, id: AccountId) -> Result<Option<AccountRow>, sqlx::Error> {
        sqlx::query(select_accounts!("id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    pub async fn insert_account(&self, row: &AccountRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO accounts (id, owner_id, email, email_verified, password_hash, display_name, role, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(row.id.to_string())
        .bind(row.owner.to_string())
        .bind(row.email.clone())
        .bind(i64::from(row.email_verified))
        .bind(row.password_hash.clone())
        .bind(&row.display_name)
        .bind(if row.role == Role::Admin { "admin" } else { "user" })
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    pub async fn set_email_verified(&self, id: AccountId) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET email_verified = 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn set_password_hash(&self, id: AccountId, hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Makes the account with this e-mail an admin; returns whether there was one.
    pub async fn grant_admin(&self, email: &str) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("UPDATE accounts SET role = 'admin' WHERE email = $1").bind(email).execute(self.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether `owner` is some account's workspace (then it is never adopted by another).
    pub async fn is_account_workspace(&self, owner: OwnerId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE owner_id = $1")
            .bind(owner.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Moves a guest workspace's photos and versions into `into`, then removes the guest owner.
    pub async fn adopt_workspace(&self, guest: OwnerId, into: OwnerId) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        for statement in [
            "UPDATE photos SET owner_id = $1 WHERE owner_id = $2",
            "UPDATE versions SET owner_id = $1 WHERE owner_id = $2",
            "UPDATE photo_index SET owner_id = $1 WHERE owner_id = $2",
            // Before the guest owner goes: its job rows would cascade away and leave their files.
            // The server's own jobs over the workspace name it as their photo: they follow too.
            "UPDATE jobs SET photo_id = $1 WHERE owner_id = $2 AND photo_id = $2",
            "UPDATE jobs SET owner_id = $1 WHERE owner_id = $2",
            // Credits follow the work: what the guest held, spent or was given is the account's.
            // A reference gains the guest's id, so the guest's allowance of a month never
            // collides with the account's own.
            "UPDATE credit_ledger SET owner_id = $1, reference = reference || ' (guest ' || $2 || ')'
             WHERE owner_id = $2 AND reference IS NOT NULL",
            "UPDATE credit_ledger SET owner_id = $1 WHERE owner_id = $2",
        ] {
            sqlx::query(statement).bind(into.to_string()).bind(guest.to_string()).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM owners WHERE id = $1").bind(guest.to_string()).execute(&mut *tx).await?;
        tx.commit().await
    }

    // --- provider identities ---

    pub async fn identity_account(&self, issuer: &str, subject: &str) -> Result<Option<AccountId>, sqlx::Error> {
        sqlx::query("SELECT account_id FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(|row| parse(row, "account_id"))
            .transpose()
    }

    pub async fn insert_identity(&self, issuer: &str, subject: &str, account: AccountId) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO identities (issuer, subject, account_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(issuer)
            .bind(subject)
            .bind(account.to_string())
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    // --- failed sign-ins ---

    /// Failures for `key` since `since`: how many, and when the last was.
    pub async fn recent_login_failures(&self, key: &str, since: i64) -> Result<(i64, i64), sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(failed_at), 0) AS last FROM login_failures
             WHERE login_key = $1 AND failed_at > $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("n")?, row.try_get("last")?))
    }

    /// Records a failure and forgets those older than `forget_before`.
    pub async fn record_login_failure(&self, key: &str, forget_before: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1")
            .bind(forget_before)
            .execute(self.pool())
            .await?;
        sqlx::query("INSERT INTO login_failures (login_key, failed_at) VALUES ($1, $2)")
            .bind(key)
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn clear_login_failures(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE login_key = $1").bind(key).execute(self.pool()).await.map(|_| ())
    }

    // --- e-mail tokens ---

    pub async fn insert_email_token(
        &self,
        hash: &str,
        account: AccountId,
        purpose: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO email_tokens (token_hash, account_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash)
            .bind(account.to_string())
            .bind(purpose)
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Ends every link of `purpose` the account has outstanding.
    pub async fn delete_email_tokens(&self, account: AccountId, purpose: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM email_tokens WHERE account_id = $1 AND purpose = $2")
            .bind(account.to_string())
            .bind(purpose)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Consumes a live token: it works once.
    pub async fn take_email_token(&self, hash: &str, purpose: &str) -> Result<Option<AccountId>, sqlx::Error> {
        sqlx::query(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING account_id",
        )
        .bind(hash)
        .bind(purpose)
        .bind(now())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| parse(row, "account_id"))
        .transpose()
    }

    // --- admin ---

    pub async fn admin_accounts(&self) -> Result<Vec<AdminAccountRow>, sqlx::Error> {
        sqlx::query(
            "SELECT a.id, a.display_name, a.email, a.role, a.created_at, (SELECT COUNT(*) FROM photos p WHERE p.owner_id = a.owner_id) AS photos
             FROM accounts a ORDER BY a.created_at, a.id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(AdminAccountRow {
                id: parse(row, "id")?,
                display_name: row.try_get("display_name")?,
                email: row.try_get("email")?,
                role: role(&row.try_get::<String, _>("role")?),
                photos: row.try_get::<i64, _>("photos")?.max(0) as u64,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
    }
}

/// An account's two-factor record.
pub struct TwoFactorRow {
    pub secret_sealed: String,
    pub enabled: bool,
    pub last_step: i64,
}

/// The opt-in time column of each mailing (fixed names, never from input).
fn mailing_column(kind: Mailing) -> &'static str {
    match kind {
        Mailing::Marketing => "marketing_opt_in_at",
        Mailing::Announcements => "announcements_opt_in_at",
    }
}

impl Db {
    pub async fn set_display_name(&self, id: AccountId, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    // --- e-mail change ---

    /// A change waiting for its link; it supersedes any earlier one of the account.
    pub async fn insert_email_change(
        &self,
        hash: &str,
        account: AccountId,
        new_email: &str,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM email_changes WHERE account_id = $1")
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO email_changes (token_hash, account_id, new_email, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(account.to_string())
        .bind(new_email)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Consumes a live change link: the account and its new address, once.
    pub async fn take_email_change(&self, hash: &str) -> Result<Option<(AccountId, String)>, sqlx::Error> {
        sqlx::query(
            "DELETE FROM email_changes WHERE token_hash = $1 AND expires_at > $2 RETURNING account_id, new_email",
        )
        .bind(hash)
        .bind(now())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| Ok((parse(row, "account_id")?, row.try_get("new_email")?)))
        .transpose()
    }

    /// The address, now proven by its link (a unique violation if another account took it since).
    pub async fn set_email(&self, id: AccountId, email: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE accounts SET email = $1, email_verified = 1 WHERE id = $2")
            .bind(email)
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    // --- known devices ---

    /// Records a sign-in from `device`; answers whether the device is new to the account and
    /// whether the account had any before (its first is nothing to warn about).
    pub async fn remember_device(&self, account: AccountId, device: &str) -> Result<(bool, bool), sqlx::Error> {
        let id = account.to_string();
        let known: i64 = sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE account_id = $1")
            .bind(&id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let seen = sqlx::query("UPDATE known_devices SET last_seen_at = $1 WHERE account_id = $2 AND device_hash = $3")
            .bind(now())
            .bind(&id)
            .bind(device)
            .execute(self.pool())
            .await?
            .rows_affected();
        if seen > 0 {
            return Ok((false, true));
        }
        let added = sqlx::query(
            "INSERT INTO known_devices (account_id, device_hash, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (account_id, device_hash) DO NOTHING",
        )
        .bind(&id)
        .bind(device)
        .bind(now())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((added > 0, known > 0))
    }

    // --- two-factor sign-in ---

    pub async fn two_factor(&self, account: AccountId) -> Result<Option<TwoFactorRow>, sqlx::Error> {
        sqlx::query("SELECT secret_sealed, enabled_at, last_step FROM two_factor WHERE account_id = $1")
            .bind(account.to_string())
            .fetch_optional(self.pool())
            .await?
            .map(|row| {
                Ok(TwoFactorRow {
                    secret_sealed: row.try_get("secret_sealed")?,
                    enabled: row.try_get::<Option<i64>, _>("enabled_at")?.is_some(),
                    last_step: row.try_get("last_step")?,
                })
            })
            .transpose()
    }

    pub async fn two_factor_enabled(&self, account: AccountId) -> Result<bool, sqlx::Error> {
        Ok(self.two_factor(account).await?.is_some_and(|row| row.enabled))
    }

    /// A new secret waiting for its first code; one already in use is never replaced here.
    pub async fn set_pending_two_factor(&self, account: AccountId, sealed: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM two_factor WHERE account_id = $1 AND enabled_at IS NULL")
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO two_factor (account_id, secret_sealed, enabled_at, last_step, created_at) VALUES ($1, $2, NULL, 0, $3)
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account.to_string())
        .bind(sealed)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Turns the pending secret on at `step` and replaces the recovery codes, in one go.
    pub async fn enable_two_factor(
        &self,
        account: AccountId,
        step: i64,
        codes: &[String],
    ) -> Result<bool, sqlx::Error> {
        let id = account.to_string();
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE two_factor SET enabled_at = $1, last_step = $2 WHERE account_id = $3 AND enabled_at IS NULL AND last_step < $2",
        )
        .bind(now())
        .bind(step)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        write_recovery_codes(&mut tx, &id, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes `step` as the newest accepted one; false when it (or a later one) was taken already,
    /// which is how a replayed code, or the same code sent twice at once, is refused.
    pub async fn accept_two_factor_step(&self, account: AccountId, step: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE two_factor SET last_step = $1 WHERE account_id = $2 AND enabled_at IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(account.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn reseal_two_factor(&self, account: AccountId, sealed: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE two_factor SET secret_sealed = $1 WHERE account_id = $2")
            .bind(sealed)
            .bind(account.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Uses up a recovery code: true once, for a code the account has.
    pub async fn take_recovery_code(&self, account: AccountId, hash: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2")
            .bind(account.to_string())
            .bind(hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn replace_recovery_codes(&self, account: AccountId, codes: &[String]) -> Result<(), sqlx::Error> {
        let id = account.to_string();
        let mut tx = self.pool().begin().await?;
        write_recovery_codes(&mut tx, &id, codes).await?;
        tx.commit().await
    }

    pub async fn recovery_codes_left(&self, account: AccountId) -> Result<u32, sqlx::Error> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE account_id = $1")
            .bind(account.to_string())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    pub async fn delete_two_factor(&self, account: AccountId) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        for statement in
            ["DELETE FROM recovery_codes WHERE account_id = $1", "DELETE FROM two_factor WHERE account_id = $1"]
        {
            sqlx::query(statement).bind(account.to_string()).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    // --- opt-in mailings ---

    pub async fn mail_preferences(&self, account: AccountId) -> Result<MailPreferences, sqlx::Error> {
        let row = sqlx::query("SELECT marketing_opt_in_at, announcements_opt_in_at FROM accounts WHERE id = $1")
            .bind(account.to_string())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(MailPreferences::default()) };
        Ok(MailPreferences {
            marketing: row.try_get::<Option<i64>, _>("marketing_opt_in_at")?.is_some(),
            announcements: row.try_get::<Option<i64>, _>("announcements_opt_in_at")?.is_some(),
        })
    }

    /// Opts in (keeping the first opt-in time) or out; answers whether anything changed.
    pub async fn set_mailing(&self, account: AccountId, kind: Mailing, on: bool) -> Result<bool, sqlx::Error> {
        let column = mailing_column(kind);
        let done = if on {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE accounts SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
            )))
            .bind(now())
            .bind(account.to_string())
            .execute(self.pool())
            .await?
        } else {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE accounts SET {column} = NULL WHERE id = $1 AND {column} IS NOT NULL"
            )))
            .bind(account.to_string())
            .execute(self.pool())
            .await?
        };
        Ok(done.rows_affected() > 0)
    }

    /// Everyone who opted in to `kind` and has a confirmed address.
    pub async fn mailing_recipients(&self, kind: Mailing) -> Result<Vec<(AccountId, String)>, sqlx::Error> {
        let column = mailing_column(kind);
        let sql = format!(
            "SELECT id, email FROM accounts WHERE {column} IS NOT NULL AND email IS NOT NULL AND email_verified = 1 ORDER BY created_at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((parse(row, "id")?, row.try_get("email")?)))
            .collect()
    }
}

impl Db {
    /// What "Download my data" carries of the account page's security side: mail choices, a
    /// pending address change, the browsers known (as their keyed hashes) and whether two-factor
    /// sign-in is on. Never a secret: not the sealed TOTP key, not the recovery-code hashes.
    pub async fn account_security_records(&self, account: AccountId) -> Result<serde_json::Value, sqlx::Error> {
        let id = account.to_string();
        let row = sqlx::query("SELECT marketing_opt_in_at, announcements_opt_in_at FROM accounts WHERE id = $1")
            .bind(&id)
            .fetch_one(self.pool())
            .await?;
        let mailings = serde_json::json!({
            "marketing_opted_in_at": row.try_get::<Option<i64>, _>("marketing_opt_in_at")?,
            "announcements_opted_in_at": row.try_get::<Option<i64>, _>("announcements_opt_in_at")?,
        });
        let email_change = sqlx::query("SELECT new_email, expires_at FROM email_changes WHERE account_id = $1")
            .bind(&id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(serde_json::json!({
                    "new_email": row.try_get::<String, _>("new_email")?,
                    "link_expires_at": row.try_get::<i64, _>("expires_at")?,
                }))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let known_devices = sqlx::query(
            "SELECT device_hash, first_seen_at, last_seen_at FROM known_devices WHERE account_id = $1 ORDER BY first_seen_at",
        )
        .bind(&id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(serde_json::json!({
                "device_hash": row.try_get::<String, _>("device_hash")?,
                "first_seen_at": row.try_get::<i64, _>("first_seen_at")?,
                "last_seen_at": row.try_get::<i64, _>("last_seen_at")?,
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let enabled_at: Option<i64> = sqlx::query("SELECT enabled_at FROM two_factor WHERE account_id = $1")
            .bind(&id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| row.try_get::<Option<i64>, _>("enabled_at"))
            .transpose()?
            .flatten();
        let two_factor = serde_json::json!({
            "enabled": enabled_at.is_some(),
            "enabled_at": enabled_at,
            "recovery_codes_left": self.recovery_codes_left(account).await?,
        });
        Ok(serde_json::json!({
            "mailings": mailings,
            "email_change": email_change,
            "known_devices": known_devices,
            "two_factor": two_factor,
        }))
    }
}

/// The account's recovery codes become `codes` (hashes), inside the caller's transaction.
async fn write_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: &str,
    codes: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account).execute(&mut **tx).await?;
    for hash in codes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(hash)
            .bind(now())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
