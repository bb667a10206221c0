//! Photos and saved versions as the workspace, gallery and editor show them.

use serde::{Deserialize, Serialize};

use crate::ids::{PhotoId, VersionId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhotoSummary {
    pub id: PhotoId,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub created_at: i64,
    /// Signed, expiring links the server issues with every answer (see `server::links`).
    #[serde(default)]
    pub original_url: String,
    #[serde(default)]
    pub thumbnail_url: String,
    /// Moderation held this upload for an administrator; it cannot be opened until released.
    #[serde(default)]
    pub held: bool,
    /// Alt-text and tags the person accepted or wrote.
    #[serde(default)]
    pub alt_text: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The text OCR read in the photo, rows on their own lines: `None` until read, empty when it
    /// has none.
    #[serde(default)]
    pub ocr_text: Option<String>,
    /// The server's pixel cap, so the editor never offers a step the server would refuse.
    #[serde(default)]
    pub max_pixels: u64,
    /// The signed link its exports are downloaded from (none while held).
    #[serde(default)]
    pub export_url: String,
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
    /// When retention deletes it (unix seconds), and whether that is close enough to warn.
    #[serde(default)]
    pub expires_at: i64,
    #[serde(default)]
    pub expires_soon: bool,
    #[serde(default)]
    pub image_url: String,
    #[serde(default)]
    pub thumbnail_url: String,
    /// The signed link its exports are downloaded from (settings go in the query).
    #[serde(default)]
    pub export_url: String,
    /// The name of the batch pipeline that made it, when one did.
    #[serde(default)]
    pub pipeline: Option<String>,
}

impl GalleryItem {
    /// Opens the editor on the original with this version's recipe, to change it.
    pub fn edit_url(&self) -> String {
        format!("/photos/{}?version={}", self.photo_id, self.id)
    }
}

/// What the upload endpoint answers, as JSON, for one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UploadReply {
    Stored(PhotoSummary),
    Refused { error: String },
}
