//! Server functions for a person's own API keys and call log. They run on the signed-in
//! session like every page: an API key never reaches them (the key middleware guards only
//! `/api/v1`, and these read the cookie session alone).

// The key form's fields are arguments one by one, as a plain form posts them (one per scope box);
// the macro's generated functions carry them all.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::developer::service::Developer;
#[cfg(feature = "ssr")]
use crate::developer::{NewApiKey, Scope};
#[cfg(feature = "ssr")]
use crate::server_fn::{run, service, session, signed_in};

use crate::developer::{ApiCallPage, ApiKeyInfo, CreatedApiKey};
use crate::error::AppError;

/// Session key of a key just made by a browser without JavaScript: held only until the page it
/// is sent on to shows it once (`take_new_api_key`).
#[cfg(feature = "ssr")]
const NEW_KEY_FLASH: &str = "developer_new_key";

/// Where a browser without JavaScript sees the key it just made.
pub const NEW_KEY_PAGE: &str = "/account/api-keys/new";

#[server(endpoint = "developer/keys")]
pub async fn my_api_keys() -> Result<Vec<ApiKeyInfo>, AppError> {
    run(async { service::<Developer>()?.api_keys(signed_in().await?).await }).await
}

/// The form's fields as the browser sends them: one checkbox per scope, and text for the rest
/// (an empty number field arrives as "").
#[server(endpoint = "developer/create-key")]
pub async fn create_api_key(
    name: String,
    read: Option<String>,
    write: Option<String>,
    ai: Option<String>,
    generate: Option<String>,
    billing: Option<String>,
    expires_in_days: Option<String>,
    webhook_url: Option<String>,
) -> Result<CreatedApiKey, AppError> {
    run(async {
        let ticked = [read, write, ai, generate, billing].map(|field| field.is_some());
        let scopes = Scope::ALL.into_iter().zip(ticked).filter_map(|(scope, on)| on.then_some(scope)).collect();
        let expires_in_days = match expires_in_days.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(days) => Some(days.parse::<u32>().map_err(|_| {
                AppError::BadRequest("The expiry must be a whole number of days (or empty for none).".into())
            })?),
        };
        let webhook_url = webhook_url.map(|url| url.trim().to_string()).filter(|url| !url.is_empty());
        let request = NewApiKey { name, scopes, expires_in_days, webhook_url };
        let created = service::<Developer>()?.create_api_key(signed_in().await?, request).await?;
        if plain_form_post().await {
            // Without JavaScript the answer cannot reach the page that posted: the session holds it
            // for the one page that shows it, which deletes it there.
            let session = session().await?;
            session.insert(NEW_KEY_FLASH, &created).await.map_err(session_failed)?;
            leptos_axum::redirect(NEW_KEY_PAGE);
        }
        Ok(created)
    })
    .await
}

/// The key a browser without JavaScript just made, once: it is gone from the session after.
#[server(endpoint = "developer/new-key")]
pub async fn take_new_api_key() -> Result<Option<CreatedApiKey>, AppError> {
    run(async {
        signed_in().await?;
        let session = session().await?;
        let created: Option<CreatedApiKey> = session.remove(NEW_KEY_FLASH).await.map_err(session_failed)?;
        if created.is_some() {
            // Saved now, not when the page's response ends: the secret must not outlive this render.
            session.save().await.map_err(session_failed)?;
        }
        Ok(created)
    })
    .await
}

#[server(endpoint = "developer/revoke-key")]
pub async fn revoke_api_key(id: Uuid) -> Result<(), AppError> {
    run(async { service::<Developer>()?.revoke_api_key(signed_in().await?, id).await }).await
}

#[server(endpoint = "developer/calls")]
pub async fn my_api_calls(before: Option<String>) -> Result<ApiCallPage, AppError> {
    run(async {
        let before = before.filter(|cursor| !cursor.is_empty());
        service::<Developer>()?.api_calls(signed_in().await?, before).await
    })
    .await
}

#[cfg(feature = "ssr")]
async fn plain_form_post() -> bool {
    crate::server_fn::headers()
        .await
        .get(http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("text/html"))
}

#[cfg(feature = "ssr")]
fn session_failed(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "session storage failed");
    AppError::Internal
}
