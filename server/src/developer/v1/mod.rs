//! The `/api/v1` routes: thin handlers over the same services the pages call.

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
