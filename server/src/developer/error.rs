//! `/api/v1`'s one error shape: `{"error": {"code": "...", "message": "..."}}` with a stable,
//! machine-readable code and the same user-readable text the pages show (never internals: those
//! are logged where `AppError::Internal` is made).

use app::error::AppError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Every code `/api/v1` answers with, its usual status and what it means: the error schema's
/// `code` enumerates these, so an undocumented code fails the API's document test, and the
/// reference page lists them.
pub const CODES: &[(&str, u16, &str)] = &[
    ("bad_request", 400, "The request is malformed or a value is out of range; the message says which."),
    ("invalid_recipe", 400, "The edit recipe cannot be applied (an operation, value or size is out of range)."),
    ("unauthorized", 401, "No API key, or one that is not valid."),
    ("key_revoked", 401, "The API key was revoked."),
    ("key_expired", 401, "The API key has expired."),
    ("insufficient_credits", 402, "The workspace's credits do not cover the work; the message says what it costs."),
    ("insufficient_scope", 403, "The API key lacks the scope the operation needs."),
    ("forbidden", 403, "Not allowed (a photo held for review, say), or a media link that is invalid or expired."),
    ("quota_exceeded", 403, "The workspace holds its limit of photos or bytes."),
    ("not_found", 404, "No such object in this key's workspace (another workspace's objects are not found either)."),
    ("idempotency_in_progress", 409, "A request with this Idempotency-Key is still running; retry later."),
    ("too_large", 413, "The upload or body exceeds its size limit."),
    ("unsupported_type", 415, "The file is not an image type Atelier accepts (decided by its content)."),
    ("idempotency_conflict", 422, "This Idempotency-Key was used within 24 hours with a different request."),
    ("rate_limited", 429, "Too many requests; wait for Retry-After seconds."),
    ("internal", 500, "Something failed on the server; it is logged there."),
    ("busy", 503, "Every slot for this kind of work is taken; retry after Retry-After seconds."),
    ("unavailable", 503, "The server could not finish in time; retry in a moment."),
];

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: see the list of codes.
    #[schema(schema_with = code_schema)]
    pub code: String,
    /// For people: what went wrong and what to do, never internals.
    pub message: String,
}

fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CODES.iter().map(|(code, _, _)| *code)))
        .build()
}

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_error_maps_to_a_documented_code_with_its_status() {
        let errors = [
            AppError::NotFound,
            AppError::BadRequest("x".into()),
            AppError::TooLarge { limit_mb: 1 },
            AppError::UnsupportedType("x".into()),
            AppError::QuotaExceeded("x".into()),
            AppError::Forbidden("x".into()),
            AppError::Unauthorized,
            AppError::TooManyRequests { message: "x".into(), retry_after_secs: 1 },
            AppError::Busy { retry_after_secs: 1 },
            AppError::PaymentRequired("x".into()),
            AppError::Internal,
            AppError::Unavailable,
            AppError::Transport("x".into()),
        ];
        for error in errors {
            let api = ApiError::from(error.clone());
            let documented = CODES.iter().find(|(code, _, _)| *code == api.code);
            let (_, status, _) = documented.unwrap_or_else(|| panic!("{} is not in CODES", api.code));
            assert_eq!(*status, api.status.as_u16(), "{error:?}");
        }
    }
}
