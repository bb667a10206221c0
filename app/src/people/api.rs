//! Server functions for People. Switching on and off needs an account; everything else works on
//! the visitor's own workspace only.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::people::People;
#[cfg(feature = "ssr")]
use crate::server_fn::{owner, run, service, signed_in, visitor};

use crate::error::AppError;
use crate::ids::PersonId;
use crate::people::{PeopleOverview, PersonPhotos, PersonSummary};
use crate::photos::PhotoSummary;

/// Whether People is on for the visitor, and the people found.
#[server(endpoint = "people/overview")]
pub async fn get_people() -> Result<PeopleOverview, AppError> {
    run(async {
        // A guest is not an error here: the page tells them People needs an account.
        let me = signed_in().await.ok();
        service::<People>()?.overview(me, visitor().await?).await
    })
    .await
}

/// Switches People on: `agree` is the consent checkbox ("on" when ticked), `text_version` the
/// version of the consent text the page showed.
#[server(endpoint = "people/enable")]
pub async fn enable_people(agree: Option<String>, text_version: u32) -> Result<PeopleOverview, AppError> {
    run(async {
        let agreed = agree.as_deref().is_some_and(|v| v == "on" || v == "true");
        service::<People>()?.enable(signed_in().await?, agreed, text_version).await
    })
    .await
}

/// Switches People off, deleting every face and person at once.
#[server(endpoint = "people/disable")]
pub async fn disable_people() -> Result<PeopleOverview, AppError> {
    run(async { service::<People>()?.disable(signed_in().await?).await }).await
}

#[server(endpoint = "people/person")]
pub async fn get_person(id: PersonId) -> Result<PersonPhotos, AppError> {
    run(async { service::<People>()?.person(owner().await?, id).await }).await
}

#[server(endpoint = "people/rename")]
pub async fn rename_person(id: PersonId, name: String) -> Result<PersonSummary, AppError> {
    run(async { service::<People>()?.rename(owner().await?, id, name).await }).await
}

/// Moves every face of `from` into `into`.
#[server(endpoint = "people/merge")]
pub async fn merge_people(into: PersonId, from: PersonId) -> Result<PersonSummary, AppError> {
    run(async { service::<People>()?.merge(owner().await?, into, from).await }).await
}

/// Photos of the people whose name contains `name`.
#[server(endpoint = "people/search")]
pub async fn photos_of(name: String) -> Result<Vec<PhotoSummary>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<People>()?.photos_of(owner, name).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}
