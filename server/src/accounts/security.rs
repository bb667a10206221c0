//! The account page's security side: display name, a change of e-mail address confirmed from
//! the new mailbox, new-device notices, two-factor sign-in (TOTP with recovery codes) and the
//! opt-in mailings with their one-click unsubscribe (RFC 8058).
//!
//! Two-factor sign-in is the account's setting, whatever signs it in: after a right password, a
//! provider's sign-in (a provider account can be taken over too) or an e-mailed link, the session
//! holds only a short-lived pending step and is signed in when a code is given. E-mailed links
//! never sign a two-factor account in: they only prove the mailbox.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use app::accounts::{Account, MailPreferences, Mailing, SignInStep, TwoFactorSetup, TwoFactorStatus};
use app::error::AppError;
use app::ids::{AccountId, Admin};

use super::notices::SecurityNotice;
use super::repo::AccountRow;
use super::{clean_name, describe_device, new_token, normalize_email, session_failed, token_hash, totp, AccountStore};
use crate::data::audit::Event;
use crate::platform::crypto::{hex, sha256_hex, Keyring};
use crate::platform::db::now;

/// The session key of a sign-in waiting for its second step.
pub(crate) const PENDING_KEY: &str = "two_factor_pending";
/// Recovery codes made in this session and not yet shown.
const NEW_CODES_KEY: &str = "new_recovery_codes";
/// How long the second step may take after the password.
const PENDING_SECS: i64 = 5 * 60;
const EMAIL_CHANGE_SECS: i64 = 24 * 3600;
const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 20_000;

/// A sign-in that passed its first step: kept in the session, not yet signed in.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    account: AccountId,
    user_agent: String,
    ip: Option<IpAddr>,
    until: i64,
}

/// How the second step was passed.
enum SecondFactor {
    Code,
    Recovery { left: u32 },
}

/// A browser as one account knows it: SHA-256 over the account id and the user agent without its
/// digits. Browser updates change only version numbers, so they do not count as a new device,
/// while another browser, system or phone model does. Keyed by the account, the hash cannot link
/// two accounts' devices; the user agent and the address are never stored.
pub fn device_hash(account: AccountId, user_agent: &str) -> String {
    let family: String = user_agent.chars().filter(|c| !c.is_ascii_digit()).collect();
    sha256_hex(&format!("{account}\n{family}"))
}

/// The token of an unsubscribe link: the account, the mailing and an HMAC over both with the
/// keyring's signing key, so it cannot be guessed or turned to another account or mailing.
fn unsubscribe_message(account: AccountId, kind: Mailing) -> String {
    format!("unsubscribe\n{account}\n{}", kind.as_str())
}

fn wrong_code() -> AppError {
    AppError::BadRequest("That code is not right. Use the newest code your app shows, or a recovery code.".into())
}

impl AccountStore {
    fn two_factor_object(account: AccountId) -> String {
        format!("two-factor/{account}")
    }

    fn seal_secret(&self, account: AccountId, secret: &[u8]) -> Result<String, AppError> {
        let sealed = self.keys.current().seal(&Self::two_factor_object(account), secret).map_err(|error| {
            tracing::error!(%error, "sealing a two-factor secret failed");
            AppError::Internal
        })?;
        Ok(hex(&sealed))
    }

    /// The secret, and whether it was sealed under a key that is no longer the active one.
    fn open_secret(&self, account: AccountId, sealed: &str) -> Result<(Vec<u8>, bool), AppError> {
        let failed = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, %account, "a two-factor secret cannot be opened");
            AppError::Internal
        };
        let bytes = data_encoding::HEXLOWER.decode(sealed.as_bytes()).map_err(|error| failed(&error))?;
        let keys = self.keys.current();
        let secret = keys.open(&Self::two_factor_object(account), &bytes).map_err(|error| failed(&error))?;
        let stale = Keyring::kek_of(&bytes).as_deref() != Some(keys.active_id());
        Ok((secret, stale))
    }

    /// Signs in, or holds the session at the second step when the account has two-factor on.
    pub(crate) async fn finish_sign_in(
        &self,
        session: &Session,
        account: &AccountRow,
        user_agent: &str,
        ip: Option<IpAddr>,
    ) -> Result<SignInStep, AppError> {
        if self.db.two_factor_enabled(account.id).await? {
            let pending = PendingSignIn {
                account: account.id,
                user_agent: user_agent.chars().take(512).collect(),
                ip,
                until: now() + PENDING_SECS,
            };
            session.insert(PENDING_KEY, pending).await.map_err(session_failed)?;
            return Ok(SignInStep::CodeNeeded);
        }
        self.start_session(session, account, user_agent, ip).await.map(SignInStep::SignedIn)
    }

    /// The second step of a pending sign-in, limited like passwords (per account, with back-off).
    pub(crate) async fn second_step(&self, session: &Session, code: String) -> Result<Account, AppError> {
        let expired = || AppError::BadRequest("That sign-in took too long or is over. Please sign in again.".into());
        let pending = session.get::<PendingSignIn>(PENDING_KEY).await.map_err(session_failed)?.ok_or_else(expired)?;
        if pending.until < now() {
            session.remove_value(PENDING_KEY).await.map_err(session_failed)?;
            return Err(expired());
        }
        self.limits.sign_in_to(&pending.account.to_string())?;
        let key = format!("{} second step", pending.account);
        self.back_off(&key).await?;
        let Some(factor) = self.check_second_factor(pending.account, &code).await? else {
            self.record_failure(&key).await?;
            let detail = format!("A sign-in with a wrong two-factor code on {}.", describe_device(&pending.user_agent));
            self.db.audit_or_log(Some(pending.account), None, Event::SignInFailed, &detail).await;
            return Err(wrong_code());
        };
        self.db.clear_login_failures(&key).await?;
        let account = self.db.account_by_id(pending.account).await?.ok_or_else(expired)?;
        if let SecondFactor::Recovery { left } = factor {
            self.notify(account.id, SecurityNotice::RecoveryCodeUsed { left }).await;
        }
        self.start_session(session, &account, &pending.user_agent, pending.ip).await
    }

    /// A TOTP code (each time step once) or an unused recovery code of an account with
    /// two-factor sign-in on; `None` for anything else.
    async fn check_second_factor(&self, account: AccountId, code: &str) -> Result<Option<SecondFactor>, AppError> {
        let Some(row) = self.db.two_factor(account).await?.filter(|row| row.enabled) else { return Ok(None) };
        if totp::looks_like_totp(code).is_some() {
            let (secret, stale) = self.open_secret(account, &row.secret_sealed)?;
            let Some(step) = totp::accepted_step(&secret, code, now(), row.last_step) else { return Ok(None) };
            if !self.db.accept_two_factor_step(account, step).await? {
                return Ok(None);
            }
            if stale {
                // Sealed again under the active key, so retiring the old one cannot lock anyone out.
                let sealed = self.seal_secret(account, &secret)?;
                self.db.reseal_two_factor(account, &sealed).await?;
            }
            return Ok(Some(SecondFactor::Code));
        }
        if self.db.take_recovery_code(account, &totp::recovery_code_hash(code)).await? {
            return Ok(Some(SecondFactor::Recovery { left: self.db.recovery_codes_left(account).await? }));
        }
        Ok(None)
    }

    /// Remembers the browser; a new one (for an account that had one before) gets a notice.
    /// Never fails the sign-in: a failure here is logged.
    pub(crate) async fn note_device(&self, account: &AccountRow, user_agent: &str, device: &str, ip: Option<IpAddr>) {
        match self.db.remember_device(account.id, &device_hash(account.id, user_agent)).await {
            Ok((true, true)) => {
                self.notify(account.id, SecurityNotice::NewSignIn { device: device.to_string(), ip }).await;
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "recording a sign-in's device failed"),
        }
    }

    pub(crate) async fn change_name(&self, session: &Session, display_name: String) -> Result<Account, AppError> {
        let mut account = self.signed_in(session).await?;
        let name = clean_name(&display_name, account.email.as_deref().unwrap_or("You"))?;
        self.db.set_display_name(account.id, &name).await?;
        self.db
            .audit_or_log(Some(account.id), Some(account.id), Event::ProfileChanged, "Changed their display name.")
            .await;
        account.display_name = name;
        Ok(Account::from(&account))
    }

    pub(crate) async fn ask_email_change(
        &self,
        session: &Session,
        new_email: String,
        password: Option<String>,
    ) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let new = normalize_email(&new_email)?;
        if account.email.as_deref() == Some(new.as_str()) {
            return Err(AppError::BadRequest("That is the address the account has already.".into()));
        }
        // Someone at an unlocked screen must not move the account (and its resets) elsewhere.
        if let Some(stored) = account.password_hash.clone() {
            let key = format!("{} email change", account.id);
            self.back_off(&key).await?;
            if !self.verify_password(password.unwrap_or_default(), Some(stored)).await? {
                self.record_failure(&key).await?;
                return Err(AppError::BadRequest("The password is not right.".into()));
            }
        }
        if self.db.account_by_email(&new).await?.is_some() {
            // Told to that mailbox, never on this page, which must not reveal who has an account.
            self.send_later(
                new,
                "Someone tried to move an Atelier account to your address",
                "Someone asked to move an Atelier account to this address, which has an account already, so nothing changed.\n\n\
                 If it was you, use another address or delete one of the accounts first.\n"
                    .to_string(),
            );
            return Ok(());
        }
        let (token, hash) = new_token();
        self.db.insert_email_change(&hash, account.id, &new, now() + EMAIL_CHANGE_SECS).await?;
        self.send_later(
            new,
            "Confirm your new e-mail address for Atelier",
            format!(
                "Someone (we hope you) asked to use this address for their Atelier account.\n\n\
                 Open this link within 24 hours to confirm it; until then the account keeps its old address:\n{}\n\n\
                 If it was not you, ignore this message.\n",
                self.link(&format!("/account/email?token={token}"))
            ),
        );
        let detail = "Asked to change their e-mail address; a link was sent to the new one.";
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::EmailChanged, detail).await;
        Ok(())
    }

    pub(crate) async fn finish_email_change(&self, token: String) -> Result<(), AppError> {
        let expired = || AppError::BadRequest("This link has expired or was already used.".into());
        let taken = || AppError::BadRequest("That address belongs to another account now, so nothing changed.".into());
        let (id, new) = self.db.take_email_change(&token_hash(token.trim())).await?.ok_or_else(expired)?;
        let account = self.db.account_by_id(id).await?.ok_or_else(expired)?;
        if self.db.account_by_email(&new).await?.is_some() {
            return Err(taken());
        }
        if let Err(error) = self.db.set_email(id, &new).await {
            // The unique address: another account took it between the two checks.
            tracing::info!(%error, "an e-mail change lost a race for its address");
            return Err(taken());
        }
        // Reset links went to the old mailbox: they die with it.
        self.db.delete_email_tokens(id, "reset").await?;
        self.db.audit_or_log(Some(id), Some(id), Event::EmailChanged, "Changed their e-mail address.").await;
        if let Some(old) = account.email.filter(|_| account.email_verified) {
            self.send_notice_to(old, &SecurityNotice::EmailChanged { new });
        }
        Ok(())
    }

    pub(crate) async fn two_factor_state(&self, session: &Session) -> Result<TwoFactorStatus, AppError> {
        let account = self.signed_in(session).await?;
        // Handed out once: the session forgets them as they are read.
        let new_recovery_codes = session.remove::<Vec<String>>(NEW_CODES_KEY).await.map_err(session_failed)?;
        let Some(row) = self.db.two_factor(account.id).await? else { return Ok(TwoFactorStatus::default()) };
        if row.enabled {
            return Ok(TwoFactorStatus {
                enabled: true,
                setup: None,
                new_recovery_codes: new_recovery_codes.unwrap_or_default(),
                recovery_codes_left: self.db.recovery_codes_left(account.id).await?,
            });
        }
        let (secret, _) = self.open_secret(account.id, &row.secret_sealed)?;
        let label = account.email.clone().unwrap_or_else(|| account.display_name.clone());
        let uri = totp::otpauth_uri(&secret, &label);
        Ok(TwoFactorStatus {
            setup: Some(TwoFactorSetup {
                secret: totp::encode_secret(&secret),
                qr_svg: totp::qr_svg(&uri).unwrap_or_default(),
                uri,
            }),
            ..TwoFactorStatus::default()
        })
    }

    pub(crate) async fn begin_two_factor(&self, session: &Session) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        if self.db.two_factor_enabled(account.id).await? {
            return Err(AppError::BadRequest("Two-factor sign-in is on already.".into()));
        }
        let sealed = self.seal_secret(account.id, &totp::new_secret())?;
        Ok(self.db.set_pending_two_factor(account.id, &sealed).await?)
    }

    pub(crate) async fn enable_two_factor(&self, session: &Session, code: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let Some(row) = self.db.two_factor(account.id).await?.filter(|row| !row.enabled) else {
            return Err(AppError::BadRequest("Start again: there is no setup waiting for a code.".into()));
        };
        let key = format!("{} two-factor", account.id);
        self.back_off(&key).await?;
        let (secret, _) = self.open_secret(account.id, &row.secret_sealed)?;
        let Some(step) = totp::accepted_step(&secret, &code, now(), row.last_step) else {
            self.record_failure(&key).await?;
            return Err(wrong_code());
        };
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|code| totp::recovery_code_hash(code)).collect();
        if !self.db.enable_two_factor(account.id, step, &hashes).await? {
            return Err(wrong_code());
        }
        self.db.clear_login_failures(&key).await?;
        session.insert(NEW_CODES_KEY, codes).await.map_err(session_failed)?;
        let detail = "Turned on two-factor sign-in.";
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::TwoFactorChanged, detail).await;
        self.notify(account.id, SecurityNotice::TwoFactorOn).await;
        Ok(())
    }

    pub(crate) async fn disable_two_factor(&self, session: &Session, proof: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        if !self.db.two_factor_enabled(account.id).await? {
            // An enrolment never finished is simply dropped.
            self.db.delete_two_factor(account.id).await?;
            return Ok(());
        }
        self.prove(&account, proof).await?;
        self.db.delete_two_factor(account.id).await?;
        let detail = "Turned off two-factor sign-in.";
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::TwoFactorChanged, detail).await;
        self.notify(account.id, SecurityNotice::TwoFactorOff).await;
        Ok(())
    }

    /// A current code, an unused recovery code or the password, for changes to two-factor sign-in
    /// itself (limited and backed off like sign-ins).
    async fn prove(&self, account: &AccountRow, proof: String) -> Result<(), AppError> {
        let key = format!("{} two-factor", account.id);
        self.back_off(&key).await?;
        let proven = match self.check_second_factor(account.id, &proof).await? {
            Some(_) => true,
            None if proof.chars().count() >= super::passwords::MIN_LENGTH => {
                self.verify_password(proof, account.password_hash.clone()).await?
            }
            None => false,
        };
        if !proven {
            self.record_failure(&key).await?;
            return Err(AppError::BadRequest("That code or password is not right.".into()));
        }
        Ok(self.db.clear_login_failures(&key).await?)
    }

    /// Ten new recovery codes in place of the old ones, shown once like the first.
    pub(crate) async fn renew_codes(&self, session: &Session, proof: String) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        if !self.db.two_factor_enabled(account.id).await? {
            return Err(AppError::BadRequest("Two-factor sign-in is off.".into()));
        }
        self.prove(&account, proof).await?;
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|code| totp::recovery_code_hash(code)).collect();
        self.db.replace_recovery_codes(account.id, &hashes).await?;
        session.insert(NEW_CODES_KEY, codes).await.map_err(session_failed)?;
        let detail = "Made new recovery codes; the earlier ones no longer work.";
        self.db.audit_or_log(Some(account.id), Some(account.id), Event::TwoFactorChanged, detail).await;
        Ok(())
    }

    pub(crate) async fn mailings(&self, session: &Session) -> Result<MailPreferences, AppError> {
        let account = self.signed_in(session).await?;
        Ok(self.db.mail_preferences(account.id).await?)
    }

    pub(crate) async fn choose_mailings(&self, session: &Session, choice: MailPreferences) -> Result<(), AppError> {
        let account = self.signed_in(session).await?;
        let mut changed = false;
        for (kind, on) in [(Mailing::Marketing, choice.marketing), (Mailing::Announcements, choice.announcements)] {
            changed |= self.db.set_mailing(account.id, kind, on).await?;
        }
        if changed {
            let on_off = |on: bool| if on { "on" } else { "off" };
            let detail = format!(
                "E-mail choices: marketing {}, product announcements {}.",
                on_off(choice.marketing),
                on_off(choice.announcements)
            );
            self.db.audit_or_log(Some(account.id), Some(account.id), Event::MailPreferencesChanged, &detail).await;
        }
        Ok(())
    }

    pub fn unsubscribe_token(&self, account: AccountId, kind: Mailing) -> String {
        let signature = self.keys.current().sign(&unsubscribe_message(account, kind));
        format!("{account}.{}.{signature}", kind.as_str())
    }

    /// The account and mailing a token names, if its signature holds.
    fn read_unsubscribe_token(&self, token: &str) -> Option<(AccountId, Mailing)> {
        let mut parts = token.trim().splitn(3, '.');
        let account: AccountId = parts.next()?.parse().ok()?;
        let kind = Mailing::parse(parts.next()?)?;
        let signature = parts.next()?;
        self.keys.current().verify(&unsubscribe_message(account, kind), signature).then_some((account, kind))
    }

    pub(crate) async fn announce(
        &self,
        admin: Admin,
        kind: Mailing,
        subject: String,
        body: String,
    ) -> Result<u32, AppError> {
        let subject: String = subject.trim().chars().filter(|c| !c.is_control()).collect();
        let body = body.trim().replace("\r\n", "\n");
        if subject.is_empty() || subject.chars().count() > MAX_SUBJECT {
            return Err(AppError::BadRequest(format!("Give a subject of at most {MAX_SUBJECT} characters.")));
        }
        if body.is_empty() || body.chars().count() > MAX_BODY {
            return Err(AppError::BadRequest(format!("Write a message of at most {MAX_BODY} characters.")));
        }
        let recipients = self.db.mailing_recipients(kind).await?;
        let count = u32::try_from(recipients.len()).unwrap_or(u32::MAX);
        let detail = format!("Sent \"{subject}\" to the {count} people who opted in to {} e-mail.", kind.as_str());
        self.db.audit_or_log(None, Some(admin.account()), Event::AnnouncementSent, &detail).await;
        let letters: Vec<(String, String)> = recipients
            .into_iter()
            .map(|(account, email)| {
                (email, self.link(&format!("/unsubscribe?token={}", self.unsubscribe_token(account, kind))))
            })
            .collect();
        let (mailer, limits) = (self.mailer.clone(), self.limits.clone());
        // One by one in the background: the page answers at once, and the mail server sees one
        // connection's worth of load however long the list is.
        tokio::spawn(async move {
            for (email, unsubscribe) in letters {
                if !limits.mail_to(&email) {
                    tracing::warn!("an announcement was not sent: this address had its hourly share");
                    continue;
                }
                let body = format!("{body}\n\n--\nYou get this because you opted in on your Atelier account page.\nUnsubscribe with one click: {unsubscribe}\n");
                let _ = mailer.send_mailing(&email, &subject, body, &unsubscribe).await;
            }
        });
        Ok(count)
    }
}

#[derive(Deserialize)]
pub struct UnsubscribeQuery {
    token: Option<String>,
}

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Atelier</title><link rel=\"stylesheet\" href=\"/pkg/atelier.css\"></head>\
         <body><main><section class=\"auth\"><h1>{title}</h1>{content}</section></main></body></html>"
    );
    (status, Html(html)).into_response()
}

fn refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Link not valid",
        "<p class=\"error\" role=\"alert\">This unsubscribe link is not valid. You can choose which e-mails you get on your <a href=\"/account\">account page</a>.</p>",
    )
}

/// The unsubscribe link opened in a browser: a button, since mail scanners open links too.
pub async fn unsubscribe_page(
    State(accounts): State<Arc<AccountStore>>,
    Query(query): Query<UnsubscribeQuery>,
) -> Response {
    let Some((account, kind)) = query.token.as_deref().and_then(|token| accounts.read_unsubscribe_token(token)) else {
        return refused();
    };
    // Written afresh from what it named, never echoed: an id, a fixed word and hex, nothing to escape.
    let token = accounts.unsubscribe_token(account, kind);
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop these e-mails from Atelier? Nothing else about your account changes.</p>\
             <form method=\"post\" action=\"/unsubscribe?token={token}\" class=\"auth-form\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form>"
        ),
    )
}

/// RFC 8058 one-click unsubscribe: a POST to the link is enough, with no session and nothing to
/// confirm (mail providers send it from their servers); the signed token is the authority.
pub async fn unsubscribe(State(accounts): State<Arc<AccountStore>>, Query(query): Query<UnsubscribeQuery>) -> Response {
    let Some((account, kind)) = query.token.as_deref().and_then(|token| accounts.read_unsubscribe_token(token)) else {
        return refused();
    };
    match accounts.db.set_mailing(account, kind, false).await {
        Ok(changed) => {
            if changed {
                let detail = format!("Unsubscribed from {} e-mail by its link.", kind.as_str());
                accounts.db.audit_or_log(Some(account), Some(account), Event::MailPreferencesChanged, &detail).await;
            }
            page(
                StatusCode::OK,
                "Unsubscribed",
                "<p class=\"notice\" role=\"status\">You will get no more of these e-mails. You can change your choice on your <a href=\"/account\">account page</a>.</p>",
            )
        }
        Err(error) => {
            tracing::error!(%error, "unsubscribing failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Please try again",
                "<p class=\"error\">Something went wrong. Please try again.</p>",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_the_same_across_browser_updates_but_not_across_browsers_or_accounts() {
        let account = AccountId(uuid::Uuid::new_v4());
        let other = AccountId(uuid::Uuid::new_v4());
        let chrome_126 =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        let chrome_127 = chrome_126.replace("126.0", "127.0");
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_hash(account, chrome_126), device_hash(account, &chrome_127));
        assert_ne!(device_hash(account, chrome_126), device_hash(account, firefox));
        assert_ne!(device_hash(account, chrome_126), device_hash(other, chrome_126));
        assert!(!device_hash(account, chrome_126).contains("Chrome"));
    }
}
