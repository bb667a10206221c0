//! `/api/v1`'s one error shape: `{"error": {"code": "...", "message": "..."}}` with a stable,
//! machine-readable code and the same user-readable text the pages show (never internals: those
//! are logged where `AppError::Internal` is made).

use app::error::AppError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let code = match &error {
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) | AppError::Transport(_) => "bad_request",
            AppError::TooLarge { .. } => "too_large",
            AppError::UnsupportedType(_) => "unsupported_type",
            AppError::QuotaExceeded(_) => "quota_exceeded",
            AppError::Forbidden(_) => "forbidden",
            AppError::Recipe(_) => "invalid_recipe",
            AppError::Unauthorized => "unauthorized",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Busy { .. } => "busy",
            AppError::PaymentRequired(_) => "insufficient_credits",
            AppError::Internal => "internal",
            AppError::Unavailable => "unavailable",
        };
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, code, message: error.to_string(), retry_after: error.retry_after() }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(Body { error: Detail { code: self.code, message: &self.message } })).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
