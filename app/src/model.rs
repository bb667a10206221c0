//! Identifiers and the data the pages show. Ids are parsed at the boundary, so a malformed id
//! never reaches a query.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    )+};
}

id_type!(
    /// A workspace that owns photos: a guest's, tied to a browser session, or an account's.
    OwnerId,
    /// A signed-up person.
    AccountId,
    /// An uploaded original.
    PhotoId,
    /// A saved, edited result of a photo.
    VersionId
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoSummary {
    pub id: PhotoId,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub created_at: i64,
}

impl PhotoSummary {
    pub fn original_url(&self) -> String {
        format!("/media/photos/{}/original", self.id)
    }
    pub fn thumbnail_url(&self) -> String {
        format!("/media/photos/{}/thumbnail", self.id)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GalleryItem {
    pub id: VersionId,
    pub photo_id: PhotoId,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub recipe: crate::recipe::EditRecipe,
    pub created_at: i64,
}

impl GalleryItem {
    /// Opens the editor on the original with this version's recipe, to change it.
    pub fn edit_url(&self) -> String {
        format!("/photos/{}?version={}", self.photo_id, self.id)
    }
    pub fn image_url(&self) -> String {
        format!("/media/versions/{}/image", self.id)
    }
    pub fn thumbnail_url(&self) -> String {
        format!("/media/versions/{}/thumbnail", self.id)
    }
}

/// What the upload endpoint answers, as JSON, for one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UploadReply {
    Stored(PhotoSummary),
    Refused { error: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

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
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub photos: u64,
    pub created_at: i64,
}
