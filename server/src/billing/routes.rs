//! Payment routes: the provider's webhook, and the plain forms that send a person to checkout
//! or to the customer portal (a 303 to the provider's page, so they work without JavaScript).
//!
//! Cross-site refusal (`platform::csrf`) stays in front of all three. The webhook passes it
//! because Stripe posts server to server: no browser, so neither `Origin` nor `Sec-Fetch-Site`
//! is sent, and only a request a browser marks as cross-site is refused. What authenticates the
//! webhook is its signature, checked over the raw body before anything is read from it. The
//! forms are posted by Atelier's own pages, which browsers mark same-origin.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

use app::accounts::AccountService;
use app::error::AppError;

use super::payments::{PaymentStore, WebhookError};
use crate::platform::http::local_path;

pub const WEBHOOK_ROUTE: &str = "/billing/stripe/webhook";
pub const CHECKOUT_ROUTE: &str = "/billing/checkout";
pub const PORTAL_ROUTE: &str = "/billing/portal";

/// Stripe's events are a few kilobytes; an invoice with many lines stays far below this.
const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

pub fn routes<S: Clone + Send + Sync + 'static>(store: Arc<PaymentStore>) -> Router<S> {
    Router::new()
        .route(WEBHOOK_ROUTE, post(webhook).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)))
        .route(CHECKOUT_ROUTE, post(checkout))
        .route(PORTAL_ROUTE, post(portal))
        .with_state(store)
}

/// 400 for a signature or body that does not verify (Stripe shows it and retries), 500 when
/// applying failed here (retried too), 200 once applied or when it had been applied before.
async fn webhook(State(store): State<Arc<PaymentStore>>, headers: HeaderMap, body: Bytes) -> Response {
    match store.receive_webhook(&headers, &body).await {
        Err(error) => {
            let why = match error {
                WebhookError::BadSignature(why) => why,
                WebhookError::TooOld => "the signature's timestamp is outside the tolerance",
                WebhookError::Malformed => "the event is not one this endpoint reads",
            };
            tracing::warn!(why, "a payment webhook was refused");
            (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": why }))).into_response()
        }
        Ok(Ok(applied)) => Json(serde_json::json!({ "received": true, "applied": applied })).into_response(),
        Ok(Err(_)) => (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "error": "not applied; retry" })))
            .into_response(),
    }
}

#[derive(Deserialize)]
struct CheckoutForm {
    /// `pack:<id>` or `plan:<id>`.
    item: String,
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct PortalForm {
    return_to: Option<String>,
}

/// Where a form's page is shown again, with `payment=<what>` for its note.
fn back(return_to: &str, what: &str) -> Redirect {
    let joint = if return_to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{return_to}{joint}payment={what}"))
}

async fn checkout(
    State(store): State<Arc<PaymentStore>>,
    session: Session,
    Form(form): Form<CheckoutForm>,
) -> Redirect {
    let return_to = local_path(form.return_to.as_deref());
    let me = match store.accounts.identify(&session).await {
        Ok(Some(me)) => me,
        Ok(None) => return Redirect::to("/signin"),
        Err(_) => return back(&return_to, "failed"),
    };
    match store.start_checkout(me, &form.item, &return_to).await {
        Ok(url) => Redirect::to(&url),
        Err(AppError::BadRequest(_)) => back(&return_to, "refused"),
        Err(_) => back(&return_to, "failed"),
    }
}

async fn portal(State(store): State<Arc<PaymentStore>>, session: Session, Form(form): Form<PortalForm>) -> Redirect {
    let return_to = local_path(form.return_to.as_deref());
    let me = match store.accounts.identify(&session).await {
        Ok(Some(me)) => me,
        Ok(None) => return Redirect::to("/signin"),
        Err(_) => return back(&return_to, "failed"),
    };
    match store.open_portal(me, &return_to).await {
        Ok(url) => Redirect::to(&url),
        Err(AppError::BadRequest(_)) => back(&return_to, "nothing"),
        Err(_) => back(&return_to, "failed"),
    }
}
