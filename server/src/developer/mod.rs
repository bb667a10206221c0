//! The developer API: `/api/v1` for scripts and other programs. An API key is its only
//! credential: the router is merged outside the cookie session, CSRF and page layers, so a cookie
//! never authenticates it and a key never reaches a page or a server function.
//!
//! `keys.rs` makes, lists and revokes keys and holds the middleware that authenticates every
//! `/api/v1` request (`keys::authenticate`); `calls.rs` is the call log. `DeveloperStore` keeps
//! `app::developer::DeveloperService` for the account page.

pub mod caller;
pub mod calls;
pub mod error;
pub mod keys;
pub mod v1;

use std::sync::Arc;

use app::developer::{ApiCallPage, ApiKeyInfo, CreatedApiKey, DeveloperService, NewApiKey};
use app::error::AppError;
use app::ids::SignedIn;
use async_trait::async_trait;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::notices::SecurityNotice;
use crate::accounts::AccountStore;
use crate::data::audit::Event;
use crate::platform::db::{now, Db};
use crate::platform::storage::Storage;
use crate::state::AppState;

use self::caller::ApiCaller;
use self::keys::ApiLimits;

/// `/api/v1` with its own layers, ready to merge into the application's router. `v1::routes()`
/// gives its routes with their whole paths (`/api/v1/...`); every one of them, and `/api/v1/me`,
/// is behind [`keys::authenticate`].
pub fn routes(state: AppState) -> Router {
    // Completion webhooks a restart interrupted are watched again.
    v1::webhooks::resume(state.clone());
    v1::routes()
        .route("/api/v1/me", get(me))
        .layer(axum::middleware::from_fn_with_state(state.clone(), keys::authenticate))
        // The OpenAPI document and signed media links need no key.
        .merge(v1::public_routes())
        // Any other path under /api/v1 is answered in the API's JSON error shape, not the site's 404 page.
        .route("/api/v1/{*rest}", axum::routing::any(unknown_path))
        // The headers every response carries (nosniff, CSP, HSTS…), and the request trace: this
        // router is merged outside the application's layers, so it adds its own.
        .layer(axum::middleware::from_fn_with_state(
            state.settings.secure_cookies(),
            crate::platform::http::security_headers,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_path() -> error::ApiError {
    error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "There is no such API path.")
}

/// `GET /api/v1/me`: the key making the call and its account; any scope may ask.
async fn me(Extension(caller): Extension<ApiCaller>, Extension(key): Extension<ApiKeyInfo>) -> Json<serde_json::Value> {
    Json(json!({
        "key": {
            "id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "scopes": caller.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
            "created_at": key.created_at,
            "expires_at": key.expires_at,
        },
        "account": { "id": caller.account },
    }))
}

/// API keys and the call log for the account page, and the per-key limits `/api/v1` applies.
pub struct DeveloperStore {
    pub db: Db,
    pub storage: Storage,
    pub accounts: Arc<AccountStore>,
    pub limits: ApiLimits,
}

#[async_trait]
impl DeveloperService for DeveloperStore {
    async fn api_keys(&self, me: SignedIn) -> Result<Vec<ApiKeyInfo>, AppError> {
        Ok(self.db.api_keys_of(me.account).await?)
    }

    async fn create_api_key(&self, me: SignedIn, request: NewApiKey) -> Result<CreatedApiKey, AppError> {
        let expires_at = request.expires_in_days.map(|days| now() + i64::from(days.clamp(1, 3650)) * 24 * 3600);
        let (key, token, webhook_secret) = match &request.webhook_url {
            Some(url) => {
                let (key, token, secret) = keys::create_key_with_webhook(
                    &self.db,
                    &self.storage,
                    me,
                    &request.name,
                    &request.scopes,
                    expires_at,
                    url,
                )
                .await?;
                (key, token, Some(secret))
            }
            None => {
                let (key, token) =
                    keys::create_key(&self.db, me.account, &request.name, &request.scopes, expires_at).await?;
                (key, token, None)
            }
        };
        let scopes = key.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(", ");
        let detail = format!("API key \"{}\" ({}) created with scopes: {scopes}.", key.name, key.prefix);
        self.db.audit_or_log(Some(me.account), Some(me.account), Event::ApiKeyCreated, &detail).await;
        let notice = SecurityNotice::ApiKeyCreated { name: key.name.clone() };
        self.accounts.notify(me.account, notice).await;
        Ok(CreatedApiKey { key, token, webhook_secret })
    }

    async fn revoke_api_key(&self, me: SignedIn, key: Uuid) -> Result<(), AppError> {
        keys::revoke_key(&self.db, &self.storage, me.account, key).await?;
        let detail = format!("API key {key} revoked.");
        self.db.audit_or_log(Some(me.account), Some(me.account), Event::ApiKeyRevoked, &detail).await;
        Ok(())
    }

    async fn api_calls(&self, me: SignedIn, before: Option<String>) -> Result<ApiCallPage, AppError> {
        Ok(self.db.api_calls_of(me.account, before.as_deref()).await?)
    }
}
