//! API keys (issue 19): shown once and stored only as a hash; they authenticate `/api/v1` and
//! nothing else, and cookies never authenticate `/api/v1`; revocation, expiry, scopes, the per-key
//! rate and the per-address bound on unknown keys; the call log, its retention and export.

use app::developer::Scope;
use app::ids::AccountId;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use server::platform::db::now;
use sqlx::Row;

use crate::support::{account, exported_manifest, form, Reply, TestApp};

const DAY: i64 = 24 * 3600;

async fn account_id(app: &TestApp, email: &str) -> AccountId {
    let row =
        sqlx::query("SELECT id FROM accounts WHERE email = $1").bind(email).fetch_one(app.ai.db.pool()).await.unwrap();
    row.get::<String, _>("id").parse().unwrap()
}

/// `method path` with `Authorization: Bearer <token>` (when given), a cookie (when given) and a
/// client address.
async fn api(app: &TestApp, method: &str, path: &str, token: Option<&str>, cookie: Option<&str>, ip: &str) -> Reply {
    let mut request = Request::builder().method(method).uri(path).header("x-forwarded-for", ip);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

async fn me(app: &TestApp, token: &str) -> Reply {
    api(app, "GET", "/api/v1/me", Some(token), None, "198.51.100.7").await
}

fn error_code(reply: &Reply) -> String {
    reply.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// Makes a key on the account page (as the hydrated page does) and returns the answer.
async fn create_on_page(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> serde_json::Value {
    let reply = app.call_form("developer/create-key", Some(cookie), &form(fields)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// Every text a row of `api_keys` holds, joined.
async fn stored_key_text(app: &TestApp) -> String {
    let rows = sqlx::query(
        "SELECT id, account_id, name, prefix, secret_hash, scopes, COALESCE(webhook_url, '') AS webhook_url,
                COALESCE(webhook_secret_key, '') AS webhook_secret_key, COALESCE(last_used_ip, '') AS last_used_ip
         FROM api_keys",
    )
    .fetch_all(app.ai.db.pool())
    .await
    .unwrap();
    let columns = [
        "id",
        "account_id",
        "name",
        "prefix",
        "secret_hash",
        "scopes",
        "webhook_url",
        "webhook_secret_key",
        "last_used_ip",
    ];
    rows.iter().flat_map(|row| columns.map(|column| row.get::<String, _>(column))).collect::<Vec<_>>().join(" ")
}

async fn a_key_is_shown_once_stored_as_a_hash_and_authenticates_api_v1(app: TestApp) {
    let cookie = account(&app, None, "keys@example.com").await;
    let created = create_on_page(
        &app,
        &cookie,
        &[("name", "nightly script"), ("read", "on"), ("ai", "on"), ("expires_in_days", ""), ("webhook_url", "")],
    )
    .await;
    let token = created["token"].as_str().unwrap().to_string();
    let prefix = created["key"]["prefix"].as_str().unwrap().to_string();
    assert!(token.starts_with(&format!("{prefix}_")), "{token} starts with its prefix {prefix}");
    assert_eq!(token.len(), "atl_".len() + 8 + 1 + 64, "8 hex digits of prefix, 256 random bits");
    assert_eq!(created["key"]["scopes"], json!(["read", "ai"]));
    assert_eq!(created["webhook_secret"], json!(null));

    let reply = me(&app, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.headers["x-content-type-options"], "nosniff", "the API's answers carry the security headers");
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
    let body = reply.json();
    assert_eq!(body["key"]["name"], "nightly script");
    assert_eq!(body["key"]["prefix"], prefix.as_str());
    assert_eq!(body["key"]["scopes"], json!(["read", "ai"]));
    assert_eq!(body["account"]["id"], account_id(&app, "keys@example.com").await.to_string());

    // The table holds the prefix and the token's hash; the secret part appears nowhere.
    let stored = stored_key_text(&app).await;
    let secret = token.rsplit('_').next().unwrap();
    assert!(!stored.contains(secret), "the secret is not stored: {stored}");
    assert!(stored.contains(&server::developer::keys::token_hash(&token)));
    assert!(stored.contains(&prefix));

    // The list never shows it again, only the prefix.
    let list = app.call_form("developer/keys", Some(&cookie), "").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&list.body).contains(secret));
    assert_eq!(list.json()[0]["prefix"], prefix.as_str());
    let page = app.get("/account", Some(&cookie)).await;
    let page = String::from_utf8_lossy(&page.body);
    assert!(page.contains(&prefix) && !page.contains(secret), "the account page lists the key by its prefix only");

    // Its creation is in the audit log and mailed to the owner.
    let audit = app.call_form("data/audit", Some(&cookie), "").await.json();
    assert!(audit.as_array().unwrap().iter().any(|entry| entry["action"] == "api_key_created"), "{audit}");
    let mut mailed = false;
    for _ in 0..100 {
        let mails = std::fs::read_dir(app.settings.storage.data_dir.join("mail")).unwrap();
        mailed = mails.flatten().any(|entry| {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            text.contains("To: keys@example.com") && text.contains("nightly script")
        });
        if mailed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(mailed, "an \"API key created\" notice was mailed");
}

async fn a_browser_without_javascript_sees_its_new_key_once(app: TestApp) {
    let cookie = account(&app, None, "nojs@example.com").await;
    let request = Request::post("/api/developer/create-key")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://localhost/account")
        .header(header::COOKIE, &cookie)
        .body(Body::from(form(&[("name", "plain form"), ("write", "on")])))
        .unwrap();
    let reply = app.send(request).await;
    assert!(reply.status.is_redirection(), "{}", reply.status);
    assert_eq!(reply.headers[header::LOCATION], "/account/api-keys/new");
    let stored = stored_key_text(&app).await;
    let prefix = stored.split_whitespace().find(|word| word.starts_with("atl_")).unwrap().to_string();

    let first = app.get("/account/api-keys/new", Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&first.body);
    let start = html.find(&format!("{prefix}_")).expect("the new key is on the page");
    let token: String = html[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);

    let again = app.get("/account/api-keys/new", Some(&cookie)).await;
    let html = String::from_utf8_lossy(&again.body);
    assert!(!html.contains(&token), "shown once only");
    assert!(html.contains("shown already"));
    let sessions = sqlx::query("SELECT data FROM sessions").fetch_all(app.ai.db.pool()).await.unwrap();
    assert!(sessions.iter().all(|row| !row.get::<String, _>("data").contains(&token)), "the session forgot it");
}

async fn revoked_expired_unknown_and_missing_keys_get_401(app: TestApp) {
    let cookie = account(&app, None, "revoke@example.com").await;
    let created = create_on_page(&app, &cookie, &[("name", "short-lived"), ("read", "on")]).await;
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);

    let reply = app
        .call_form("developer/revoke-key", Some(&cookie), &form(&[("id", created["key"]["id"].as_str().unwrap())]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let reply = me(&app, &token).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::UNAUTHORIZED, "key_revoked".into()));
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));

    // Another account cannot revoke someone's key.
    let account = account_id(&app, "revoke@example.com").await;
    let (info, other) =
        server::developer::keys::create_key(&app.ai.db, account, "other", &[Scope::Read], None).await.unwrap();
    let stranger = crate::support::account(&app, None, "stranger@example.com").await;
    let reply = app.call_form("developer/revoke-key", Some(&stranger), &form(&[("id", &info.id.to_string())])).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(me(&app, &other).await.status, StatusCode::OK);

    // Expired: its time passed.
    let (info, expiring) =
        server::developer::keys::create_key(&app.ai.db, account, "expiring", &[Scope::Read], Some(now() + DAY))
            .await
            .unwrap();
    assert_eq!(me(&app, &expiring).await.status, StatusCode::OK);
    sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2")
        .bind(now() - 1)
        .bind(info.id.to_string())
        .execute(app.ai.db.pool())
        .await
        .unwrap();
    let reply = me(&app, &expiring).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::UNAUTHORIZED, "key_expired".into()));

    // The same key with its last digit changed.
    let last = if other.ends_with('0') { '1' } else { '0' };
    let reply = me(&app, &format!("{}{last}", &other[..other.len() - 1])).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    let reply = api(&app, "GET", "/api/v1/me", None, None, "198.51.100.7").await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    let reply = app
        .call_form("developer/create-key", Some(&cookie), &form(&[("name", "none"), ("expires_in_days", "soon")]))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "no scope, no number: refused plainly");
}

async fn cookies_never_authenticate_api_v1_and_keys_never_authenticate_pages(app: TestApp) {
    let cookie = account(&app, None, "split@example.com").await;
    let created = create_on_page(&app, &cookie, &[("name", "split"), ("read", "on"), ("write", "on")]).await;
    let token = created["token"].as_str().unwrap().to_string();

    // A signed-in browser's cookie is not a credential for the API.
    let reply = api(&app, "GET", "/api/v1/me", None, Some(&cookie), "198.51.100.7").await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    assert!(reply.headers.get(header::SET_COOKIE).is_none(), "no session is touched");

    // A key is not a credential for server functions or pages.
    for endpoint in ["/api/developer/keys", "/api/data/audit"] {
        let request = Request::post(endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let reply = app.send(request).await;
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains("split@example.com"), "{endpoint} did not answer as the key's account: {body}");
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{endpoint}: {body}");
    }
    let page = api(&app, "GET", "/account", Some(&token), None, "198.51.100.7").await;
    let html = String::from_utf8_lossy(&page.body);
    assert!(!html.contains("split@example.com") && !html.contains(created["key"]["prefix"].as_str().unwrap()));
}

async fn scopes_are_the_ones_ticked(app: TestApp) {
    let account = {
        account(&app, None, "scopes@example.com").await;
        account_id(&app, "scopes@example.com").await
    };
    let (_, token) =
        server::developer::keys::create_key(&app.ai.db, account, "reader", &[Scope::Read], None).await.unwrap();
    assert_eq!(me(&app, &token).await.json()["key"]["scopes"], json!(["read"]));
    let caller = server::developer::caller::ApiCaller {
        key_id: uuid::Uuid::nil(),
        account,
        owner: app::ids::OwnerId(uuid::Uuid::nil()),
        scopes: vec![Scope::Read],
    };
    assert!(caller.require(Scope::Read).is_ok());
    assert_eq!(caller.require(Scope::Write).unwrap_err().code, "insufficient_scope");
    let refused = server::developer::keys::create_key(&app.ai.db, account, "nothing", &[], None).await;
    assert!(refused.is_err(), "a key needs a scope");
}

async fn each_key_has_its_rate_and_unknown_keys_are_bounded_per_address(app: TestApp) {
    let app = app
        .adjusted(|settings| {
            settings.developer.requests_per_minute_per_key = 3;
            settings.developer.failed_keys_per_minute_per_ip = 2;
        })
        .await;
    account(&app, None, "rate@example.com").await;
    let account = account_id(&app, "rate@example.com").await;
    let (_, busy) =
        server::developer::keys::create_key(&app.ai.db, account, "busy", &[Scope::Read], None).await.unwrap();
    let (_, calm) =
        server::developer::keys::create_key(&app.ai.db, account, "calm", &[Scope::Read], None).await.unwrap();
    for _ in 0..3 {
        assert_eq!(me(&app, &busy).await.status, StatusCode::OK);
    }
    let reply = me(&app, &busy).await;
    assert_eq!((reply.status, error_code(&reply)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into()));
    let wait: u64 = reply.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(me(&app, &calm).await.status, StatusCode::OK, "keys are counted apart");

    // Guessing: two unknown keys from one address, then that address waits; others do not.
    let guess = "atl_00000000_".to_string() + &"0".repeat(64);
    for _ in 0..2 {
        assert_eq!(
            api(&app, "GET", "/api/v1/me", Some(&guess), None, "203.0.113.9").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let reply = api(&app, "GET", "/api/v1/me", Some(&calm), None, "203.0.113.9").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(
        api(&app, "GET", "/api/v1/me", Some(&guess), None, "203.0.113.10").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn calls_are_logged_without_query_strings_and_swept_after_their_period(app: TestApp) {
    let cookie = account(&app, None, "log@example.com").await;
    let created = create_on_page(&app, &cookie, &[("name", "logger"), ("read", "on")]).await;
    let token = created["token"].as_str().unwrap().to_string();
    let reply = api(&app, "GET", "/api/v1/me?secret=hunter2", Some(&token), None, "192.0.2.44").await;
    assert_eq!(reply.status, StatusCode::OK);
    api(&app, "GET", "/api/v1/me", Some(&format!("{token}x")), None, "192.0.2.44").await;

    let page = app.call_form("developer/calls", Some(&cookie), "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", String::from_utf8_lossy(&page.body));
    let page = page.json();
    let calls = page["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "only the call made with a known key: {page}");
    assert_eq!(calls[0]["method"], "GET");
    assert_eq!(calls[0]["path"], "/api/v1/me");
    assert_eq!(calls[0]["status"], 200);
    assert_eq!(calls[0]["key_name"], "logger");
    assert!(!page.to_string().contains("hunter2"));
    let rows = sqlx::query("SELECT path FROM api_calls").fetch_all(app.ai.db.pool()).await.unwrap();
    assert!(rows.iter().all(|row| !row.get::<String, _>("path").contains('?')));
    let html = app.get("/account/api-calls", Some(&cookie)).await;
    assert!(String::from_utf8_lossy(&html.body).contains("/api/v1/me"), "the log page lists it");

    // Last used: when and from where.
    let keys = app.call_form("developer/keys", Some(&cookie), "").await.json();
    assert_eq!(keys[0]["last_used_ip"], "192.0.2.44");
    assert!(keys[0]["last_used_at"].as_i64().unwrap() >= now() - 60);

    // Kept for the period (90 days by default), then swept; the next sweep is planned for it.
    let next = app.retention.next_sweep(now(), 1000 * DAY).await.unwrap();
    assert!(next <= now() + 90 * DAY + 2, "the next sweep comes when the oldest call falls due");
    assert_eq!(app.retention.sweep(now() + 89 * DAY).await.unwrap().expired_api_calls, 0);
    assert_eq!(app.retention.sweep(now() + 91 * DAY).await.unwrap().expired_api_calls, 1);
    assert_eq!(app.call_form("developer/calls", Some(&cookie), "").await.json()["calls"], json!([]));
}

async fn the_call_log_pages_newest_first(app: TestApp) {
    let cookie = account(&app, None, "pages@example.com").await;
    let created = create_on_page(&app, &cookie, &[("name", "pager"), ("read", "on")]).await;
    let token = created["token"].as_str().unwrap().to_string();
    let total = server::developer::calls::PAGE_SIZE as usize + 3;
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);
    let key: uuid::Uuid = created["key"]["id"].as_str().unwrap().parse().unwrap();
    let account = account_id(&app, "pages@example.com").await;
    for i in 1..total {
        let path = format!("/api/v1/photos/{i}");
        let call = server::developer::calls::NewCall {
            account,
            key,
            method: "GET",
            path: &path,
            status: 404,
            duration_ms: 1,
            at: now(),
        };
        app.ai.db.insert_api_call(&call).await.unwrap();
    }
    let first = app.call_form("developer/calls", Some(&cookie), "").await.json();
    assert_eq!(first["calls"].as_array().unwrap().len(), server::developer::calls::PAGE_SIZE as usize);
    assert_eq!(first["calls"][0]["path"], format!("/api/v1/photos/{}", total - 1));
    let next = first["next"].as_str().unwrap();
    let second = app.call_form("developer/calls", Some(&cookie), &form(&[("before", next)])).await.json();
    assert_eq!(second["calls"].as_array().unwrap().len(), 3);
    assert_eq!(second["calls"][2]["path"], "/api/v1/me");
    assert_eq!(second["next"], json!(null));
}

async fn a_webhook_secret_is_shown_once_sealed_and_gone_with_the_key(app: TestApp) {
    let cookie = account(&app, None, "hook@example.com").await;
    let created = create_on_page(
        &app,
        &cookie,
        &[("name", "hooked"), ("ai", "on"), ("expires_in_days", "30"), ("webhook_url", "https://example.com/hook")],
    )
    .await;
    let secret = created["webhook_secret"].as_str().unwrap().to_string();
    assert!(created["key"]["expires_at"].as_i64().unwrap() > now() + 29 * DAY);
    let id: uuid::Uuid = created["key"]["id"].as_str().unwrap().parse().unwrap();
    let storage = &app.ai.photos.storage;
    let (url, key) = server::developer::keys::webhook_for(&app.ai.db, storage, id).await.unwrap().unwrap();
    assert_eq!(url, "https://example.com/hook");
    assert_eq!(key, secret.as_bytes());
    assert!(!stored_key_text(&app).await.contains(&secret), "the database holds no webhook secret");

    let refused = app
        .call_form(
            "developer/create-key",
            Some(&cookie),
            &form(&[("name", "bad"), ("ai", "on"), ("webhook_url", "ftp://x")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    app.call_form("developer/revoke-key", Some(&cookie), &form(&[("id", &id.to_string())])).await;
    assert!(server::developer::keys::webhook_for(&app.ai.db, storage, id).await.unwrap().is_none());
    assert!(
        storage.list(Some("owners")).await.unwrap().iter().all(|key| !key.contains("webhook")),
        "the secret is purged"
    );
}

async fn export_holds_keys_without_secrets_and_erasure_removes_them(app: TestApp) {
    let email = "export-keys@example.com";
    let cookie = account(&app, None, email).await;
    let created = create_on_page(
        &app,
        &cookie,
        &[("name", "exported"), ("read", "on"), ("webhook_url", "https://example.com/h")],
    )
    .await;
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);

    let manifest = exported_manifest(&app, &cookie).await;
    let key = &manifest["api_keys"][0];
    assert_eq!(key["name"], "exported");
    assert_eq!(key["prefix"], created["key"]["prefix"]);
    assert_eq!(key["scopes"], json!(["read"]));
    assert!(key.get("secret_hash").is_none());
    let text = manifest.to_string();
    assert!(!text.contains(token.rsplit('_').next().unwrap()));
    assert!(!text.contains(&server::developer::keys::token_hash(&token)));
    assert!(!text.contains(created["webhook_secret"].as_str().unwrap()));
    assert_eq!(manifest["api_calls"][0]["path"], "/api/v1/me");

    crate::support::delete_account(&app, &cookie, email).await;
    for table in ["api_keys", "api_calls"] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let count: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(app.ai.db.pool()).await.unwrap().get("n");
        assert_eq!(count, 0, "{table} emptied by erasure");
    }
    assert_eq!(me(&app, &token).await.status, StatusCode::UNAUTHORIZED);
}

on_both_databases!(
    a_key_is_shown_once_stored_as_a_hash_and_authenticates_api_v1,
    a_browser_without_javascript_sees_its_new_key_once,
    revoked_expired_unknown_and_missing_keys_get_401,
    cookies_never_authenticate_api_v1_and_keys_never_authenticate_pages,
    scopes_are_the_ones_ticked,
    each_key_has_its_rate_and_unknown_keys_are_bounded_per_address,
    calls_are_logged_without_query_strings_and_swept_after_their_period,
    the_call_log_pages_newest_first,
    a_webhook_secret_is_shown_once_sealed_and_gone_with_the_key,
    export_holds_keys_without_secrets_and_erasure_removes_them,
);
