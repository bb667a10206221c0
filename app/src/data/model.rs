//! The person's own data: usage, audit entries, exports; and an admin's audited view of it.

use serde::{Deserialize, Serialize};

use crate::ids::JobState;
use crate::photos::{GalleryItem, PhotoSummary};

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
