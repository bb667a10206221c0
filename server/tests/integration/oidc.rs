//! Sign-in through providers. OpenID Connect against the real `oidc-provider` (npm, the certified
//! Node.js implementation the end-to-end tests also use), started on a free loopback port; its
//! browser part (logging in at the provider, the code exchange, ID-token validation) is in
//! end2end/tests/accounts.spec.ts. GitHub against a loopback stand-in speaking GitHub's protocol
//! (end2end/oidc/github.mjs), the whole flow here. SECURITY.md "Sign-in" 1–3 and 6.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::support::TestApp;
use axum::http::StatusCode;
use server::config::ProviderSettings;

const APP_URL: &str = "http://127.0.0.1:3000";

struct LoopbackProvider {
    issuer: String,
    _child: tokio::process::Child,
}

/// Runs `end2end/oidc/<script>` on a free port (`port_var`) and waits until `ready_path` answers.
async fn spawn(script: &str, port_var: &str, ready_path: &str) -> LoopbackProvider {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    assert!(
        root.join("node_modules/oidc-provider").exists(),
        "run scripts/setup: the npm package oidc-provider is missing"
    );
    let child = tokio::process::Command::new("node")
        .arg(format!("oidc/{script}"))
        .current_dir(&root)
        .env(port_var, port.to_string())
        .env("APP_URL", APP_URL)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts the provider");
    let issuer = format!("http://localhost:{port}");
    for _ in 0..100 {
        if openidconnect::reqwest::get(format!("{issuer}{ready_path}")).await.is_ok() {
            return LoopbackProvider { issuer, _child: child };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{script} did not start on {issuer}");
}

fn provider_settings(id: &str, kind: &str, client_id: &str, secret: &str) -> ProviderSettings {
    ProviderSettings {
        id: id.into(),
        name: id.into(),
        kind: kind.into(),
        issuer: None,
        client_id: client_id.into(),
        client_secret: Some(secret.into()),
        github_url: None,
        github_api_url: None,
    }
}

async fn app_with_provider() -> (TestApp, LoopbackProvider) {
    let provider = spawn("provider.mjs", "OIDC_PORT", "/.well-known/openid-configuration").await;
    let issuer = provider.issuer.clone();
    let app = TestApp::sqlite_with(move |settings| {
        settings.server.public_url = APP_URL.into();
        settings.providers = vec![ProviderSettings {
            issuer: Some(issuer),
            ..provider_settings("e2e", "oidc", "atelier-e2e", "e2e-client-secret-for-tests-only")
        }];
    })
    .await;
    (app, provider)
}

/// Starts a sign-in with `provider`; returns the session cookie, the provider URL and its
/// parameters.
async fn start_with(
    app: &TestApp,
    provider: &str,
    cookie: Option<&str>,
    return_to: &str,
) -> (String, String, HashMap<String, String>) {
    let reply = app.get(&format!("/auth/{provider}/start?return_to={return_to}"), cookie).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let url = openidconnect::url::Url::parse(&location).unwrap_or_else(|_| panic!("not a provider URL: {location}"));
    let params = url.query_pairs().into_owned().collect();
    let cookie = reply.session_cookie().or(cookie.map(str::to_string)).expect("the attempt lives in a session");
    (cookie, location, params)
}

async fn start(app: &TestApp, return_to: &str) -> (String, HashMap<String, String>) {
    let (cookie, _, params) = start_with(app, "e2e", None, return_to).await;
    (cookie, params)
}

fn callback(code: &str, state: &str) -> String {
    format!("/auth/e2e/callback?code={code}&state={state}")
}

#[tokio::test]
async fn every_authorization_request_uses_pkce_s256_a_fixed_redirect_and_fresh_secrets() {
    let (app, provider) = app_with_provider().await;
    let (_, first) = start(&app, "/gallery").await;
    let (_, second) = start(&app, "/gallery").await;
    assert_eq!(first["response_type"], "code");
    assert_eq!(first["client_id"], "atelier-e2e");
    assert_eq!(first["redirect_uri"], "http://127.0.0.1:3000/auth/e2e/callback");
    assert_eq!(first["code_challenge_method"], "S256");
    assert_eq!(first["code_challenge"].len(), 43, "a base64url SHA-256");
    assert!(first["scope"].split(' ').any(|s| s == "openid"));
    for key in ["code_challenge", "state", "nonce"] {
        assert_ne!(first[key], second[key], "{key} is fresh for every attempt");
    }
    drop(provider);
}

#[tokio::test]
async fn state_is_bound_to_the_session_and_used_once() {
    let (app, _provider) = app_with_provider().await;
    let (cookie, params) = start(&app, "/gallery").await;
    let state = &params["state"];

    // From another browser (no session) the right state is worthless.
    let elsewhere = app.get(&callback("code", state), None).await;
    assert_eq!(elsewhere.headers["location"], "/signin?failed=expired");

    // A forged state is refused, and the attempt is spent by it.
    let forged = app.get(&callback("code", "forged"), Some(&cookie)).await;
    assert_eq!(forged.headers["location"], "/signin?failed=invalid");
    let replay = app.get(&callback("code", state), Some(&cookie)).await;
    assert_eq!(replay.headers["location"], "/signin?failed=expired");

    // The right state with a code the provider never issued: refused by the provider, and the
    // attempt cannot be replayed either.
    let (cookie, params) = start(&app, "/gallery").await;
    let bad_code = app.get(&callback("not-a-real-code", &params["state"]), Some(&cookie)).await;
    assert_eq!(bad_code.headers["location"], "/signin?failed=invalid");
    let again = app.get(&callback("not-a-real-code", &params["state"]), Some(&cookie)).await;
    assert_eq!(again.headers["location"], "/signin?failed=expired");
    assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json(), serde_json::json!(null));
}

#[tokio::test]
async fn a_denied_sign_in_says_so_and_signs_nobody_in() {
    let (app, _provider) = app_with_provider().await;
    let (cookie, params) = start(&app, "/").await;
    let denied =
        app.get(&format!("/auth/e2e/callback?error=access_denied&state={}", params["state"]), Some(&cookie)).await;
    assert_eq!(denied.headers["location"], "/signin?failed=denied");
    assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json(), serde_json::json!(null));
}

async fn app_with_github() -> (TestApp, LoopbackProvider) {
    let github = spawn("github.mjs", "GITHUB_PORT", "/api/").await;
    let web = github.issuer.clone();
    let app = TestApp::sqlite_with(move |settings| {
        settings.server.public_url = APP_URL.into();
        settings.providers = vec![ProviderSettings {
            github_url: Some(web.clone()),
            github_api_url: Some(format!("{web}/api")),
            ..provider_settings("github", "github", "atelier-github", "github-client-secret-for-tests-only")
        }];
    })
    .await;
    (app, github)
}

/// The browser's part: follow the provider's redirect back to Atelier's callback.
async fn approve_at_provider(location: &str) -> String {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http.get(location).send().await.unwrap();
    assert_eq!(answer.status(), 302, "the stand-in approves at once");
    let back = answer.headers()["location"].to_str().unwrap().to_string();
    back.strip_prefix(APP_URL)
        .unwrap_or_else(|| panic!("the provider sends the browser back to the fixed redirect URI: {back}"))
        .to_string()
}

#[tokio::test]
async fn github_sign_in_adopts_the_guest_workspace_and_finds_the_same_account_again() {
    let (app, _github) = app_with_github().await;
    let (guest, photo) = app.new_owner_with_photo("chelsea.png").await;
    let (cookie, location, params) = start_with(&app, "github", Some(&guest), "/gallery").await;
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["redirect_uri"], format!("{APP_URL}/auth/github/callback"));

    let callback = approve_at_provider(&location).await;
    let back = app.get(&callback, Some(&cookie)).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.headers["location"], "/gallery");
    let signed_in = back.session_cookie().expect("signing in rotates the session id");
    assert_ne!(signed_in, cookie);
    let me = app.call_form("auth/me", Some(&signed_in), "").await.json();
    assert_eq!(me["display_name"], "The Octocat");
    assert_eq!(me["email"], "octocat@example.test", "the primary verified address");
    assert_eq!(app.call_form("photos/list", Some(&signed_in), "").await.json()[0]["id"], photo["id"]);
    // The access token went nowhere near the browser.
    assert!(!String::from_utf8_lossy(&back.body).contains("gho_"));

    // A second sign-in from a fresh browser finds the account by GitHub's user id.
    let (cookie, location, _) = start_with(&app, "github", None, "/").await;
    let back = app.get(&approve_at_provider(&location).await, Some(&cookie)).await;
    let again = back.session_cookie().unwrap();
    assert_eq!(app.call_form("photos/list", Some(&again), "").await.json()[0]["id"], photo["id"]);

    // A code replayed on the callback is refused (the attempt is gone, and GitHub spent the code).
    let replay = app.get(&callback, Some(&again)).await;
    assert_eq!(replay.headers["location"], "/signin?failed=expired");
}

/// Two-factor sign-in is the account's setting, whatever signs it in: after the provider vouches
/// for the person, the session still waits for a code (issue 19).
#[tokio::test]
async fn a_provider_sign_in_to_a_two_factor_account_still_asks_for_a_code() {
    use server::accounts::totp::{code_at, step_at};
    let (app, _github) = app_with_github().await;
    let (cookie, location, _) = start_with(&app, "github", None, "/gallery").await;
    let signed_in = app.get(&approve_at_provider(&location).await, Some(&cookie)).await.session_cookie().unwrap();
    assert_eq!(app.call_form("account/two-factor/start", Some(&signed_in), "").await.status, StatusCode::OK);
    let status = app.call_form("account/two-factor", Some(&signed_in), "").await.json();
    let secret = data_encoding::BASE32_NOPAD.decode(status["setup"]["secret"].as_str().unwrap().as_bytes()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let step = step_at(now);
    let code = crate::support::form(&[("code", &code_at(&secret, step))]);
    assert_eq!(app.call_form("account/two-factor/confirm", Some(&signed_in), &code).await.status, StatusCode::OK);

    let (cookie, location, _) = start_with(&app, "github", None, "/gallery").await;
    let back = app.get(&approve_at_provider(&location).await, Some(&cookie)).await;
    assert_eq!(back.headers["location"], "/signin/code");
    let pending = back.session_cookie().unwrap_or(cookie);
    assert_eq!(app.call_form("auth/me", Some(&pending), "").await.json(), serde_json::Value::Null);
    let code = crate::support::form(&[("code", &code_at(&secret, step + 1))]);
    let done = app.call_form("auth/signin-code", Some(&pending), &code).await;
    assert_eq!(done.status, StatusCode::OK, "{}", String::from_utf8_lossy(&done.body));
    let me = app.call_form("auth/me", Some(&done.session_cookie().unwrap()), "").await.json();
    assert_eq!(me["email"], "octocat@example.test");
}

/// ID tokens with one fault each are refused, and the token client follows no redirects; the same
/// provider's valid token signs in, so each refusal is for its one fault. SECURITY.md "Sign-in" 4, 6.
#[tokio::test]
async fn id_tokens_with_a_bad_signature_issuer_audience_nonce_or_expiry_are_refused() {
    let provider = spawn("misbehaving.mjs", "MISBEHAVING_PORT", "/.well-known/openid-configuration").await;
    let issuer = provider.issuer.clone();
    let app = TestApp::sqlite_with(move |settings| {
        settings.server.public_url = APP_URL.into();
        settings.providers = vec![ProviderSettings {
            issuer: Some(issuer),
            ..provider_settings("e2e", "oidc", "atelier-e2e", "e2e-client-secret-for-tests-only")
        }];
    })
    .await;
    for mode in ["bad-signature", "wrong-issuer", "wrong-audience", "wrong-nonce", "expired", "redirect"] {
        let (cookie, params) = start(&app, "/gallery").await;
        let code = format!("{mode}~{}", params["nonce"]);
        let reply = app.get(&callback(&code, &params["state"]), Some(&cookie)).await;
        assert_eq!(reply.headers["location"], "/signin?failed=invalid", "{mode}");
        assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json(), serde_json::json!(null), "{mode}");
    }
    let (cookie, params) = start(&app, "/gallery").await;
    let code = format!("good~{}", params["nonce"]);
    let reply = app.get(&callback(&code, &params["state"]), Some(&cookie)).await;
    assert_eq!(reply.headers["location"], "/gallery");
    let cookie = reply.session_cookie().unwrap_or(cookie);
    assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json()["email"], "misbehaving@example.test");
}
