//! Groups of near-duplicates as the workspace shows them.

use serde::{Deserialize, Serialize};

use crate::photos::PhotoSummary;

/// Why photos are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Copies of one picture: resized, re-encoded, lightly edited or blurred.
    Copies,
    /// Frames taken (or uploaded) within seconds of each other that look alike.
    Burst,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicatePhoto {
    pub photo: PhotoSummary,
    /// The variance of the Laplacian (higher is sharper) and exposure (0 to 1), as measured.
    pub sharpness: f32,
    pub exposure: f32,
    /// Saved versions (gallery items) of it, which go with it when it is deleted.
    pub saved_versions: u32,
    /// Why it is the best, or how it falls short of the best.
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    pub kind: GroupKind,
    /// What the photos have in common, in words.
    pub why: String,
    /// The best first; at least two.
    pub photos: Vec<DuplicatePhoto>,
}

impl DuplicateGroup {
    /// The ids of every photo but the first (the best), as the keep form sends them.
    pub fn others_than(&self, keep: &PhotoSummary) -> String {
        let others: Vec<String> =
            self.photos.iter().filter(|p| p.photo.id != keep.id).map(|p| p.photo.id.to_string()).collect();
        others.join(",")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DuplicateReport {
    pub groups: Vec<DuplicateGroup>,
    /// Photos not fingerprinted yet (stored before this feature); they are done a few per look.
    pub unchecked: u32,
}
