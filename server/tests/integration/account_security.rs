//! The account page (issue 19): display name, e-mail change, security notices, two-factor sign-in
//! with TOTP and recovery codes, opt-in mailings with one-click unsubscribe, and announcements,
//! through the real router on SQLite and Postgres.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::support::{account, form, mailed_token, Reply, TestApp, PASSWORD};
use server::accounts::totp::{code_at, step_at};

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn me(app: &TestApp, cookie: &str) -> Value {
    app.call_form("auth/me", Some(cookie), "").await.json()
}

/// A sign-in from a browser that names itself `user_agent`.
async fn sign_in_as(app: &TestApp, email: &str, password: &str, user_agent: &str) -> Reply {
    let request = Request::post("/api/auth/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, user_agent)
        .body(Body::from(form(&[("email", email), ("password", password)])))
        .unwrap();
    app.send(request).await
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    app.call_form("auth/signin", None, &form(&[("email", email), ("password", password)])).await
}

/// Every message written for `to` so far, decoded enough to read (quoted-printable soft breaks).
fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let dir = app.settings.storage.data_dir.join("mail");
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default().replace("=\r\n", "").replace("=3D", "="))
        .filter(|text| text.contains(&format!("To: {to}")))
        .collect()
}

/// Waits for a mail to `to` whose text contains `needle` (mail is sent in the background).
async fn mail_with(app: &TestApp, to: &str, needle: &str) -> String {
    for _ in 0..100 {
        if let Some(mail) = mails_to(app, to).into_iter().find(|text| text.contains(needle)) {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} with {needle:?}; got {:#?}", mails_to(app, to));
}

/// Lets mail sent in the background land before counting what is not there.
async fn mail_settles() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn count_with(app: &TestApp, to: &str, needle: &str) -> usize {
    mails_to(app, to).iter().filter(|text| text.contains(needle)).count()
}

async fn db(app: &TestApp) -> server::platform::db::Db {
    server::platform::db::Db::connect(app.settings.database_url().expose_secret()).await.unwrap()
}

/// Room for every notice these tests provoke (the default allows 5 mails an hour per address).
async fn roomy(app: TestApp) -> TestApp {
    app.adjusted(|settings| settings.limits.mails_per_hour_per_address = 100).await
}

async fn the_display_name_can_be_changed(app: TestApp) {
    let cookie = account(&app, None, "name@example.org").await;
    let changed = app.call_form("account/name", Some(&cookie), &form(&[("display_name", "  Ada Lovelace ")])).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&changed.body));
    assert_eq!(me(&app, &cookie).await["display_name"], "Ada Lovelace");
    let long = "x".repeat(81);
    let refused = app.call_form("account/name", Some(&cookie), &form(&[("display_name", &long)])).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(me(&app, &cookie).await["display_name"], "Ada Lovelace");
    assert_eq!(
        app.call_form("account/name", None, &form(&[("display_name", "Eve")])).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn an_email_change_waits_for_the_new_address_and_tells_the_old_one(app: TestApp) {
    let app = roomy(app).await;
    let cookie = account(&app, None, "old@example.org").await;
    let ask = |password: &'static str| form(&[("new_email", "New@Example.org"), ("password", password)]);
    let wrong = app.call_form("account/email", Some(&cookie), &ask("not my password")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let asked = app.call_form("account/email", Some(&cookie), &ask(PASSWORD)).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", String::from_utf8_lossy(&asked.body));

    // Nothing changes before the link is opened.
    let token = mailed_token(&app, "new@example.org", "account/email").await;
    assert_eq!(me(&app, &cookie).await["email"], "old@example.org");
    assert_eq!(sign_in(&app, "new@example.org", PASSWORD).await.status, StatusCode::BAD_REQUEST);

    // The link works from any browser, once.
    let confirmed = app.call_form("account/email/confirm", None, &form(&[("token", &token)])).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&confirmed.body));
    assert_eq!(me(&app, &cookie).await["email"], "new@example.org");
    assert_eq!(me(&app, &cookie).await["email_verified"], true);
    let replay = app.call_form("account/email/confirm", None, &form(&[("token", &token)])).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in(&app, "new@example.org", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(sign_in(&app, "old@example.org", PASSWORD).await.status, StatusCode::BAD_REQUEST);

    // The old address is told, and only told: no link in that mail.
    let notice = mail_with(&app, "old@example.org", "was changed to new@example.org").await;
    assert!(!notice.contains("token="), "{notice}");

    // An expired link changes nothing.
    let again = form(&[("new_email", "third@example.org"), ("password", PASSWORD)]);
    assert_eq!(app.call_form("account/email", Some(&cookie), &again).await.status, StatusCode::OK);
    let token = mailed_token(&app, "third@example.org", "account/email").await;
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    sqlx::query("UPDATE email_changes SET expires_at = 0").execute(&pool).await.unwrap();
    let expired = app.call_form("account/email/confirm", None, &form(&[("token", &token)])).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert_eq!(me(&app, &cookie).await["email"], "new@example.org");

    // An address another account has is never taken, and the page does not say so.
    account(&app, None, "taken@example.org").await;
    let taken = form(&[("new_email", "taken@example.org"), ("password", PASSWORD)]);
    assert_eq!(app.call_form("account/email", Some(&cookie), &taken).await.status, StatusCode::OK);
    mail_with(&app, "taken@example.org", "has an account already").await;
    assert_eq!(me(&app, &cookie).await["email"], "new@example.org");
}

async fn security_notices_are_mailed_for_new_devices_and_password_changes(app: TestApp) {
    let app = roomy(app).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let cookie = account(&app, None, "notice@example.org").await;
    // The browser that signed up is known; the same one again is not news, nor is a newer version.
    assert_eq!(sign_in_as(&app, "notice@example.org", PASSWORD, "").await.status, StatusCode::OK);
    assert_eq!(sign_in_as(&app, "notice@example.org", PASSWORD, firefox).await.status, StatusCode::OK);
    let mail = mail_with(&app, "notice@example.org", "New sign-in").await;
    assert!(mail.contains("Firefox on Linux"), "{mail}");
    let newer = firefox.replace("128.0", "129.0");
    assert_eq!(sign_in_as(&app, "notice@example.org", PASSWORD, &newer).await.status, StatusCode::OK);
    mail_settles().await;
    assert_eq!(count_with(&app, "notice@example.org", "New sign-in"), 1);
    // Only a hash of the browser is kept, never its description.
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let hashes: Vec<(String,)> =
        sqlx::query_as("SELECT device_hash FROM known_devices").fetch_all(&pool).await.unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.iter().all(|(hash,)| hash.len() == 64 && !hash.contains("Firefox")));

    let changed = app
        .call_form("auth/password", Some(&cookie), &form(&[("current", PASSWORD), ("new", "another good password")]))
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    mail_with(&app, "notice@example.org", "Your Atelier password was changed").await;
}

/// Turns two-factor sign-in on for the signed-in `cookie`; returns the secret and the step used.
async fn turn_on_two_factor(app: &TestApp, cookie: &str) -> (Vec<u8>, i64, Vec<String>) {
    assert_eq!(app.call_form("account/two-factor/start", Some(cookie), "").await.status, StatusCode::OK);
    let status = app.call_form("account/two-factor", Some(cookie), "").await.json();
    assert_eq!(status["enabled"], false);
    let secret_text = status["setup"]["secret"].as_str().unwrap().to_string();
    assert!(status["setup"]["uri"].as_str().unwrap().starts_with("otpauth://totp/Atelier:"));
    assert!(status["setup"]["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = data_encoding::BASE32_NOPAD.decode(secret_text.as_bytes()).unwrap();
    let step = step_at(unix_now());

    let wrong = app
        .call_form("account/two-factor/confirm", Some(cookie), &form(&[("code", &code_at(&secret, step + 9))]))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "a wrong code does not turn it on");
    assert_eq!(app.call_form("account/two-factor", Some(cookie), "").await.json()["enabled"], false);

    let right =
        app.call_form("account/two-factor/confirm", Some(cookie), &form(&[("code", &code_at(&secret, step))])).await;
    assert_eq!(right.status, StatusCode::OK, "{}", String::from_utf8_lossy(&right.body));
    // The recovery codes are shown once.
    let status = app.call_form("account/two-factor", Some(cookie), "").await.json();
    assert_eq!(status["enabled"], true);
    let codes: Vec<String> =
        status["new_recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(status["recovery_codes_left"], 10);
    let again = app.call_form("account/two-factor", Some(cookie), "").await.json();
    assert_eq!(again["new_recovery_codes"], json!([]));
    (secret, step, codes)
}

async fn two_factor_sign_in_needs_a_fresh_code_or_an_unused_recovery_code(app: TestApp) {
    let app = roomy(app).await;
    let cookie = account(&app, None, "totp@example.org").await;
    let (secret, step, codes) = turn_on_two_factor(&app, &cookie).await;
    mail_with(&app, "totp@example.org", "Two-factor sign-in is on").await;

    // The secret is sealed, the codes hashed.
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (sealed,): (String,) = sqlx::query_as("SELECT secret_sealed FROM two_factor").fetch_one(&pool).await.unwrap();
    assert!(!sealed.contains(&data_encoding::HEXLOWER.encode(&secret)));
    let stored: Vec<(String,)> = sqlx::query_as("SELECT code_hash FROM recovery_codes").fetch_all(&pool).await.unwrap();
    assert!(stored.iter().all(|(hash,)| !codes.iter().any(|code| hash.contains(&code.replace('-', "")))));

    // A right password alone does not sign in.
    let first = sign_in(&app, "totp@example.org", PASSWORD).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json(), json!("CodeNeeded"));
    let pending = first.session_cookie().expect("the pending step lives in a session");
    assert_eq!(me(&app, &pending).await, json!(null));
    assert_eq!(app.call_form("photos/list", Some(&pending), "").await.json(), json!([]));

    // A wrong code is refused; the code already used to turn it on is too (no replay).
    let wrong =
        app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &code_at(&secret, step + 9))])).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let replayed = app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &code_at(&secret, step))])).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert_eq!(me(&app, &pending).await, json!(null));

    let next = code_at(&secret, step + 1);
    let signed_in = app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &next)])).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", String::from_utf8_lossy(&signed_in.body));
    let session = signed_in.session_cookie().expect("the session id changes at sign-in");
    assert_ne!(session, pending);
    assert_eq!(me(&app, &session).await["email"], "totp@example.org");

    // The same code a second time, in another sign-in, is refused.
    let other = sign_in(&app, "totp@example.org", PASSWORD).await.session_cookie().unwrap();
    let replay = app.call_form("auth/signin-code", Some(&other), &form(&[("code", &next)])).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    // A recovery code works, once.
    let recovered = app.call_form("auth/signin-code", Some(&other), &form(&[("code", &codes[0].to_uppercase())])).await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", String::from_utf8_lossy(&recovered.body));
    assert_eq!(me(&app, &recovered.session_cookie().unwrap()).await["email"], "totp@example.org");
    let third = sign_in(&app, "totp@example.org", PASSWORD).await.session_cookie().unwrap();
    let used = app.call_form("auth/signin-code", Some(&third), &form(&[("code", &codes[0])])).await;
    assert_eq!(used.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.call_form("account/two-factor", Some(&session), "").await.json()["recovery_codes_left"], 9);
    mail_with(&app, "totp@example.org", "A recovery code was used").await;

    // A second step with no first is refused; an e-mailed link does not sign a two-factor account in.
    assert_eq!(
        app.call_form("auth/signin-code", None, &form(&[("code", &code_at(&secret, step + 2))])).await.status,
        StatusCode::BAD_REQUEST
    );
    let asked = app.call_form("auth/reset-request", None, &form(&[("email", "totp@example.org")])).await;
    let asker = asked.session_cookie().unwrap();
    let token = mailed_token(&app, "totp@example.org", "reset").await;
    let reset = app.call_form("auth/reset", Some(&asker), &form(&[("token", &token), ("new", PASSWORD)])).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(reset.json(), json!(null), "changed, but not signed in");
    assert_eq!(me(&app, &asker).await, json!(null));

    // Turning it off needs proof.
    let session = {
        let pending = sign_in(&app, "totp@example.org", PASSWORD).await.session_cookie().unwrap();
        let reply = app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &codes[1])])).await;
        reply.session_cookie().unwrap()
    };
    // New recovery codes replace the old ones, and are shown once too.
    let renew = form(&[("proof", PASSWORD)]);
    assert_eq!(app.call_form("account/two-factor/recovery-codes", Some(&session), &renew).await.status, StatusCode::OK);
    let status = app.call_form("account/two-factor", Some(&session), "").await.json();
    assert_eq!(status["recovery_codes_left"], 10);
    let fresh = status["new_recovery_codes"][0].as_str().unwrap().to_string();
    assert!(!codes.contains(&fresh));
    assert_eq!(app.call_form("account/two-factor", Some(&session), "").await.json()["new_recovery_codes"], json!([]));
    let pending = sign_in(&app, "totp@example.org", PASSWORD).await.session_cookie().unwrap();
    let old = app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &codes[2])])).await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST, "the earlier codes are gone");
    let new = app.call_form("auth/signin-code", Some(&pending), &form(&[("code", &fresh)])).await;
    assert_eq!(new.status, StatusCode::OK);

    let refused = app.call_form("account/two-factor/off", Some(&session), &form(&[("proof", "123456")])).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let off = app.call_form("account/two-factor/off", Some(&session), &form(&[("proof", PASSWORD)])).await;
    assert_eq!(off.status, StatusCode::OK, "{}", String::from_utf8_lossy(&off.body));
    mail_with(&app, "totp@example.org", "Two-factor sign-in was turned off").await;
    let plain = sign_in(&app, "totp@example.org", PASSWORD).await;
    assert_eq!(me(&app, &plain.session_cookie().unwrap()).await["email"], "totp@example.org");
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM recovery_codes").fetch_one(&pool).await.unwrap();
    assert_eq!(left.0, 0);
}

async fn admin(app: &TestApp, email: &str) -> String {
    let cookie = account(app, None, email).await;
    assert!(db(app).await.grant_admin(email).await.unwrap());
    cookie
}

async fn opt_in(app: &TestApp, cookie: &str, pairs: &[(&str, &str)]) {
    let reply = app.call_form("account/mail/set", Some(cookie), &form(pairs)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
}

async fn announce(app: &TestApp, cookie: &str, kind: &str, subject: &str) -> Reply {
    let body = form(&[("kind", kind), ("subject", subject), ("body", "Atelier can now do something new.")]);
    app.call_form("admin/announce", Some(cookie), &body).await
}

async fn announcements_reach_only_those_who_opted_in(app: TestApp) {
    let boss = admin(&app, "boss@example.org").await;
    let keen = account(&app, None, "keen@example.org").await;
    let shopper = account(&app, None, "shopper@example.org").await;
    account(&app, None, "quiet@example.org").await;
    // Both mailings are off until chosen.
    assert_eq!(
        app.call_form("account/mail", Some(&keen), "").await.json(),
        json!({ "marketing": false, "announcements": false })
    );
    opt_in(&app, &keen, &[("announcements", "on")]).await;
    opt_in(&app, &shopper, &[("marketing", "on")]).await;
    assert_eq!(
        app.call_form("account/mail", Some(&keen), "").await.json(),
        json!({ "marketing": false, "announcements": true })
    );

    assert_eq!(announce(&app, &keen, "announcements", "Not an admin").await.status, StatusCode::NOT_FOUND);
    let sent = announce(&app, &boss, "announcements", "What is new in Atelier").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", String::from_utf8_lossy(&sent.body));
    assert_eq!(sent.json(), json!(1));
    mail_with(&app, "keen@example.org", "What is new in Atelier").await;
    mail_settles().await;
    for other in ["shopper@example.org", "quiet@example.org", "boss@example.org"] {
        assert_eq!(count_with(&app, other, "What is new in Atelier"), 0, "{other}");
    }
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    let (audited,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'announcement_sent'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

/// The link in a mailing's `List-Unsubscribe` header, as a path on this server.
fn unsubscribe_link(mail: &str) -> String {
    let line = mail.lines().find(|line| line.starts_with("List-Unsubscribe: <")).expect("a List-Unsubscribe header");
    let url = line.trim_start_matches("List-Unsubscribe: <").trim_end_matches('>');
    url.trim_start_matches("http://127.0.0.1:3000").to_string()
}

async fn post_one_click(app: &TestApp, path: &str) -> Reply {
    // As a mail provider sends it (RFC 8058): no cookie, no Origin, this body.
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    app.send(request).await
}

async fn one_click_unsubscribe_works_without_a_session_and_forged_links_fail(app: TestApp) {
    let boss = admin(&app, "chief@example.org").await;
    let reader = account(&app, None, "reader@example.org").await;
    opt_in(&app, &reader, &[("marketing", "on"), ("announcements", "on")]).await;
    assert_eq!(announce(&app, &boss, "marketing", "Spring offer").await.json(), json!(1));
    let mail = mail_with(&app, "reader@example.org", "Spring offer").await;
    assert!(mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{mail}");
    let link = unsubscribe_link(&mail);
    assert!(link.starts_with("/unsubscribe?token="), "{link}");

    // Opening the link shows a button and changes nothing.
    let page = app.get(&link, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("<button"));
    assert_eq!(app.call_form("account/mail", Some(&reader), "").await.json()["marketing"], true);

    // A forged token (another account's id, or a changed signature) does nothing.
    let token = link.trim_start_matches("/unsubscribe?token=");
    let (id, rest) = token.split_once('.').unwrap();
    let boss_id = me(&app, &boss).await["id"].as_str().unwrap().to_string();
    let forged = [
        format!("/unsubscribe?token={boss_id}.{rest}"),
        format!("/unsubscribe?token={id}.announcements.{}", rest.split_once('.').unwrap().1),
        format!("/unsubscribe?token={}{}", &token[..token.len() - 1], if token.ends_with('0') { '1' } else { '0' }),
        "/unsubscribe".to_string(),
    ];
    for path in &forged {
        assert_eq!(post_one_click(&app, path).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(app.get(path, None).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.call_form("account/mail", Some(&reader), "").await.json(),
        json!({ "marketing": true, "announcements": true })
    );

    // The one-click POST itself, with no session: only that mailing ends.
    let done = post_one_click(&app, &link).await;
    assert_eq!(done.status, StatusCode::OK, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(
        app.call_form("account/mail", Some(&reader), "").await.json(),
        json!({ "marketing": false, "announcements": true })
    );
    assert_eq!(announce(&app, &boss, "marketing", "Summer offer").await.json(), json!(0));
}

async fn the_new_tables_are_exported_and_erased(app: TestApp) {
    let cookie = account(&app, None, "gone@example.org").await;
    turn_on_two_factor(&app, &cookie).await;
    opt_in(&app, &cookie, &[("announcements", "on")]).await;
    let manifest = crate::support::exported_manifest(&app, &cookie).await;
    let security = &manifest["account"]["security"];
    assert_eq!(security["two_factor"]["enabled"], true);
    assert_eq!(security["two_factor"]["recovery_codes_left"], 10);
    assert!(security["mailings"]["announcements_opted_in_at"].is_i64());
    assert_eq!(security["known_devices"].as_array().unwrap().len(), 1);
    assert!(!manifest.to_string().contains("secret_sealed"));

    crate::support::delete_account(&app, &cookie, "gone@example.org").await;
    let pool = sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap();
    for table in ["two_factor", "recovery_codes", "known_devices", "email_changes"] {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

on_both_databases!(
    the_display_name_can_be_changed,
    an_email_change_waits_for_the_new_address_and_tells_the_old_one,
    security_notices_are_mailed_for_new_devices_and_password_changes,
    two_factor_sign_in_needs_a_fresh_code_or_an_unused_recovery_code,
    announcements_reach_only_those_who_opted_in,
    one_click_unsubscribe_works_without_a_session_and_forged_links_fail,
    the_new_tables_are_exported_and_erased,
);
