//! The OpenAPI 3.1 document of `/api/v1`, made from the routes themselves (see `mod.rs`), with
//! what every operation shares added here once: the bearer security scheme, the error answers
//! each can give (all in the one `Error` schema), and the words on authentication, idempotency,
//! pagination, errors and webhooks. Served at `GET /api/v1/openapi.json`; the reference page at
//! `/developers/api` is rendered from it.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use crate::developer::error::ErrorBody;

use super::webhooks::WebhookEvent;

pub const DESCRIPTION: &str = "\
Atelier's REST API: the workspace's photos, edits, AI tools, exports, batches, generation, usage \
and credits, for scripts and other programs.

**Authentication.** Every call but this document and signed media links sends an API key made on \
the account page: `Authorization: Bearer atl_…`. Cookies never authenticate the API. Each \
operation names the scope its key needs (read, write, ai, generate, billing).

**Idempotency.** Every POST that creates something takes an `Idempotency-Key` header (1 to 255 \
visible ASCII characters, a UUID say). The same key with the same request within 24 hours gets the \
first answer again, marked `Idempotent-Replayed: true`, without doing it twice; the same key with \
another request is 422 `idempotency_conflict`; while the first is still running, 409 \
`idempotency_in_progress`. Failed requests are not kept: retry them with the same key.

**Pagination.** Lists take `limit` (1 to 200, default 50) and `cursor`, and answer \
`{\"items\": […], \"next_cursor\": \"…\"}`; `next_cursor` is null on the last page.

**Errors.** Every error is `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}` with a stable `code` \
(see the `Error` schema); 429 and 503 carry `Retry-After`.

**Media.** Links (`/photos/{id}/links`, a job's `result_url`) are signed and expire after an hour \
by default; they need no key, so keep them private.

**Webhooks.** A key with a webhook URL is told when a job it started (an AI job, a batch, a \
generation) has finished, failed or been cancelled: a POST of a `WebhookEvent` with the header \
`Atelier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>` where the \
secret is the key's webhook secret (`whsec_…`, shown once) and the body is the raw request body. \
Check it with a constant-time comparison and refuse old timestamps (five minutes, say). A delivery \
not answered 2xx within 10 seconds is retried up to five times over about six minutes.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Atelier API", version = "1", description = "See DESCRIPTION (set in base())."),
    components(schemas(ErrorBody, WebhookEvent)),
    paths(me),
    tags(
        (name = "photos", description = "Upload, list, fetch and delete photos; signed media links."),
        (name = "edits", description = "Save an edit recipe as a version; the saved versions."),
        (name = "export", description = "Export an original or a version with the optimizer's settings."),
        (name = "ai", description = "AI tools: start a job, poll it, fetch its result, cancel it."),
        (name = "batches", description = "Pipelines, and batches running one over many photos."),
        (name = "generation", description = "Generate images with a configured image service."),
        (name = "usage", description = "Usage and credits."),
        (name = "media", description = "Files behind signed links (no key)."),
        (name = "meta", description = "This document, and the key in use."),
    )
)]
struct Base;

/// The key making the call and its account (any scope).
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub key: MeKey,
    pub account: MeAccount,
}

#[derive(Serialize, ToSchema)]
pub struct MeKey {
    pub id: uuid::Uuid,
    pub name: String,
    /// The key's visible start (`atl_1a2b3c4d`).
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MeAccount {
    pub id: uuid::Uuid,
}

/// Served by `developer::me` (the keys' module), described here.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "meta",
    operation_id = "get_me",
    responses((status = 200, body = Me)),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn me() {}

/// The document's frame: information, tags, the error schema and the bearer scheme.
pub fn base() -> Document {
    let mut document = Base::openapi();
    document.info.description = Some(DESCRIPTION.into());
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("atl_<prefix>_<secret>")
                .description(Some("An API key from the account page."))
                .build(),
        ),
    );
    document
}

/// The whole document, made once per process.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = super::keyed().into_openapi();
        document.merge(super::public().into_openapi());
        for item in document.paths.paths.values_mut() {
            for operation in operations(item) {
                add_error_answers(operation);
            }
        }
        document
    })
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// The errors every operation can answer, unless it documents them itself.
fn add_error_answers(operation: &mut Operation) {
    let keyed = operation.security.as_ref().is_none_or(|requirements| {
        requirements.iter().any(|requirement| requirement != &utoipa::openapi::security::SecurityRequirement::default())
    });
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let idempotent = parameters.iter().any(|parameter| match parameter {
        RefOr::T(parameter) => parameter.name.eq_ignore_ascii_case("Idempotency-Key"),
        RefOr::Ref(_) => false,
    });
    let has_body = operation.request_body.is_some();
    let mut answers = vec![
        ("400", "The request is malformed or a value out of range (`bad_request`)."),
        ("404", "No such object in this workspace (`not_found`)."),
        ("500", "A failure on the server (`internal`)."),
        ("503", "Busy or out of time (`busy`, `unavailable`); see Retry-After."),
    ];
    if keyed {
        answers.extend([
            ("401", "No valid API key (`unauthorized`, `key_revoked`, `key_expired`)."),
            (
                "403",
                "The key lacks the scope (`insufficient_scope`), or it is not allowed (`forbidden`, `quota_exceeded`).",
            ),
            ("429", "Too many requests with this key (`rate_limited`); see Retry-After."),
        ]);
    } else {
        answers.push(("403", "The link was changed or has expired (`forbidden`)."));
    }
    if has_body {
        answers.extend([
            ("413", "The body is larger than its limit (`too_large`)."),
            ("415", "The body is not of the type this operation takes (`unsupported_type`)."),
        ]);
    }
    if idempotent {
        answers.extend([
            ("409", "A request with this Idempotency-Key is still running (`idempotency_in_progress`)."),
            ("422", "This Idempotency-Key was used with another request (`idempotency_conflict`)."),
        ]);
    }
    for (status, description) in answers {
        operation.responses.responses.entry(status.to_string()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build(),
                    )
                    .build(),
            )
        });
    }
}

/// The document as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "get_openapi",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object)),
    security(())
)]
pub async fn document_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| serde_json::to_string_pretty(document()).unwrap_or_else(|_| "{}".into()));
    let mut response = json.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
