//! What the People pages show, and the consent text they ask for.

use serde::{Deserialize, Serialize};

use crate::ids::PersonId;
use crate::photos::PhotoSummary;

/// The version of `CONSENT_TEXT`, recorded with each switch on: a changed text gets a new one.
pub const CONSENT_VERSION: u32 = 1;

/// What the person agrees to by switching People on, shown beside the checkbox and recorded (by
/// its version) with their consent.
pub const CONSENT_TEXT: &str = "I want Atelier to find the faces in my photos and group them by person. \
For each face it keeps where the face is and a face descriptor: 1024 numbers computed on this server \
that tell faces apart, which is biometric data. I can switch People off at any time, and every face \
and person is then deleted at once.";

/// The longest name a person can be given.
pub const MAX_NAME_CHARS: usize = 80;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub id: PersonId,
    /// `None` until the owner names them.
    pub name: Option<String>,
    pub faces: u32,
    pub photos: u32,
    /// A signed link to a square crop of one of their faces.
    pub face_url: String,
}

impl PersonSummary {
    /// The name, or what stands in for it.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Unnamed".into())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeopleOverview {
    /// Whether the visitor is signed in: guests cannot switch People on.
    pub signed_in: bool,
    /// People is on for this account (since `enabled_at`).
    pub enabled: bool,
    pub enabled_at: Option<i64>,
    /// Whether this server has the face models installed.
    pub available: bool,
    /// Photos whose faces are still to be looked for.
    pub pending: u32,
    /// Largest first.
    pub people: Vec<PersonSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonPhotos {
    pub person: PersonSummary,
    /// Newest first.
    pub photos: Vec<PhotoSummary>,
}
