//! The developer API: `/api/v1` for scripts and other programs. An API key is its only
//! credential: the router is merged outside the cookie session, CSRF and page layers, so a cookie
//! never authenticates it and a key never reaches a page or a server function.

pub mod caller;
pub mod error;
pub mod v1;

use axum::Router;

use crate::state::AppState;

/// `/api/v1` with its own layers, ready to merge into the application's router.
pub fn routes(state: AppState) -> Router {
    v1::routes().with_state(state)
}
