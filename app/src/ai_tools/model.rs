//! The job that runs an AI tool, as the workspace shows it; held uploads.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, JobState, PhotoId};

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
    /// The text a "copy text" job read, rows on their own lines (empty: none found).
    #[serde(default)]
    pub text: Option<String>,
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
