//! The developer API as a person sees it on their account: API keys, their scopes, the call log
//! and the API reference. The `/api/v1` routes themselves live in `server/src/developer/`.

pub mod api;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;

pub use model::*;
pub use pages::{ApiCallsPage, ApiKeys, NewApiKeyPage};
#[cfg(feature = "ssr")]
pub use service::{Developer, DeveloperService};
