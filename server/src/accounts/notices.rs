//! Security notices: the short e-mails that tell a person something happened to their account
//! (a sign-in from a new device, a changed password or address, a new API key, two-factor sign-in
//! turned on or off). One function sends them all, so every feature words and limits them alike.
//! A notice never fails the action that caused it: a mail that cannot be sent is logged.

use std::net::IpAddr;

use app::error::AppError;
use app::ids::AccountId;

use super::AccountStore;

/// What happened, with only what the person needs to recognise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityNotice {
    /// A sign-in from a browser this account had not used before ("Firefox on Linux").
    NewSignIn {
        device: String,
        ip: Option<IpAddr>,
    },
    PasswordChanged,
    ApiKeyCreated {
        name: String,
    },
    /// Sent to the old address, after the new one was confirmed.
    EmailChanged {
        new: String,
    },
    TwoFactorOn,
    TwoFactorOff,
    /// A recovery code was used to sign in (one fewer left).
    RecoveryCodeUsed {
        left: u32,
    },
}

impl SecurityNotice {
    pub fn subject(&self) -> &'static str {
        match self {
            SecurityNotice::NewSignIn { .. } => "New sign-in to your Atelier account",
            SecurityNotice::PasswordChanged => "Your Atelier password was changed",
            SecurityNotice::ApiKeyCreated { .. } => "A new API key was created for your Atelier account",
            SecurityNotice::EmailChanged { .. } => "The e-mail address of your Atelier account was changed",
            SecurityNotice::TwoFactorOn => "Two-factor sign-in is on for your Atelier account",
            SecurityNotice::TwoFactorOff => "Two-factor sign-in was turned off for your Atelier account",
            SecurityNotice::RecoveryCodeUsed { .. } => "A recovery code was used to sign in to Atelier",
        }
    }

    /// The message's first paragraph; the closing lines (what to do if it was not you) are shared.
    fn what_happened(&self) -> String {
        match self {
            SecurityNotice::NewSignIn { device, ip } => {
                let from = ip.map(|ip| format!(" from the address {ip}")).unwrap_or_default();
                format!("Your account was just signed in to on {device}{from}, a browser it had not used before.")
            }
            SecurityNotice::PasswordChanged => {
                "The password of your account was changed, and every other session was signed out.".into()
            }
            SecurityNotice::ApiKeyCreated { name } => {
                format!("An API key named \"{name}\" was created for your account.")
            }
            SecurityNotice::EmailChanged { new } => {
                format!("The e-mail address of your account was changed to {new}. Mail for the account now goes there.")
            }
            SecurityNotice::TwoFactorOn => {
                "Two-factor sign-in was turned on: signing in now also asks for a code from your authenticator app."
                    .into()
            }
            SecurityNotice::TwoFactorOff => {
                "Two-factor sign-in was turned off: signing in no longer asks for a code.".into()
            }
            SecurityNotice::RecoveryCodeUsed { left } => {
                format!("A recovery code was used to sign in to your account. {left} unused code(s) are left.")
            }
        }
    }
}

impl AccountStore {
    /// Mails `notice` to the account's confirmed address (nothing when it has none). Only reading
    /// the account can fail; the mail itself is sent in the background and a failure is logged,
    /// so callers may ignore the result without losing the action that caused the notice.
    pub async fn send_security_notice(&self, account: AccountId, notice: SecurityNotice) -> Result<(), AppError> {
        let Some(row) = self.db.account_by_id(account).await? else { return Ok(()) };
        let Some(email) = row.email.filter(|_| row.email_verified) else { return Ok(()) };
        self.send_notice_to(email, &notice);
        Ok(())
    }

    /// `send_security_notice` for callers that can do nothing about a failure: it is logged.
    pub async fn notify(&self, account: AccountId, notice: SecurityNotice) {
        if let Err(error) = self.send_security_notice(account, notice).await {
            tracing::error!(%error, "a security notice could not be sent");
        }
    }

    /// `notice` to `email`, whatever the account's address is now (the old one, for a change).
    pub(crate) fn send_notice_to(&self, email: String, notice: &SecurityNotice) {
        let body = format!(
            "{}\n\nIf this was you, there is nothing to do.\n\n\
             If it was not, change your password at once ({}) and sign out every session on your account page ({}).\n",
            notice.what_happened(),
            self.link("/reset"),
            self.link("/account"),
        );
        self.send_later(email, notice.subject(), body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_what_happened_and_nothing_secret() {
        let sign_in = SecurityNotice::NewSignIn { device: "Firefox on Linux".into(), ip: "192.0.2.7".parse().ok() };
        assert!(sign_in.what_happened().contains("Firefox on Linux"));
        assert!(sign_in.what_happened().contains("192.0.2.7"));
        let key = SecurityNotice::ApiKeyCreated { name: "CI".into() };
        assert!(key.what_happened().contains("\"CI\""));
        assert_ne!(SecurityNotice::TwoFactorOn.subject(), SecurityNotice::TwoFactorOff.subject());
    }
}
