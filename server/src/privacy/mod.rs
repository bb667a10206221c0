//! Cookie consent, kept by the server: `POST /consent` records each choice (and each withdrawal)
//! and sets or deletes cookies to match; a middleware deletes any registered cookie the stored
//! choice does not allow and counts page views only with analytics consent (never under Global
//! Privacy Control); `PrivacyStore` answers the pages' questions (state, history, policy facts).

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tower_sessions::Session;
use uuid::Uuid;

use app::error::AppError;
use app::ids::AccountId;
use app::privacy::cookie_value;
use app::privacy::PrivacyService;
use app::privacy::{
    Choices, ConsentCookie, ConsentRecord, PolicyFacts, BANNER_VERSION, CONSENT_COOKIE, COOKIES, THEME_COOKIE,
    VISITOR_COOKIE,
};
use app::server_fn::ACCOUNT_KEY;

use crate::config::Settings;
use crate::platform::db::{now, Db};
use crate::platform::error::OrInternal;
use crate::platform::http::local_path;

const CONSENT_MAX_AGE: i64 = 182 * 24 * 3600;
const VISITOR_MAX_AGE: i64 = 365 * 24 * 3600;

pub struct PrivacyStore {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Whether uploads are moderated (the model is installed), for the privacy page.
    pub moderation: bool,
    /// The configured vision service's host, where captions send photos.
    pub vision_destination: Option<String>,
    /// The configured image services: name and host.
    pub image_services: Vec<(String, String)>,
}

/// Global Privacy Control: a browser-wide "do not sell or share", honoured as "no analytics".
pub fn gpc(headers: &HeaderMap) -> bool {
    headers.get("sec-gpc").is_some_and(|value| value.as_bytes() == b"1")
}

fn consent_of(headers: &HeaderMap) -> Option<ConsentCookie> {
    cookie_value(headers.get(header::COOKIE)?.to_str().ok()?, CONSENT_COOKIE)
        .and_then(|value| ConsentCookie::parse(&value))
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{secure}")).ok()
}

/// Appends a deletion for every registered cookie the request carries that `choices` forbid.
fn delete_forbidden(request_headers: &HeaderMap, choices: &Choices, response: &mut Response, secure: bool) {
    let Some(cookies) = request_headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) else { return };
    for cookie in COOKIES {
        if !choices.allows_cookie(cookie.name) && cookie_value(cookies, cookie.name).is_some() {
            if let Some(value) = set_cookie(cookie.name, "", 0, secure) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
    }
}

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_consent_record(
        &self,
        consent_id: &str,
        account: Option<AccountId>,
        action: &str,
        choices: Choices,
        gpc: bool,
        policy_version: u32,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO consent_records (id, consent_id, account_id, action, preferences, analytics, marketing, gpc, policy_version, banner_version, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        // Time-ordered ids (UUIDv7, monotonic within the process): two choices in one second
        // still list in the order they were made.
        .bind(Uuid::now_v7().to_string())
        .bind(consent_id)
        .bind(account.map(|a| a.to_string()))
        .bind(action)
        .bind(i64::from(choices.preferences))
        .bind(i64::from(choices.analytics))
        .bind(i64::from(choices.marketing))
        .bind(i64::from(gpc))
        .bind(i64::from(policy_version))
        .bind(i64::from(BANNER_VERSION))
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Records for this consent id or this account, newest first.
    pub async fn consent_history(
        &self,
        consent_id: &str,
        account: Option<AccountId>,
    ) -> Result<Vec<ConsentRecord>, sqlx::Error> {
        sqlx::query(
            "SELECT action, preferences, analytics, marketing, gpc, policy_version, banner_version, created_at FROM consent_records
             WHERE consent_id = $1 OR (account_id IS NOT NULL AND account_id = $2) ORDER BY id DESC",
        )
        .bind(consent_id)
        .bind(account.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            let flag = |column: &str| row.try_get::<i64, _>(column).map(|v| v != 0);
            Ok(ConsentRecord {
                action: row.try_get("action")?,
                choices: Choices { preferences: flag("preferences")?, analytics: flag("analytics")?, marketing: flag("marketing")? },
                gpc: flag("gpc")?,
                policy_version: row.try_get::<i64, _>("policy_version")?.max(0) as u32,
                banner_version: row.try_get::<i64, _>("banner_version")?.max(0) as u32,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
    }

    /// Every record as CSV, for an administrator's export.
    pub async fn consent_records_csv(&self) -> Result<String, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT consent_id, account_id, action, preferences, analytics, marketing, gpc, policy_version, banner_version, created_at
             FROM consent_records ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut csv = String::from("consent_id,account_id,action,preferences,analytics,marketing,gpc,policy_version,banner_version,created_at\n");
        for row in rows {
            let text = |c: &str| row.try_get::<Option<String>, _>(c).map(Option::unwrap_or_default);
            let number = |c: &str| row.try_get::<i64, _>(c);
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                text("consent_id")?,
                text("account_id")?,
                text("action")?,
                number("preferences")?,
                number("analytics")?,
                number("marketing")?,
                number("gpc")?,
                number("policy_version")?,
                number("banner_version")?,
                number("created_at")?
            ));
        }
        Ok(csv)
    }

    pub async fn record_page_view(&self, path: &str, visitor: &str) -> Result<(), sqlx::Error> {
        let day = now().div_euclid(86_400).to_string();
        sqlx::query("INSERT INTO page_views (day, path, visitor, created_at) VALUES ($1, $2, $3, $4)")
            .bind(day)
            .bind(path)
            .bind(visitor)
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// (path, views, distinct visitors) over all days, most viewed first.
    pub async fn page_view_totals(&self) -> Result<Vec<(String, u64, u64)>, sqlx::Error> {
        sqlx::query("SELECT path, COUNT(*) AS views, COUNT(DISTINCT visitor) AS visitors FROM page_views GROUP BY path ORDER BY views DESC, path")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok((row.try_get("path")?, row.try_get::<i64, _>("views")?.max(0) as u64, row.try_get::<i64, _>("visitors")?.max(0) as u64))
            })
            .collect()
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    choice: String,
    preferences: Option<String>,
    analytics: Option<String>,
    marketing: Option<String>,
    return_to: Option<String>,
}

/// POST /consent: "Accept all", "Reject all", or the customised choice. Writes a record (a
/// withdrawal when anything given before is taken back), sets the consent cookie, deletes the
/// cookies no longer allowed, and goes back to the page.
pub async fn save(
    State(store): State<Arc<PrivacyStore>>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let gpc = gpc(&headers);
    let choices = match form.choice.as_str() {
        "accept_all" => Choices::ALL,
        "reject_all" => Choices::NONE,
        "save" => Choices {
            preferences: form.preferences.is_some(),
            analytics: form.analytics.is_some(),
            marketing: form.marketing.is_some(),
        },
        _ => return (StatusCode::BAD_REQUEST, "Unknown choice.").into_response(),
    }
    .effective(gpc);
    let previous = consent_of(&headers);
    let withdrawn = previous.as_ref().is_some_and(|p| p.choices.withdrawn_by(&choices));
    let action = if withdrawn { "withdraw" } else { form.choice.as_str() };
    let consent_id = previous.map(|p| p.consent_id).unwrap_or_else(|| Uuid::new_v4().simple().to_string());
    let account = session.get::<AccountId>(ACCOUNT_KEY).await.ok().flatten();
    let version = store.settings.privacy.policy_version;
    if let Err(error) = store.db.insert_consent_record(&consent_id, account, action, choices, gpc, version).await {
        tracing::error!(%error, "recording consent failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Your choice could not be saved. Please try again.")
            .into_response();
    }
    let detail = format!(
        "Cookie choice \"{action}\": preferences {}, analytics {}, marketing {}.",
        choices.preferences, choices.analytics, choices.marketing
    );
    store.db.audit_or_log(account, account, crate::data::audit::Event::ConsentChanged, &detail).await;
    tracing::info!(action, "consent recorded");
    let secure = store.settings.secure_cookies();
    let cookie = ConsentCookie { consent_id, policy_version: version, choices };
    let mut response = Redirect::to(&local_path(form.return_to.as_deref())).into_response();
    if let Some(value) = set_cookie(CONSENT_COOKIE, &cookie.encode(), CONSENT_MAX_AGE, secure) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    delete_forbidden(&headers, &choices, &mut response, secure);
    response
}

/// Around every request: registered cookies the stored choice forbids are deleted, and an
/// HTML page view is counted only with analytics consent and without Global Privacy Control.
pub async fn enforce(State(store): State<Arc<PrivacyStore>>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let path = request.uri().path().to_string();
    let page = request.method() == Method::GET
        && headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
        && !["/api/", "/pkg/", "/media/", "/auth/"].iter().any(|prefix| path.starts_with(prefix));
    let choices = consent_of(&headers).map(|c| c.choices).unwrap_or(Choices::NONE).effective(gpc(&headers));
    let mut response = next.run(request).await;
    let secure = store.settings.secure_cookies();
    if response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(CONSENT_COOKIE.as_bytes()))
    {
        // The consent handler already set the new choice and its deletions.
        return response;
    }
    delete_forbidden(&headers, &choices, &mut response, secure);
    if page && choices.allows_cookie(VISITOR_COOKIE) && response.status().is_success() {
        let existing =
            headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).and_then(|c| cookie_value(c, VISITOR_COOKIE));
        let visitor = match existing.filter(|v| v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit())) {
            Some(visitor) => visitor,
            None => {
                let visitor = Uuid::new_v4().simple().to_string();
                if let Some(value) = set_cookie(VISITOR_COOKIE, &visitor, VISITOR_MAX_AGE, secure) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
                visitor
            }
        };
        // Only a hash is stored, so the table cannot be joined back to a browser's cookie.
        let hashed: String = Sha256::digest(visitor.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
        if let Err(error) = store.db.record_page_view(&path, &hashed).await {
            tracing::warn!(%error, "counting a page view failed");
        }
    }
    response
}

/// GET /admin/consent-records.csv: every consent record, for an administrator; 404 otherwise.
pub async fn export(
    State(store): State<Arc<PrivacyStore>>,
    State(accounts): State<Arc<crate::accounts::AccountStore>>,
    session: Session,
) -> Response {
    if accounts.admin(&session).await.is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match store.db.consent_records_csv().await {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"consent-records.csv\""),
            ],
            csv,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "exporting consent records failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct ThemeForm {
    theme: String,
    return_to: Option<String>,
}

/// POST /preferences/theme: remembered in a preference cookie, so only with that permission;
/// without it the visitor is sent to the cookie settings to give it.
pub async fn theme(
    State(store): State<Arc<PrivacyStore>>,
    headers: HeaderMap,
    Form(form): Form<ThemeForm>,
) -> Response {
    if !matches!(form.theme.as_str(), "light" | "dark") {
        return (StatusCode::BAD_REQUEST, "Unknown theme.").into_response();
    }
    if !consent_of(&headers).is_some_and(|c| c.choices.allows_cookie(THEME_COOKIE)) {
        return Redirect::to("/cookies?need=preferences#settings").into_response();
    }
    let mut response = Redirect::to(&local_path(form.return_to.as_deref())).into_response();
    if let Some(value) = set_cookie(THEME_COOKIE, &form.theme, 365 * 24 * 3600, store.settings.secure_cookies()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Generic over the state, so this feature needs no more of it than its own store and accounts'.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<PrivacyStore>: axum::extract::FromRef<S>,
    Arc<crate::accounts::AccountStore>: axum::extract::FromRef<S>,
{
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/consent", post(save))
        .route("/preferences/theme", post(theme))
        .route("/admin/consent-records.csv", get(export))
}

#[async_trait]
impl PrivacyService for PrivacyStore {
    fn policy_version(&self) -> u32 {
        self.settings.privacy.policy_version
    }

    fn facts(&self) -> PolicyFacts {
        PolicyFacts {
            policy_version: self.settings.privacy.policy_version,
            providers: self.settings.providers.iter().map(|p| p.name.clone()).collect(),
            session_idle_days: self.settings.accounts.session_idle_days,
            session_absolute_days: self.settings.accounts.session_absolute_days,
            smtp_configured: self.settings.accounts.smtp_url.is_some(),
            max_upload_mb: self.settings.limits.max_upload_bytes / (1024 * 1024),
            unsaved_retention_hours: self.settings.retention.unsaved_retention_hours,
            saved_retention_days: self.settings.retention.saved_retention_days,
            expiry_warning_days: self.settings.retention.expiry_warning_days,
            export_retention_hours: self.settings.retention.export_retention_hours,
            download_link_minutes: self.settings.retention.download_link_secs / 60,
            vision_provider: self.vision_destination.clone(),
            image_services: self.image_services.clone(),
            moderation_threshold: self.moderation.then_some(self.settings.ai.moderation_threshold),
            minimum_age: self.settings.privacy.minimum_age,
            payment_processor: (self.settings.billing.mode == app::billing::BillingMode::Stripe)
                .then(|| crate::billing::stripe::processor(&self.settings.billing.stripe)),
        }
    }

    async fn consent_history(
        &self,
        consent_id: Option<String>,
        account: Option<AccountId>,
    ) -> Result<Vec<ConsentRecord>, AppError> {
        if consent_id.is_none() && account.is_none() {
            return Ok(Vec::new());
        }
        self.db.consent_history(&consent_id.unwrap_or_default(), account).await.or_internal("reading consent records")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/gallery")), "/gallery");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
