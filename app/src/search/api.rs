//! The search server function.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::search::{SearchQuery, SearchResults};
#[cfg(feature = "ssr")]
use crate::{
    search::Searches,
    server_fn::{run, service, visitor},
};

/// A visitor without a workspace has nothing to find (and no workspace is opened for them).
#[server(endpoint = "search", input = Json)]
pub async fn search_photos(query: SearchQuery) -> Result<SearchResults, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Searches>()?.search(owner, query).await,
            None => Ok(SearchResults::default()),
        }
    })
    .await
}
