//! The limit on pages and server functions: a render that never finishes is answered 503, its
//! work is dropped, and the log names the route. And internal errors: logged whole, answered bare.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use server::platform::deadline::{enforce, Limits};
use tower::ServiceExt;

use crate::support::Log;

/// Sets its flag when the work holding it is dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

// One thread, so the log collector set for this thread sees the middleware's lines.
#[tokio::test]
async fn renders_past_their_limit_are_answered_503_and_dropped() {
    let log = Log::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());

    let (handler_dropped, body_dropped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let router = Router::new()
        .route("/fast/{id}", get(|| async { Html("<main>done</main>") }))
        .route(
            "/photos/{id}",
            get({
                let flag = handler_dropped.clone();
                move || async move {
                    let _guard = Dropped(flag);
                    std::future::pending::<Html<&'static str>>().await
                }
            }),
        )
        .route(
            "/streamed",
            get({
                let flag = body_dropped.clone();
                // The headers come at once; the body starts, then never ends (a stalled stream).
                move || async move {
                    let guard = Dropped(flag);
                    let body = futures::stream::once(async { Ok::<_, std::io::Error>("<html><main>") })
                        .chain(futures::stream::pending())
                        .map(move |chunk| {
                            let _ = &guard;
                            chunk
                        });
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], Body::from_stream(body))
                }
            }),
        )
        .route("/api/photos/get", post(std::future::pending::<String>))
        .layer(axum::middleware::from_fn_with_state(
            Limits { page: Duration::from_millis(300), server_fn: Duration::from_millis(300) },
            enforce,
        ));

    let (status, headers, body) = send(&router, Request::get("/fast/1").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "<main>done</main>"));
    assert_eq!(headers[header::CONTENT_LENGTH], "17", "a page goes out whole, with its length");

    let (status, headers, body) = send(&router, Request::get("/photos/123").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert!(body.contains("This took too long on our side"), "{body}");
    assert!(handler_dropped.load(Ordering::SeqCst), "the stalled render was dropped");

    let (status, _, body) = send(&router, Request::get("/streamed").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a body that never ends is caught too: {body}");
    assert!(body_dropped.load(Ordering::SeqCst), "the stalled stream was dropped");

    let (status, headers, body) = send(&router, Request::post("/api/photos/get").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["serverfnerror"], "/api/photos/get");
    let error: app::error::AppError = serde_json::from_str(&body).expect("the server function's typed error");
    assert_eq!(error, app::error::AppError::Unavailable);

    let log = log.text();
    for route in ["route=\"/photos/{id}\"", "route=\"/streamed\"", "route=\"/api/photos/get\""] {
        assert!(log.contains(route), "the log names {route}:\n{log}");
    }
    assert!(!log.contains("/photos/123"), "the log names the route, not the URL with its ids:\n{log}");
}

/// Internal errors are answered without their cause and logged with all of it.
#[test]
fn internal_errors_are_logged_with_every_cause_and_answered_without_them() {
    use server::platform::error::OrInternal;

    #[derive(Debug, thiserror::Error)]
    #[error("writing the thumbnail")]
    struct Outer(#[source] std::io::Error);

    let log = Log::default();
    let answered = tracing::subscriber::with_default(log.subscriber(), || {
        Err::<(), _>(Outer(std::io::Error::other("disk full"))).or_internal("storing a photo")
    });
    assert_eq!(answered, Err(app::error::AppError::Internal), "the caller learns nothing of the cause");
    let log = log.text();
    assert!(log.contains("storing a photo failed"), "{log}");
    assert!(log.contains("writing the thumbnail: disk full"), "the whole chain: {log}");
    assert!(log.contains("deadline.rs"), "and where it was met: {log}");

    // `?` on a query takes the same way: its cause and the line of the `?`, nothing to the caller.
    fn query() -> Result<(), app::error::AppError> {
        Err(sqlx::Error::RowNotFound)?;
        Ok(())
    }
    let log = Log::default();
    let answered = tracing::subscriber::with_default(log.subscriber(), query);
    assert_eq!(answered, Err(app::error::AppError::Internal));
    let log = log.text();
    assert!(log.contains("a database query failed") && log.contains("no rows returned"), "{log}");
    assert!(log.contains("deadline.rs"), "the line of the `?`: {log}");
}
