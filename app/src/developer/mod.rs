//! The developer API as a person sees it on their account: API keys, their scopes, the call log
//! and the API reference. The `/api/v1` routes themselves live in `server/src/developer/`.

pub mod model;

pub use model::Scope;
