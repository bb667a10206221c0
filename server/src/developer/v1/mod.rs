//! The `/api/v1` routes: thin handlers over the same services the pages call, one file per
//! resource (`/api/v1/photos` is in `photos.rs`). Each route is registered together with its
//! `#[utoipa::path]` documentation through `utoipa_axum::routes!`, so the OpenAPI document
//! (`openapi.rs`) is made from the very routes that serve requests.

pub mod batches;
pub mod common;
pub mod edits;
pub mod export;
pub mod generations;
pub mod idempotency;
pub mod jobs;
pub mod media;
pub mod openapi;
pub mod photos;
pub mod reference;
pub mod schemas;
pub mod usage;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub const PREFIX: &str = "/api/v1";

/// Every route that needs an API key, with its documentation.
pub fn keyed() -> OpenApiRouter<AppState> {
    let (schemas, paths, upload) = routes!(photos::upload, photos::list);
    // The upload reads its body itself, within the upload limit (see `photos::upload`).
    let uploads = (schemas, paths, upload.layer(DefaultBodyLimit::disable()));
    OpenApiRouter::with_openapi(openapi::base())
        .routes(uploads)
        .routes(routes!(photos::get, photos::delete))
        .routes(routes!(photos::links))
        .routes(routes!(edits::save))
        .routes(routes!(edits::list))
        .routes(routes!(edits::get, edits::delete))
        .routes(routes!(export::photo))
        .routes(routes!(export::version))
        .routes(routes!(jobs::start, jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .routes(routes!(batches::pipelines, batches::create_pipeline))
        .routes(routes!(batches::start, batches::list))
        .routes(routes!(batches::get))
        .routes(routes!(batches::cancel))
        .routes(routes!(generations::start, generations::list))
        .routes(routes!(generations::get))
        .routes(routes!(generations::cancel))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::balance))
}

/// The routes anyone may call without a key: the document itself and signed media links.
pub fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi::document_json)).routes(routes!(media::download))
}

/// The keyed routes, for the key middleware to wrap.
pub fn routes() -> Router<AppState> {
    keyed().split_for_parts().0
}

/// The routes without a key, merged outside the key middleware.
pub fn public_routes() -> Router<AppState> {
    public().split_for_parts().0
}
