//! The limit on pages and server functions: a render that never finishes is answered 503, its
//! work is dropped, and the log names the route.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use server::deadline::{enforce, Limits};
use tower::ServiceExt;

/// Sets its flag when the work holding it is dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
    let subscriber = tracing_subscriber::fmt().with_writer({
        let log = log.clone();
        move || log.clone()
    });
    let _guard = tracing::subscriber::set_default(subscriber.with_ansi(false).finish());

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

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    for route in ["route=\"/photos/{id}\"", "route=\"/streamed\"", "route=\"/api/photos/get\""] {
        assert!(log.contains(route), "the log names {route}:\n{log}");
    }
    assert!(!log.contains("/photos/123"), "the log names the route, not the URL with its ids:\n{log}");
}
