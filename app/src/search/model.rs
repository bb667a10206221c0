use serde::{Deserialize, Serialize};

use crate::photos::PhotoSummary;

/// The longest query read; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most results one search returns.
pub const MAX_RESULTS: usize = 60;

/// Saved to the gallery or not (an unsaved upload is deleted on the published schedule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Saved {
    #[default]
    Any,
    Saved,
    Unsaved,
}

impl Saved {
    pub fn from_param(value: &str) -> Self {
        match value {
            "saved" => Saved::Saved,
            "unsaved" => Saved::Unsaved,
            _ => Saved::Any,
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Saved::Any => "",
            Saved::Saved => "saved",
            Saved::Unsaved => "unsaved",
        }
    }
}

/// What the box and the filters ask. Dates are "YYYY-MM-DD" (what a date field sends), UTC days,
/// both ends included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub saved: Saved,
    #[serde(default)]
    pub has_faces: bool,
    #[serde(default)]
    pub has_text: bool,
}

impl SearchQuery {
    /// Whether there is anything to search for: words or a filter.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.from.is_empty()
            && self.to.is_empty()
            && self.saved == Saved::Any
            && !self.has_faces
            && !self.has_text
    }
}

/// Why a photo was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Its name, tags, alt-text, camera, colours or date have the words.
    Words,
    /// The text in the photo has them.
    Text,
    /// Its description means something close.
    Meaning,
    /// A person the owner named is in it.
    Person,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Words => "words",
            Reason::Text => "text in photo",
            Reason::Meaning => "similar meaning",
            Reason::Person => "person",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub photo: PhotoSummary,
    pub reasons: Vec<Reason>,
    /// Whether a version of it is in the gallery.
    pub saved: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Photos not indexed yet (just uploaded): they are found once their index job has run.
    pub pending: u64,
}
