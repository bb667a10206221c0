//! The SQL behind accounts, identities, failed-login counts and e-mail tokens (portable to
//! SQLite and Postgres, like `db.rs`).

use app::accounts::AdminAccountRow;
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
