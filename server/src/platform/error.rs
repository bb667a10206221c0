//! The one place errors become responses. Expected failures are already typed `AppError`s with
//! user-readable text; anything unexpected is logged with its cause here and sent as `Internal`.

use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Logs `error` with its whole cause chain and hides it behind `AppError::Internal`.
pub trait OrInternal<T> {
    fn or_internal(self, doing: &'static str) -> Result<T, AppError>;
}

impl<T, E: Into<anyhow::Error>> OrInternal<T> for Result<T, E> {
    #[track_caller]
    fn or_internal(self, doing: &'static str) -> Result<T, AppError> {
        let at = std::panic::Location::caller();
        self.map_err(|error| app::error::internal(doing, error.into().as_ref(), at))
    }
}

/// `AppError` as an HTTP response: the status it names and `{"error": "<message>"}`.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(serde_json::json!({ "error": self.0.to_string() }));
        let mut response = (status, [(header::CACHE_CONTROL, "no-store")], body).into_response();
        if let Some(secs) = self.0.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}
