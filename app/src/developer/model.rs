//! What the developer pages and `/api/v1` share.

use serde::{Deserialize, Serialize};

/// What an API key may do; a key holds one or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// List and fetch photos, versions, jobs, usage.
    Read,
    /// Upload, save versions, delete, export, run batches.
    Write,
    /// Start AI tools.
    Ai,
    /// Generate images.
    Generate,
    /// See the balance and ledger; buy credits.
    Billing,
}

impl Scope {
    pub const ALL: [Scope; 5] = [Scope::Read, Scope::Write, Scope::Ai, Scope::Generate, Scope::Billing];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Ai => "ai",
            Scope::Generate => "generate",
            Scope::Billing => "billing",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}
