//! The signed-in person, their sessions and sign-in providers, and what an admin sees of accounts.

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, Role};

/// The signed-in person as the pages show them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub display_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub has_password: bool,
    pub role: Role,
}

/// One of the account's signed-in browsers, for the session list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A hash of the session id: enough to name it, useless as a cookie.
    pub handle: String,
    pub device: String,
    pub signed_in_at: i64,
    pub expires_at: i64,
    pub current: bool,
}

/// A configured sign-in provider, as the sign-in page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub id: String,
    pub name: String,
}

/// What an admin sees on the admin page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub accounts: Vec<AdminAccountRow>,
    /// Atelier's own statistics (views with analytics consent only), most viewed first.
    pub page_views: Vec<PageViews>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageViews {
    pub path: String,
    pub views: u64,
    pub visitors: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminAccountRow {
    pub id: AccountId,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub photos: u64,
    pub created_at: i64,
}

/// Where a password (or provider) sign-in stands: done, or waiting for the second step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SignInStep {
    SignedIn(Account),
    /// Two-factor sign-in is on: the session is not signed in until a code is given.
    CodeNeeded,
}

/// Two-factor sign-in as the account page shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// An enrolment waiting for its first code.
    pub setup: Option<TwoFactorSetup>,
    /// Recovery codes made just now: shown this once, then only their hashes remain.
    pub new_recovery_codes: Vec<String>,
    pub recovery_codes_left: u32,
}

/// What an authenticator app needs: the secret as text, as a URI, and that URI as a QR code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorSetup {
    pub secret: String,
    pub uri: String,
    /// An SVG drawing (no script, no links), or empty when none could be made.
    pub qr_svg: String,
}

/// The opt-in mailings, both off until the person turns them on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailPreferences {
    pub marketing: bool,
    pub announcements: bool,
}

/// A kind of opt-in mail (each has its own consent and its own unsubscribe link).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mailing {
    Marketing,
    Announcements,
}

impl Mailing {
    pub fn as_str(self) -> &'static str {
        match self {
            Mailing::Marketing => "marketing",
            Mailing::Announcements => "announcements",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "marketing" => Some(Mailing::Marketing),
            "announcements" => Some(Mailing::Announcements),
            _ => None,
        }
    }
}
