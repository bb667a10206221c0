//! Who is calling `/api/v1`: the key middleware puts an [`ApiCaller`] into the request's
//! extensions; handlers take `Extension<ApiCaller>` and check the scope they need.

use app::developer::Scope;
use app::ids::{AccountId, OwnerId};
use axum::http::StatusCode;
use uuid::Uuid;

use super::error::ApiError;

#[derive(Clone, Debug)]
pub struct ApiCaller {
    /// The API key's id (`api_keys.id`).
    pub key_id: Uuid,
    pub account: AccountId,
    /// The account's workspace, which every photo call works in.
    pub owner: OwnerId,
    pub scopes: Vec<Scope>,
}

impl ApiCaller {
    /// `Ok` when the key holds `scope`; otherwise 403 `insufficient_scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("This API key does not have the \"{}\" scope.", scope.as_str()),
            ))
        }
    }
}
