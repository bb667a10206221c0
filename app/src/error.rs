//! The error that crosses the wire: every variant carries only user-readable text.
//! Internal causes are logged on the server and become [`AppError::Internal`].

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::recipe::RecipeError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("The file is too large: the limit is {limit_mb} MB.")]
    TooLarge { limit_mb: u64 },
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("This edit cannot be applied: {0}")]
    Recipe(#[from] RecipeError),
    /// Not signed in where an account is needed.
    #[error("Please sign in first.")]
    Unauthorized,
    /// A rate limit: try again after `retry_after_secs` (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    /// Every slot for this kind of work is taken: try again after `retry_after_secs`.
    #[error("The server is busy. Please try again in a few seconds.")]
    Busy { retry_after_secs: u64 },
    /// The workspace's credits do not cover the work (the message says what it costs and holds).
    #[error("{0}")]
    PaymentRequired(String),
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The server could not finish in time (see the server's page and server-function limits).
    #[error("This took too long on our side. Please try again in a moment.")]
    Unavailable,
    #[error("The request could not be completed: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            AppError::BadRequest(_) | AppError::Recipe(_) | AppError::Transport(_) => 400,
            AppError::TooLarge { .. } => 413,
            AppError::UnsupportedType(_) => 415,
            AppError::QuotaExceeded(_) | AppError::Forbidden(_) => 403,
            AppError::Unauthorized => 401,
            AppError::TooManyRequests { .. } => 429,
            AppError::PaymentRequired(_) => 402,
            AppError::Internal => 500,
            AppError::Unavailable | AppError::Busy { .. } => 503,
        }
    }

    /// Seconds to wait before trying again, for the `Retry-After` header.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests { retry_after_secs, .. } | AppError::Busy { retry_after_secs } => {
                Some((*retry_after_secs).max(1))
            }
            _ => None,
        }
    }
}

/// A failed query on the server: logged with its whole cause and the line of the `?` that met it,
/// answered as `Internal`. This is what lets the server's services write `?` on a query.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    #[track_caller]
    fn from(error: sqlx::Error) -> Self {
        internal("a database query", &error, std::panic::Location::caller())
    }
}

/// The one way an unexpected server-side failure is answered: logged with every cause and where
/// it was met (`?` or `.or_internal`), then hidden behind `Internal`.
#[cfg(feature = "ssr")]
pub fn internal(doing: &str, error: &(dyn std::error::Error + 'static), at: &std::panic::Location<'_>) -> AppError {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = text, %at, "{doing} failed");
    AppError::Internal
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Arguments the server could not read are the caller's mistake, told plainly (the parser's
    /// own text names internals); the rest happen in the browser, reaching the server.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::BadRequest("The request is missing something or holds a value that is not valid.".into())
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}
