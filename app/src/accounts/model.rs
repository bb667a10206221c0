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
