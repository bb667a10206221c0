//! What every `/api/v1` handler shares: JSON and query extractors whose refusals are the API's
//! JSON errors, pagination, ids in paths, and the media links an API client can follow.

use app::error::AppError;
use app::ids::OwnerId;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::developer::error::ApiError;
use crate::platform::links::Links;

/// The most bytes a JSON body may have (recipes, tool options, pipelines are small).
pub const MAX_JSON_BYTES: usize = 256 * 1024;
/// Items per page when `limit` is not given, and the most a page holds.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// A JSON body; anything else is 400 `bad_request` (415 for another content type, 413 beyond
/// [`MAX_JSON_BYTES`]) with a plain message.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body as it came (for an idempotency fingerprint), read within [`MAX_JSON_BYTES`].
pub struct JsonBytes(pub axum::body::Bytes);

impl JsonBytes {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.0)
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.split(';').next().is_some_and(|kind| kind.trim() == "application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("The JSON body is larger than {} KB.", MAX_JSON_BYTES / 1024),
            )
        })?;
        Ok(JsonBytes(bytes))
    }
}

/// `bytes` as `T`, or 400 saying where the JSON is wrong (serde's words name the field, never
/// anything of the server's).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| bad_request(format!("The JSON body is not valid here: {error}.")))
}

/// A query string; a malformed one is 400 `bad_request`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|error| bad_request(format!("The query is not valid here: {}.", error.body_text())))
    }
}

pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::from(AppError::BadRequest(message.into()))
}

/// An id from the path: anything that is not one is simply not found.
pub fn id<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::from(AppError::NotFound))
}

/// `?limit=&cursor=`: a page of a list, newest first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page; leave out for the first.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// `items` cut to this page, and the cursor of the next one when there is more.
    pub fn page<T>(&self, items: Vec<T>) -> Result<(Vec<T>, Option<String>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(bad_request(format!("limit is 1 to {MAX_LIMIT}.")));
        }
        let start = match self.cursor.as_deref() {
            None | Some("") => 0,
            Some(cursor) => cursor
                .strip_prefix("o")
                .and_then(|offset| offset.parse::<usize>().ok())
                .ok_or_else(|| bad_request("The cursor is not one this API gave."))?,
        };
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
        let next = (start.saturating_add(limit) < total).then(|| format!("o{}", start + limit));
        Ok((page, next))
    }
}

/// The media an API client downloads without its key (a presigned link, like a storage
/// bucket's): the workspace is part of the signed path, so the link alone authorises it, until it
/// expires (the server's download-link lifetime, one hour by default).
pub fn media_link(links: &Links, owner: OwnerId, kind: &str, id: impl std::fmt::Display, variant: &str) -> String {
    links.sign(&media_path(owner, kind, id, variant))
}

pub fn media_path(owner: OwnerId, kind: &str, id: impl std::fmt::Display, variant: &str) -> String {
    format!("{}/media/{owner}/{kind}/{id}/{variant}", super::PREFIX)
}

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl From<app::ids::JobState> for State {
    fn from(state: app::ids::JobState) -> Self {
        use app::ids::JobState;
        match state {
            JobState::Queued => State::Queued,
            JobState::Running => State::Running,
            JobState::Done => State::Done,
            JobState::Failed => State::Failed,
            JobState::Cancelled => State::Cancelled,
        }
    }
}

impl State {
    pub fn finished(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_end_without_a_cursor() {
        let query = PageQuery { limit: Some(2), cursor: None };
        let (first, next) = query.page((1..=5).collect()).unwrap();
        assert_eq!((first, next.as_deref()), (vec![1, 2], Some("o2")));
        let (last, next) = PageQuery { limit: Some(2), cursor: Some("o4".into()) }.page((1..=5).collect()).unwrap();
        assert_eq!((last, next), (vec![5], None));
        assert!(PageQuery { limit: Some(0), cursor: None }.page(vec![1]).is_err());
        assert!(PageQuery { limit: None, cursor: Some("x".into()) }.page(vec![1]).is_err());
    }
}
