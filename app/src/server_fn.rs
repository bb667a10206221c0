//! The one way a server function reaches the server: its service from the Leptos context, the
//! caller's identity resolved from the session (here and nowhere else), and the HTTP status of
//! its error. A server function is `run(async { service::<S>()?.method(actor, …).await })`.

use leptos::prelude::use_context;
use tower_sessions::Session;

use crate::accounts::{AccountService, Accounts};
use crate::error::AppError;
use crate::ids::{Admin, OwnerId, SignedIn};
use crate::photos::PhotoService;

/// Session keys: a guest's workspace and when it began; once signed in the account, when and
/// where; and the address whose sign-up or reset this browser started (its links sign in here
/// only). A signed-in session reaches its account's workspace through the account alone.
pub const OWNER_KEY: &str = "owner_id";
pub const STARTED_AT_KEY: &str = "started_at";
pub const ACCOUNT_KEY: &str = "account_id";
pub const SIGNED_IN_AT_KEY: &str = "signed_in_at";
pub const DEVICE_KEY: &str = "device";
pub const FLOW_KEY: &str = "flow_email";

/// The client's address as the server's rate limiter saw it (its middleware sets it on every
/// request), for limits a service applies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// This request's `ClientIp` (unspecified when the middleware did not run, as in unit tests).
pub fn client_ip() -> std::net::IpAddr {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientIp>().copied())
        .map(|client| client.0)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Runs a server function's work and answers its error with the status the error names rather
/// than a blanket 500. Every server function goes through here.
///
/// A plain HTML form post (no JavaScript) is the exception: Leptos answers it with a redirect
/// back to the form's page carrying the error, which the page then shows; a status set here
/// would replace that redirect and leave the person on a bare error body.
pub async fn run<T>(work: impl std::future::Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let result = work.await;
    if let Err(error) = &result {
        if let (Some(response), Ok(status), false) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(error.status()),
            plain_form_post(),
        ) {
            response.set_status(status);
        }
        if let (Some(response), Some(secs)) = (use_context::<leptos_axum::ResponseOptions>(), error.retry_after()) {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
    result
}

/// Whether this request is a form the browser posted itself, as it does without JavaScript.
fn plain_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    })
}

/// A service the server provided through the Leptos context.
pub fn service<S: Clone + Send + Sync + 'static>() -> Result<S, AppError> {
    use_context::<S>().ok_or_else(|| {
        tracing::error!(service = std::any::type_name::<S>(), "service missing from the Leptos context");
        AppError::Internal
    })
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract().await.map_err(|error| {
        tracing::error!(%error, "no session on a server-function request");
        AppError::Internal
    })
}

/// The visitor's workspace, if they have stored anything yet: the signed-in account's, or a
/// guest's own (never an account's workspace without being signed in to it).
pub async fn visitor() -> Result<Option<OwnerId>, AppError> {
    service::<Accounts>()?.workspace(&session().await?).await
}

/// The visitor's workspace; one who owns nothing gets `NotFound`, as a stranger does.
pub async fn owner() -> Result<OwnerId, AppError> {
    visitor().await?.ok_or(AppError::NotFound)
}

/// The signed-in account, or `Unauthorized`.
pub async fn signed_in() -> Result<SignedIn, AppError> {
    service::<Accounts>()?.identify(&session().await?).await?.ok_or(AppError::Unauthorized)
}

/// A signed-in administrator; anyone else gets `NotFound`, as if the page did not exist.
pub async fn admin() -> Result<Admin, AppError> {
    signed_in().await.map_err(|_| AppError::NotFound)?.admin()
}

/// The session's workspace, creating a guest one (and so the session) when there is none yet.
pub async fn ensure_session_owner(
    session: &Session,
    accounts: &dyn AccountService,
    photos: &dyn PhotoService,
) -> Result<OwnerId, AppError> {
    let current = accounts.workspace(session).await?;
    let owner = photos.guest_owner(current).await?;
    if current != Some(owner) {
        let write = async {
            session.insert(OWNER_KEY, owner).await?;
            session.insert(STARTED_AT_KEY, unix_now()).await
        };
        write.await.map_err(|error| {
            tracing::error!(%error, "writing the session failed");
            AppError::Internal
        })?;
    }
    Ok(owner)
}

/// The visitor's workspace, opened (a guest one) when there is none yet: for work that makes
/// something without an upload first, such as generating an image.
pub async fn workspace() -> Result<OwnerId, AppError> {
    let (accounts, photos) = (service::<Accounts>()?, service::<crate::photos::Photos>()?);
    ensure_session_owner(&session().await?, accounts.as_ref(), photos.as_ref()).await
}

/// The request's headers (empty when there are none to read).
pub async fn headers() -> http::HeaderMap {
    leptos_axum::extract().await.unwrap_or_default()
}

/// Sends a browser that posted a plain form (no JavaScript) on to `path` when `result` succeeded,
/// where a hydrated page moves on by itself; the default would return it to the form.
pub fn after_plain_form<T>(path: &str, result: Result<T, AppError>) -> Result<T, AppError> {
    if result.is_ok() && plain_form_post() {
        leptos_axum::redirect(path);
    }
    result
}

fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}
