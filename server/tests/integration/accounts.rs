//! Accounts, sign-in and sessions (issue 4; SECURITY.md "Sign-in" and "Sessions, cookies, CSRF"),
//! through the real router on SQLite and Postgres.

use crate::support::{account, form, mailed_token, sign_up, TestApp, PASSWORD};
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

async fn me(app: &TestApp, cookie: &str) -> serde_json::Value {
    app.call_form("auth/me", Some(cookie), "").await.json()
}

async fn sign_in(app: &TestApp, cookie: Option<&str>, email: &str, password: &str) -> crate::support::Reply {
    app.call_form("auth/signin", cookie, &form(&[("email", email), ("password", password)])).await
}

async fn signing_up_confirming_and_signing_in_works_and_rotates_the_session_id(app: TestApp) {
    let (guest, photo) = app.new_owner_with_photo("chelsea.png").await;
    let signed_in = account(&app, Some(&guest), "ada@example.org").await;
    assert_ne!(signed_in, guest, "the session id changes at sign-in");
    assert_eq!(me(&app, &signed_in).await["display_name"], "Ada");
    // The old id is gone: it is neither signed in nor holding the workspace.
    assert_eq!(me(&app, &guest).await, json!(null));
    assert_eq!(app.call_form("photos/list", Some(&guest), "").await.json(), json!([]));
    // The guest's upload now belongs to the account.
    let photos = app.call_form("photos/list", Some(&signed_in), "").await.json();
    assert_eq!(photos[0]["id"], photo["id"]);

    // Out and in again from a fresh browser: same account, same photo, another new id.
    assert_eq!(app.call_form("auth/signout", Some(&signed_in), "").await.status, StatusCode::OK);
    assert_eq!(me(&app, &signed_in).await, json!(null), "sign-out deletes the server-side record");
    let again = sign_in(&app, None, "ADA@example.org ", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{}", String::from_utf8_lossy(&again.body));
    let cookie = again.session_cookie().unwrap();
    assert_eq!(app.call_form("photos/list", Some(&cookie), "").await.json()[0]["id"], photo["id"]);
}

async fn answers_do_not_reveal_whether_an_account_exists(app: TestApp) {
    account(&app, None, "taken@example.org").await;
    let taken = sign_up(&app, None, "taken@example.org").await;
    let fresh = sign_up(&app, None, "fresh@example.org").await;
    assert_eq!((taken.status, &taken.body), (fresh.status, &fresh.body));

    let wrong = sign_in(&app, None, "taken@example.org", "not the password!").await;
    let nobody = sign_in(&app, None, "nobody@example.org", "not the password!").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!((wrong.status, &wrong.body), (nobody.status, &nobody.body));

    let reset_known = app.call_form("auth/reset-request", None, &form(&[("email", "taken@example.org")])).await;
    let reset_unknown = app.call_form("auth/reset-request", None, &form(&[("email", "nobody@example.org")])).await;
    assert_eq!((reset_known.status, &reset_known.body), (reset_unknown.status, &reset_unknown.body));
}

async fn failed_sign_ins_are_rate_limited(app: TestApp) {
    account(&app, None, "grace@example.org").await;
    for _ in 0..5 {
        assert_eq!(sign_in(&app, None, "grace@example.org", "wrong password!").await.status, StatusCode::BAD_REQUEST);
    }
    let blocked = sign_in(&app, None, "grace@example.org", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.session_cookie().is_none());
}

async fn passwords_are_stored_as_argon2id_hashes(app: TestApp) {
    account(&app, None, "hash@example.org").await;
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let row: (String,) = sqlx::query_as("SELECT password_hash FROM accounts WHERE email = 'hash@example.org'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(row.0.starts_with("$argon2id$"), "{}", row.0);
    assert!(!row.0.contains(PASSWORD));
}

async fn sign_out_everywhere_ends_every_session_and_the_list_shows_them(app: TestApp) {
    let first = account(&app, None, "lin@example.org").await;
    let second = sign_in(&app, None, "lin@example.org", PASSWORD).await.session_cookie().unwrap();
    let list = app.call_form("auth/sessions", Some(&first), "").await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["current"], true);
    assert!(!list.to_string().contains(first.split('=').nth(1).unwrap()), "session ids never appear in the list");

    // Ending the other session by its handle.
    let other = list[1]["handle"].as_str().unwrap().to_string();
    assert_eq!(
        app.call_form("auth/sessions/end", Some(&first), &form(&[("handle", &other)])).await.status,
        StatusCode::OK
    );
    assert_eq!(me(&app, &second).await, json!(null));

    let third = sign_in(&app, None, "lin@example.org", PASSWORD).await.session_cookie().unwrap();
    assert_eq!(app.call_form("auth/signout-everywhere", Some(&first), "").await.status, StatusCode::OK);
    assert_eq!(me(&app, &first).await, json!(null));
    assert_eq!(me(&app, &third).await, json!(null));
}

async fn changing_the_password_signs_out_other_sessions(app: TestApp) {
    let first = account(&app, None, "mary@example.org").await;
    let second = sign_in(&app, None, "mary@example.org", PASSWORD).await.session_cookie().unwrap();
    let wrong = app
        .call_form(
            "auth/password",
            Some(&first),
            &form(&[("current", "nope nope nope"), ("new", "another good password")]),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let changed = app
        .call_form("auth/password", Some(&first), &form(&[("current", PASSWORD), ("new", "another good password")]))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&changed.body));
    assert_eq!(me(&app, &second).await, json!(null));
    assert_eq!(me(&app, &first).await["display_name"], "Ada");
    assert_eq!(sign_in(&app, None, "mary@example.org", PASSWORD).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in(&app, None, "mary@example.org", "another good password").await.status, StatusCode::OK);
}

async fn a_password_reset_link_works_once(app: TestApp) {
    account(&app, None, "kat@example.org").await;
    let asked = app.call_form("auth/reset-request", None, &form(&[("email", "kat@example.org")])).await;
    let asker = asked.session_cookie().expect("asking starts a session");
    let token = mailed_token(&app, "kat@example.org", "reset").await;
    let new = form(&[("token", &token), ("new", "a brand new password")]);
    let reset = app.call_form("auth/reset", Some(&asker), &new).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reset.body));
    assert!(reset.session_cookie().is_some(), "the browser that asked is signed in");
    let replay = app.call_form("auth/reset", None, &form(&[("token", &token), ("new", "yet another password")])).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in(&app, None, "kat@example.org", "a brand new password").await.status, StatusCode::OK);
}

async fn the_admin_page_is_404_to_everyone_but_admins(app: TestApp) {
    let cookie = account(&app, None, "boss@example.org").await;
    assert_eq!(app.call_form("admin/overview", None, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_form("admin/overview", Some(&cookie), "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/admin", Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    let db = server::platform::db::Db::connect(app.settings.database_url().expose_secret()).await.unwrap();
    assert!(db.grant_admin("boss@example.org").await.unwrap());
    let overview = app.call_form("admin/overview", Some(&cookie), "").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert_eq!(overview.json()["accounts"][0]["email"], "boss@example.org");
    assert_eq!(app.get("/admin", Some(&cookie)).await.status, StatusCode::OK);

    // Admins export every consent record; the signed-in admin's own choice is among them.
    let chose = app
        .send(
            axum::http::Request::post("/consent")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", &cookie)
                .body(axum::body::Body::from("choice=reject_all"))
                .unwrap(),
        )
        .await;
    assert_eq!(chose.status, StatusCode::SEE_OTHER);
    let export = app.get("/admin/consent-records.csv", Some(&cookie)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.headers["content-type"], "text/csv; charset=utf-8");
    let csv = String::from_utf8(export.body).unwrap();
    let account_id = app.call_form("auth/me", Some(&cookie), "").await.json()["id"].as_str().unwrap().to_string();
    assert!(csv.starts_with("consent_id,account_id,action"), "{csv}");
    assert!(csv.lines().any(|line| line.contains(&account_id) && line.contains("reject_all")), "{csv}");
}

async fn a_session_past_the_absolute_limit_is_ended(app: TestApp) {
    let cookie = account(&app, None, "old@example.org").await;
    // Move the sign-in back in time, past the 30-day absolute limit.
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (id, data): (String, String) =
        sqlx::query_as("SELECT id, data FROM sessions WHERE account_id IS NOT NULL").fetch_one(&pool).await.unwrap();
    let mut data: serde_json::Value = serde_json::from_str(&data).unwrap();
    data["signed_in_at"] = json!(server::platform::db::now() - 31 * 24 * 3600);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(data.to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(me(&app, &cookie).await, json!(null));
}

async fn cross_site_sign_in_posts_are_refused(app: TestApp) {
    use axum::body::Body;
    use axum::http::Request;
    account(&app, None, "csrf@example.org").await;
    let request = Request::post("/api/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(form(&[("email", "csrf@example.org"), ("password", PASSWORD)])))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.session_cookie().is_none());
}

async fn a_provider_callback_without_its_attempt_is_refused(app: TestApp) {
    let reply = app.get("/auth/e2e/callback?code=stolen&state=forged", None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/signin?failed=expired");
    let unknown = app.get("/auth/nobody/start", None).await;
    assert_eq!(unknown.headers["location"], "/signin?failed=unavailable");
}

on_both_databases!(
    signing_up_confirming_and_signing_in_works_and_rotates_the_session_id,
    answers_do_not_reveal_whether_an_account_exists,
    failed_sign_ins_are_rate_limited,
    passwords_are_stored_as_argon2id_hashes,
    sign_out_everywhere_ends_every_session_and_the_list_shows_them,
    changing_the_password_signs_out_other_sessions,
    a_password_reset_link_works_once,
    the_admin_page_is_404_to_everyone_but_admins,
    a_session_past_the_absolute_limit_is_ended,
    cross_site_sign_in_posts_are_refused,
    a_provider_callback_without_its_attempt_is_refused,
);
