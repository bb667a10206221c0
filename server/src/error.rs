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
    fn or_internal(self, doing: &'static str) -> Result<T, AppError> {
        self.map_err(|error| {
            // `{:#}` writes every cause, "outer: inner: root", not only the outermost message.
            let error = format!("{:#}", error.into());
            tracing::error!(error, "{doing} failed");
            AppError::Internal
        })
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
        (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing the thumbnail")]
    struct Outer(#[source] std::io::Error);

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn internal_errors_are_logged_with_every_cause_and_answered_without_them() {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let answered = tracing::subscriber::with_default(subscriber, || {
            Err::<(), _>(Outer(std::io::Error::other("disk full"))).or_internal("storing a photo")
        });
        assert_eq!(answered, Err(AppError::Internal), "the caller learns nothing of the cause");
        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("storing a photo failed"), "{log}");
        assert!(log.contains("writing the thumbnail: disk full"), "the whole chain: {log}");
    }
}
