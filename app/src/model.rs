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
    VersionId,
    /// One run of an AI tool.
    JobId
);

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
    pub id: AccountId,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub photos: u64,
    pub created_at: i64,
}

/// One line of the audit log: who did what, when. `actor` differs from the account when an
/// administrator acted on someone's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub account: Option<String>,
    pub actor: Option<String>,
    pub action: String,
    pub detail: String,
    pub created_at: i64,
}

/// One metered operation: what ran, how long, on what size. Never pixels or prompts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub tool: String,
    pub duration_ms: u64,
    pub input_width: u32,
    pub input_height: u32,
    pub output_width: u32,
    pub output_height: u32,
    pub credits: u64,
    pub created_at: i64,
}

/// Usage by day and tool, for the chart, plus the latest records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// `(day "YYYY-MM-DD", tool, operations, credits)`, oldest day first.
    pub by_day: Vec<(String, String, u64, u64)>,
    pub recent: Vec<UsageRecord>,
    pub total_credits: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed, JobState::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Cancelled)
    }
}

/// An AI tool and its options, as the workspace asks for it. The server keeps it as the job's
/// parameters (the eraser's mask goes to storage instead).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "kebab-case")]
pub enum ToolRequest {
    RemoveBackground {
        /// MediaPipe's fast people-only model instead of IS-Net.
        portrait: bool,
        backdrop: Backdrop,
        /// Snap the edge to the photo (guided filter).
        refine: bool,
        /// Soft edge in pixels.
        feather: f32,
    },
    Upscale {
        factor: u32,
        quality: UpscaleQuality,
    },
    /// `mask` is a PNG data URL painted over the photo (white = erase); any size, it is scaled.
    Erase {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        mask: String,
    },
    Describe,
}

impl ToolRequest {
    /// The name used in job lists and usage records.
    pub fn name(&self) -> &'static str {
        match self {
            ToolRequest::RemoveBackground { .. } => "remove-background",
            ToolRequest::Upscale { .. } => "upscale",
            ToolRequest::Erase { .. } => "erase",
            ToolRequest::Describe => "describe",
        }
    }

    pub fn label(&self) -> String {
        match self {
            ToolRequest::RemoveBackground { portrait: true, .. } => "Remove background (portrait)".into(),
            ToolRequest::RemoveBackground { .. } => "Remove background".into(),
            ToolRequest::Upscale { factor, quality } => format!("Upscale x{factor} ({})", quality.label()),
            ToolRequest::Erase { .. } => "Magic eraser".into(),
            ToolRequest::Describe => "Tags and alt-text".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Backdrop {
    Transparent,
    /// `#rrggbb`.
    Colour {
        hex: String,
    },
    /// Another photo of the same workspace, scaled to cover.
    Photo {
        id: PhotoId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpscaleQuality {
    Fast,
    Balanced,
    Best,
}

impl UpscaleQuality {
    pub fn label(self) -> &'static str {
        match self {
            UpscaleQuality::Fast => "fast",
            UpscaleQuality::Balanced => "balanced",
            UpscaleQuality::Best => "best",
        }
    }
}

/// Tags and alt-text a describe job proposes; the person edits them before keeping them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhotoDescription {
    pub tags: Vec<String>,
    pub alt_text: String,
    /// A caption from the configured vision provider, when there is one.
    #[serde(default)]
    pub caption: Option<String>,
}

/// An AI job as the workspace shows it: progress while it runs, before/after once done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AiJob {
    pub id: JobId,
    pub photo_id: PhotoId,
    pub tool: String,
    pub label: String,
    pub state: JobState,
    /// 0.0..=1.0.
    pub progress: f32,
    pub attempts: u32,
    /// "CPU" or "CUDA", and the method (e.g. "IS-Net", "PatchMatch").
    pub provider: Option<String>,
    pub method: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<u64>,
    /// Signed links: the photo before, the result after.
    pub before_url: String,
    pub result_url: Option<String>,
    pub result_size: Option<(u32, u32)>,
    pub description: Option<PhotoDescription>,
    /// Set once the result was saved to the gallery as a new photo.
    pub saved_photo_id: Option<PhotoId>,
}

/// An upload moderation held, as administrators see it (no pixels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldPhoto {
    pub id: PhotoId,
    pub name: String,
    pub owner_label: String,
    /// open_nsfw's score, 0..1.
    pub score: f32,
    pub created_at: i64,
}

/// A "Download my data" archive being made, or ready behind a signed link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: String,
    pub state: JobState,
    /// 0..=100.
    pub progress: u8,
    pub created_at: i64,
    /// A fresh signed link once the archive is ready.
    pub download_url: Option<String>,
    /// When the archive is deleted.
    pub expires_at: Option<i64>,
}

/// What an administrator sees of one account's workspace, only through an audited request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminWorkspaceView {
    pub display_name: String,
    pub photos: Vec<PhotoSummary>,
    pub gallery: Vec<GalleryItem>,
}
