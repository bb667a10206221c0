//! Cookie consent (issue 5; SECURITY.md "Cookie consent"): records, re-prompting on a new policy
//! version, withdrawal, Global Privacy Control and first-party analytics, on SQLite and Postgres.

use crate::support::{Reply, TestApp};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
}

/// `name=value` of the cookie `name` set by `reply` (deletions included, with an empty value).
fn cookie(reply: &Reply, name: &str) -> Option<String> {
    set_cookies(reply)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

async fn choose(app: &TestApp, cookies: &str, form: &str, gpc: bool) -> Reply {
    let mut request = Request::post("/consent").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookies);
    }
    if gpc {
        request = request.header("sec-gpc", "1");
    }
    app.send(request.body(Body::from(form.to_string())).unwrap()).await
}

async fn page(app: &TestApp, path: &str, cookies: &str) -> Reply {
    let mut request = Request::get(path).header(header::ACCEPT, "text/html");
    if !cookies.is_empty() {
        request = request.header(header::COOKIE, cookies);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

async fn state(app: &TestApp, cookies: &str) -> serde_json::Value {
    let cookie = (!cookies.is_empty()).then_some(cookies);
    app.call_form("consent/state", cookie, "").await.json()
}

async fn records(app: &TestApp) -> Vec<(String, i64, i64, i64, i64)> {
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    sqlx::query_as("SELECT action, preferences, analytics, marketing, policy_version FROM consent_records ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap()
}

async fn page_views(app: &TestApp) -> i64 {
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM page_views").fetch_one(&pool).await.unwrap();
    n
}

async fn before_a_choice_only_necessary_cookies_exist_and_nothing_is_counted(app: TestApp) {
    let first = page(&app, "/", "").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(set_cookies(&first).is_empty(), "a first visit sets no cookie at all: {:?}", set_cookies(&first));
    assert_eq!(state(&app, "").await["ask"], true);
    assert!(String::from_utf8_lossy(&first.body).contains("Reject all"), "the banner is in the server-rendered page");
    assert_eq!(page_views(&app).await, 0);
}

async fn accepting_records_consent_and_enables_analytics(app: TestApp) {
    let reply = choose(&app, "", "choice=accept_all&return_to=%2Fgallery", false).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/gallery");
    let consent = cookie(&reply, "atelier_consent").expect("the consent cookie");
    assert!(consent.ends_with(".1.111"), "{consent}");
    assert_eq!(records(&app).await, vec![("accept_all".into(), 1, 1, 1, 1)]);
    assert_eq!(state(&app, &consent).await["ask"], false);

    // The next page view is counted, with a random visitor cookie.
    let viewed = page(&app, "/gallery", &consent).await;
    let visitor = cookie(&viewed, "atelier_visitor").expect("the analytics cookie, now allowed");
    assert_eq!(page_views(&app).await, 1);
    page(&app, "/", &format!("{consent}; {visitor}")).await;
    assert_eq!(page_views(&app).await, 2);
}

async fn rejecting_records_it_sets_nothing_optional_and_the_site_works(app: TestApp) {
    let reply = choose(&app, "", "choice=reject_all", false).await;
    let consent = cookie(&reply, "atelier_consent").unwrap();
    assert!(consent.ends_with(".1.000"), "{consent}");
    assert_eq!(set_cookies(&reply).len(), 1, "only the consent record's cookie");
    assert_eq!(records(&app).await, vec![("reject_all".into(), 0, 0, 0, 1)]);
    let viewed = page(&app, "/", &consent).await;
    assert_eq!(viewed.status, StatusCode::OK);
    assert!(cookie(&viewed, "atelier_visitor").is_none());
    assert_eq!(page_views(&app).await, 0);
    // Uploading works as well as ever.
    let upload = app.upload(Some(&consent), "chelsea.png", crate::support::fixture("chelsea.png")).await;
    assert_eq!(upload.status, StatusCode::CREATED);
    // A theme cannot be remembered without permission.
    let theme = Request::post("/preferences/theme")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &consent)
        .body(Body::from("theme=dark"))
        .unwrap();
    let theme = app.send(theme).await;
    assert!(cookie(&theme, "atelier_theme").is_none());
}

async fn withdrawing_deletes_the_cookies_and_is_recorded(app: TestApp) {
    let consent = cookie(&choose(&app, "", "choice=accept_all", false).await, "atelier_consent").unwrap();
    let visitor = cookie(&page(&app, "/", &consent).await, "atelier_visitor").unwrap();
    let cookies = format!("{consent}; {visitor}; atelier_theme=dark");
    let reply = choose(&app, &cookies, "choice=save&preferences=on", false).await;
    assert_eq!(cookie(&reply, "atelier_visitor").as_deref(), Some("atelier_visitor="), "deleted at once");
    assert!(set_cookies(&reply).iter().any(|c| c.starts_with("atelier_visitor=;") && c.contains("Max-Age=0")));
    assert!(cookie(&reply, "atelier_theme").is_none(), "preferences are still allowed");
    let actions: Vec<String> = records(&app).await.into_iter().map(|r| r.0).collect();
    assert_eq!(actions, vec!["accept_all", "withdraw"]);
    // The same consent id carries on.
    let new_consent = cookie(&reply, "atelier_consent").unwrap();
    assert_eq!(new_consent.split('.').next(), consent.split('.').next());
}

async fn a_new_policy_version_asks_again(app: TestApp) {
    let consent = cookie(&choose(&app, "", "choice=reject_all", false).await, "atelier_consent").unwrap();
    assert_eq!(state(&app, &consent).await["ask"], false);
    let outdated = consent.replace(".1.", ".0.");
    assert_eq!(state(&app, &outdated).await["ask"], true);
    assert_eq!(state(&app, "atelier_consent=garbage").await["ask"], true);
}

async fn global_privacy_control_refuses_analytics(app: TestApp) {
    let reply = choose(&app, "", "choice=accept_all", true).await;
    let consent = cookie(&reply, "atelier_consent").unwrap();
    assert!(consent.ends_with(".1.101"), "analytics off under GPC: {consent}");
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (gpc,): (i64,) = sqlx::query_as("SELECT gpc FROM consent_records").fetch_one(&pool).await.unwrap();
    assert_eq!(gpc, 1);
    // Even a cookie that says yes is not obeyed while the browser sends GPC.
    let yes = consent.replace(".1.101", ".1.111");
    let request =
        Request::get("/").header(header::ACCEPT, "text/html").header(header::COOKIE, &yes).header("sec-gpc", "1");
    let viewed = app.send(request.body(Body::empty()).unwrap()).await;
    assert!(cookie(&viewed, "atelier_visitor").is_none());
    assert_eq!(page_views(&app).await, 0);
}

async fn history_is_shown_and_only_admins_export_records(app: TestApp) {
    let consent = cookie(&choose(&app, "", "choice=accept_all", false).await, "atelier_consent").unwrap();
    let history = app.call_form("consent/history", Some(&consent), "").await.json();
    assert_eq!(history[0]["action"], "accept_all");
    assert_eq!(app.call_form("consent/history", None, "").await.json(), json!([]));
    assert_eq!(app.get("/admin/consent-records.csv", None).await.status, StatusCode::NOT_FOUND);
}

async fn the_policies_are_rendered_from_the_registry_and_configuration(app: TestApp) {
    let cookies = String::from_utf8(page(&app, "/cookies", "").await.body).unwrap();
    for name in ["atelier_session", "atelier_consent", "atelier_theme", "atelier_visitor"] {
        assert!(cookies.contains(name), "{name} is listed");
    }
    let privacy = String::from_utf8(page(&app, "/privacy", "").await.body).unwrap();
    assert!(privacy.contains("14 days without a visit"), "the configured idle limit");
    assert!(privacy.contains("No outside sign-in provider is configured"));
    assert!(privacy.contains("not meant for anyone under 16"), "the minimum-age notice, default 16");
    let app = app.adjusted(|settings| settings.privacy.minimum_age = 18).await;
    let privacy = String::from_utf8(page(&app, "/privacy", "").await.body).unwrap();
    assert!(privacy.contains("not meant for anyone under 18"), "the configured minimum age");
}

on_both_databases!(
    before_a_choice_only_necessary_cookies_exist_and_nothing_is_counted,
    accepting_records_consent_and_enables_analytics,
    rejecting_records_it_sets_nothing_optional_and_the_site_works,
    withdrawing_deletes_the_cookies_and_is_recorded,
    a_new_policy_version_asks_again,
    global_privacy_control_refuses_analytics,
    history_is_shown_and_only_admins_export_records,
    the_policies_are_rendered_from_the_registry_and_configuration,
);
