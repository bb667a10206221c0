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

/// An API key as its owner sees it: never its secret (that is shown once, in [`CreatedApiKey`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: uuid::Uuid,
    pub name: String,
    /// The token's visible start (`atl_1a2b3c4d`), to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
    /// Where finished jobs started with this key are announced.
    pub webhook_url: Option<String>,
}

impl ApiKeyInfo {
    /// Whether the key authenticates at `now`.
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// What making a key asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Days until it stops working; `None` never.
    pub expires_in_days: Option<u32>,
    /// An `https://` (or `http://`) URL told when a job started with this key finishes.
    pub webhook_url: Option<String>,
}

/// A key just made: the only time its token and webhook secret are shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyInfo,
    /// `atl_<prefix>_<secret>`, sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The key of the HMAC-SHA256 signature of its completion webhooks (the text as shown).
    pub webhook_secret: Option<String>,
}

/// One authenticated `/api/v1` call: never bodies or query strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    pub id: String,
    pub created_at: i64,
    pub key_id: uuid::Uuid,
    pub key_name: String,
    pub key_prefix: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_ms: i64,
}

/// A page of the call log, newest first; `next` asks for the page after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiCallPage {
    pub calls: Vec<ApiCall>,
    pub next: Option<String>,
}
