//! Abuse resistance and account takeover (issue 15; SECURITY.md "Abuse resistance"), through the
//! real router on SQLite and Postgres: each test fails when its rule is broken.

use crate::support::{account, fixture, form, mailed_token, sign_up, TestApp, PASSWORD};
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(app.settings.database_url().expose_secret()).await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|photo| photo["id"].as_str().unwrap().to_string()).collect()
}

/// A sign-in from the client address `ip` (the tests' servers trust X-Forwarded-For).
async fn sign_in_from(app: &TestApp, ip: &str, email: &str, password: &str) -> crate::support::Reply {
    let request = axum::http::Request::post("/api/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("x-forwarded-for", ip)
        .body(axum::body::Body::from(form(&[("email", email), ("password", password)])))
        .unwrap();
    app.send(request).await
}

fn retry_after(reply: &crate::support::Reply) -> u64 {
    reply.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn sign_in(app: &TestApp, cookie: Option<&str>, email: &str, password: &str) -> crate::support::Reply {
    app.call_form("auth/signin", cookie, &form(&[("email", email), ("password", password)])).await
}

/// Browser A signs up with Ada's address; Ada confirms from her own browser B. A must hold
/// nothing of the account: not before, not after, not through any photo, gallery or AI call.
async fn sign_up_grants_nothing_and_confirming_elsewhere_leaves_the_first_browser_outside(app: TestApp) {
    let (a, a_photo) = app.new_owner_with_photo("chelsea.png").await;
    assert_eq!(sign_up(&app, Some(&a), "ada@example.org").await.status, StatusCode::OK);
    assert_eq!(app.call_form("auth/me", Some(&a), "").await.json(), json!(null), "sign-up signs nobody in");

    // B follows the link: the address is confirmed, but B is not signed in by it either.
    let token = mailed_token(&app, "ada@example.org", "verify").await;
    let confirmed = app.call_form("auth/verify", None, &form(&[("token", &token)])).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&confirmed.body));
    assert_eq!(confirmed.json(), json!(null), "a link opened in another browser confirms without signing in");
    let b = sign_in(&app, None, "ada@example.org", PASSWORD).await.session_cookie().expect("B signs in");
    // A's guest photo did not move into the account, and the account's uploads stay there.
    assert!(ids(&app.call_form("photos/list", Some(&b), "").await.json()).is_empty());
    let b_photo = app.upload(Some(&b), "coffee.png", fixture("coffee.png")).await.json();
    let b_id = b_photo["id"].as_str().unwrap();
    let saved = app.call_json("gallery/save", Some(&b), json!({ "photo": b_id, "recipe": { "ops": [] } })).await;
    let version = saved.json()["id"].as_str().unwrap().to_string();

    assert_eq!(ids(&app.call_form("photos/list", Some(&a), "").await.json()), vec![a_photo["id"].as_str().unwrap()]);
    assert_eq!(app.call_form("gallery/list", Some(&a), "").await.json(), json!([]));
    assert_eq!(app.call_form("photos/get", Some(&a), &format!("id={b_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call_form("gallery/delete", Some(&a), &format!("id={version}")).await.status, StatusCode::NOT_FOUND);
    let steal = json!({ "photo": b_id, "recipe": { "ops": [] } });
    assert_eq!(app.call_json("gallery/save", Some(&a), steal).await.status, StatusCode::NOT_FOUND);
    let ai = json!({ "photo": b_id, "request": { "tool": "upscale", "factor": 2 } });
    assert_ne!(app.call_json("ai/start", Some(&a), ai).await.status, StatusCode::OK);
    for link in [&b_photo["original_url"], &b_photo["thumbnail_url"]] {
        assert_eq!(app.get(link.as_str().unwrap(), Some(&a)).await.status, StatusCode::NOT_FOUND);
    }
    // B's photo and version are still there for B.
    assert_eq!(ids(&app.call_form("photos/list", Some(&b), "").await.json()), vec![b_id]);
}

/// A session record that names an account's workspace without being signed in to it (how the
/// old sign-up left the browser that made the account) reaches nothing, and revoking the
/// account's sessions leaves nothing reachable.
async fn only_a_session_signed_in_to_the_account_reaches_its_workspace(app: TestApp) {
    let ada = account(&app, None, "ada@example.org").await;
    let photo = app.upload(Some(&ada), "coffee.png", fixture("coffee.png")).await.json();
    let (guest, _) = app.new_owner_with_photo("chelsea.png").await;
    let pool = pool(&app).await;
    let (owner,): (String,) =
        sqlx::query_as("SELECT owner_id FROM accounts WHERE email = 'ada@example.org'").fetch_one(&pool).await.unwrap();
    let guests: Vec<(String, String)> =
        sqlx::query_as("SELECT id, data FROM sessions WHERE account_id IS NULL").fetch_all(&pool).await.unwrap();
    let (id, data) = guests.into_iter().find(|(_, data)| data.contains("owner_id")).expect("the guest's session");
    let mut data: Value = serde_json::from_str(&data).unwrap();
    data["owner_id"] = json!(owner);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(data.to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();

    assert_eq!(app.call_form("photos/list", Some(&guest), "").await.json(), json!([]));
    let get = app.call_form("photos/get", Some(&guest), &format!("id={}", photo["id"].as_str().unwrap())).await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(photo["original_url"].as_str().unwrap(), Some(&guest)).await.status, StatusCode::NOT_FOUND);

    assert_eq!(app.call_form("auth/signout-everywhere", Some(&ada), "").await.status, StatusCode::OK);
    assert_eq!(app.call_form("photos/list", Some(&ada), "").await.json(), json!([]));
}

/// Someone else's verify or reset link opened in my browser neither signs me in to their
/// account nor moves my guest photos into it; in the browser that asked, it does.
async fn links_sign_in_only_the_browser_that_started_their_flow(app: TestApp) {
    account(&app, None, "ada@example.org").await;
    let asked = app.call_form("auth/reset-request", None, &form(&[("email", "ada@example.org")])).await;
    let asker = asked.session_cookie().expect("asking for a link starts a session");

    // Mallory opens Ada's link in her own browser, which holds a guest photo.
    let (mallory, mallorys) = app.new_owner_with_photo("chelsea.png").await;
    let token = mailed_token(&app, "ada@example.org", "reset").await;
    let reset = form(&[("token", &token), ("new", "another long password")]);
    let done = app.call_form("auth/reset", Some(&mallory), &reset).await;
    assert_eq!(done.status, StatusCode::OK, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.json(), json!(null));
    assert_eq!(app.call_form("auth/me", Some(&mallory), "").await.json(), json!(null));
    assert_eq!(
        ids(&app.call_form("photos/list", Some(&mallory), "").await.json()),
        vec![mallorys["id"].as_str().unwrap()]
    );
    let ada = sign_in(&app, None, "ada@example.org", "another long password").await.session_cookie().unwrap();
    assert_eq!(app.call_form("photos/list", Some(&ada), "").await.json(), json!([]));

    // In the browser that asked, the next link signs in (the mail is written in the background:
    // wait for the new one).
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.call_form("auth/reset-request", Some(&asker), &form(&[("email", "ada@example.org")])).await;
    let token = newer_token(&app, "reset", &token).await;
    let reset = form(&[("token", &token), ("new", "a third long password")]);
    let signed_in = app.call_form("auth/reset", Some(&asker), &reset).await;
    assert_eq!(signed_in.json()["email"], "ada@example.org");
    let cookie = signed_in.session_cookie().unwrap();
    assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json()["email"], "ada@example.org");
}

/// A reset link dies once used, once a newer one is sent, and once the password changes.
/// Asks for a reset link for Ada and returns its token (a little later than any earlier one).
/// The newest `kind` link mailed to Ada once it is not `old` (mail is written in the background).
async fn newer_token(app: &TestApp, kind: &str, old: &str) -> String {
    for _ in 0..100 {
        let token = mailed_token(app, "ada@example.org", kind).await;
        if token != old {
            return token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new {kind} mail");
}

async fn reset_link(app: &TestApp, old: &str) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.call_form("auth/reset-request", None, &form(&[("email", "ada@example.org")])).await;
    newer_token(app, "reset", old).await
}

async fn reset(app: &TestApp, token: &str, new: &str) -> StatusCode {
    app.call_form("auth/reset", None, &form(&[("token", token), ("new", new)])).await.status
}

/// A reset link dies once used, once a newer one is sent, and once the password changes.
async fn used_or_superseded_reset_links_die(app: TestApp) {
    let ada = account(&app, None, "ada@example.org").await;
    let first = reset_link(&app, "").await;
    let second = reset_link(&app, &first).await;
    assert_ne!(first, second);
    assert_eq!(reset(&app, &first, "superseded password").await, StatusCode::BAD_REQUEST, "superseded");
    assert_eq!(reset(&app, &second, "the newest password").await, StatusCode::OK);
    assert_eq!(reset(&app, &second, "used twice password").await, StatusCode::BAD_REQUEST, "used");
    assert_eq!(app.call_form("auth/me", Some(&ada), "").await.json(), json!(null), "a reset ends every session");

    let ada = sign_in(&app, None, "ada@example.org", "the newest password").await.session_cookie().unwrap();
    let pending = reset_link(&app, &second).await;
    let change = form(&[("current", "the newest password"), ("new", "changed by hand")]);
    assert_eq!(app.call_form("auth/password", Some(&ada), &change).await.status, StatusCode::OK);
    assert_eq!(reset(&app, &pending, "after a change").await, StatusCode::BAD_REQUEST, "a password change ends links");
}

/// Each straighten of 45° grows the canvas about 4×: eight of them on a small photo would ask for
/// terabytes. The recipe is refused before anything runs, and the server answers on.
async fn a_straighten_chain_beyond_the_pixel_cap_is_refused_and_the_server_keeps_answering(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let ops: Vec<Value> = (0..8).map(|_| json!({ "op": "straighten", "degrees": 45.0 })).collect();
    let save = json!({ "photo": photo["id"], "recipe": { "ops": ops } });
    let refused = app.call_json("gallery/save", Some(&cookie), save).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&refused.body));
    let error: app::error::AppError = serde_json::from_slice(&refused.body).unwrap();
    let message = error.to_string();
    assert!(message.contains("megapixel") && message.contains("Straighten"), "{message}");
    let resize =
        json!({ "photo": photo["id"], "recipe": { "ops": [{ "op": "resize", "width": 16000, "height": 6000 }] } });
    assert_eq!(app.call_json("gallery/save", Some(&cookie), resize).await.status, StatusCode::BAD_REQUEST);
    // Still answering, and a sensible edit still works.
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    let fine = json!({ "photo": photo["id"], "recipe": { "ops": [{ "op": "straighten", "degrees": -3.5 }] } });
    assert_eq!(app.call_json("gallery/save", Some(&cookie), fine).await.status, StatusCode::OK);
}

/// Arguments a server function cannot read are a 400 with a plain sentence, not a 500 with the
/// parser's words.
async fn malformed_arguments_are_a_plain_400(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    for (endpoint, body) in [("photos/get", "id=not-an-id"), ("photos/get", ""), ("gallery/delete", "id=%00%ff")] {
        let reply = app.call_form(endpoint, Some(&cookie), body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{endpoint} {body}");
        let text = String::from_utf8_lossy(&reply.body).to_lowercase();
        assert!(text.contains("not valid"), "{text}");
        assert!(
            !text.contains("uuid") && !text.contains("deserializ") && !text.contains("invalid character"),
            "{text}"
        );
    }
    let json_reply = app.call_json("gallery/save", Some(&cookie), json!({ "photo": 5, "recipe": "x" })).await;
    assert_eq!(json_reply.status, StatusCode::BAD_REQUEST);
}

/// A JPEG missing its last third (no end marker) is refused like a truncated PNG.
async fn a_truncated_jpeg_is_refused_as_damaged(app: TestApp) {
    let whole = fixture("chelsea.jpg");
    let cut = whole[..whole.len() * 2 / 3].to_vec();
    let reply = app.upload(None, "cut.jpg", cut).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&reply.body).contains("damaged or truncated"));
}

/// The security events SECURITY.md lists land in the audit log: failed sign-ins, password
/// changes and resets, sessions ended, and administrators' listings.
async fn security_events_are_audited(app: TestApp) {
    let ada = account(&app, None, "ada@example.org").await;
    let _elsewhere = sign_in(&app, None, "ada@example.org", PASSWORD).await.session_cookie().unwrap();
    assert_eq!(sign_in(&app, None, "ada@example.org", "a wrong password").await.status, StatusCode::BAD_REQUEST);
    let change = form(&[("current", PASSWORD), ("new", "a brand new password")]);
    assert_eq!(app.call_form("auth/password", Some(&ada), &change).await.status, StatusCode::OK);
    let token = reset_link(&app, "").await;
    assert_eq!(reset(&app, &token, "reset password here").await, StatusCode::OK);
    let ada = sign_in(&app, None, "ada@example.org", "reset password here").await.session_cookie().unwrap();
    let log = app.call_form("data/audit", Some(&ada), "").await.json();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["sign_in_failed", "password_changed", "password_reset"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    assert_eq!(app.call_form("auth/signout-everywhere", Some(&ada), "").await.status, StatusCode::OK);

    let boss = account(&app, None, "boss@example.org").await;
    let db = server::platform::db::Db::connect(app.settings.database_url().expose_secret()).await.unwrap();
    assert!(db.grant_admin("boss@example.org").await.unwrap());
    assert_eq!(app.call_form("admin/overview", Some(&boss), "").await.status, StatusCode::OK);
    assert_eq!(app.call_form("admin/held", Some(&boss), "").await.status, StatusCode::OK);
    let all = app.call_form("admin/audit", Some(&boss), "").await.json();
    let actions: Vec<&str> = all.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["sessions_ended", "admin_listed_accounts", "admin_listed_held"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
}

/// A guest session has an absolute lifetime too, however active it is.
async fn a_guest_session_past_the_absolute_limit_is_ended(app: TestApp) {
    let (guest, _) = app.new_owner_with_photo("chelsea.png").await;
    assert_eq!(ids(&app.call_form("photos/list", Some(&guest), "").await.json()).len(), 1);
    let pool = pool(&app).await;
    let (id, data): (String, String) = sqlx::query_as("SELECT id, data FROM sessions").fetch_one(&pool).await.unwrap();
    let mut data: Value = serde_json::from_str(&data).unwrap();
    assert!(data["started_at"].is_i64(), "a guest session records when it began: {data}");
    data["started_at"] = json!(server::platform::db::now() - 31 * 24 * 3600);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(data.to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(app.call_form("photos/list", Some(&guest), "").await.json(), json!([]));
}

/// The table keeps a hash of each session id, never the id a cookie carries; and a request that
/// loaded its session before "sign out everywhere" cannot bring it back by saving after it.
async fn session_ids_are_stored_hashed_and_a_revoked_session_stays_ended(app: TestApp) {
    use tower_sessions::session::Id;
    use tower_sessions::SessionStore;
    let cookie = account(&app, None, "ada@example.org").await;
    let id = cookie.split_once('=').expect("name=value").1.to_string();
    let pool = pool(&app).await;
    let keys: Vec<(String,)> = sqlx::query_as("SELECT id FROM sessions").fetch_all(&pool).await.unwrap();
    assert!(!keys.iter().any(|(key,)| *key == id), "the cookie's id is in the table");
    assert!(keys.iter().any(|(key,)| *key == server::platform::crypto::sha256_hex(&id)));

    let url = app.settings.database_url();
    let store = server::platform::sessions::DbSessionStore::new(
        server::platform::db::Db::connect(url.expose_secret()).await.unwrap(),
    );
    let parsed: Id = id.parse().unwrap();
    let mut in_flight = store.load(&parsed).await.unwrap().expect("the live session");
    assert_eq!(app.call_form("auth/signout-everywhere", Some(&cookie), "").await.status, StatusCode::OK);
    in_flight.data.insert("late".into(), json!(true));
    store.save(&in_flight).await.unwrap();
    assert!(store.load(&parsed).await.unwrap().is_none(), "a revoked session came back");
    assert_eq!(app.call_form("auth/me", Some(&cookie), "").await.json(), json!(null));
}

/// Guesses sent in parallel are counted as they arrive, before any hashing: only the account's
/// allowance is tried, the rest get 429 with Retry-After.
async fn parallel_guesses_are_counted_before_hashing(app: TestApp) {
    let app = app.adjusted(|settings| settings.limits.sign_ins_per_minute_per_account = 3).await;
    account(&app, None, "ada@example.org").await;
    let guesses = (0..12).map(|i| {
        let ip = format!("198.51.100.{i}");
        let app = &app;
        async move { sign_in_from(app, &ip, "ada@example.org", &format!("wrong guess number {i}")).await }
    });
    let replies = futures::future::join_all(guesses).await;
    let tried = replies.iter().filter(|r| r.status == StatusCode::BAD_REQUEST).count();
    let limited: Vec<_> = replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!((tried, limited.len()), (3, 9), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(limited.iter().all(|reply| retry_after(reply) >= 1));
}

/// Failures back off exponentially per account and client address: the guesser waits, the
/// owner signing in from elsewhere does not, and the wait ends (no lock-out).
async fn failures_back_off_per_address_without_locking_the_owner_out(app: TestApp) {
    account(&app, None, "grace@example.org").await;
    let mallory = "203.0.113.9";
    for _ in 0..5 {
        let reply = sign_in_from(&app, mallory, "grace@example.org", "a wrong password!").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    let waiting = sign_in_from(&app, mallory, "grace@example.org", PASSWORD).await;
    assert_eq!(waiting.status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=30).contains(&retry_after(&waiting)), "{}", retry_after(&waiting));
    assert!(waiting.session_cookie().is_none());

    let grace = sign_in_from(&app, "192.0.2.44", "grace@example.org", PASSWORD).await;
    assert_eq!(grace.status, StatusCode::OK, "the owner is not locked out");

    // One more failure doubles the wait; once it has passed, attempts are weighed again.
    let pool = pool(&app).await;
    let back =
        |secs: i64| sqlx::query("UPDATE login_failures SET failed_at = failed_at - $1").bind(secs).execute(&pool);
    back(31).await.unwrap();
    assert_eq!(
        sign_in_from(&app, mallory, "grace@example.org", "wrong again, sadly").await.status,
        StatusCode::BAD_REQUEST
    );
    let doubled = sign_in_from(&app, mallory, "grace@example.org", PASSWORD).await;
    assert!((31..=60).contains(&retry_after(&doubled)), "{}", retry_after(&doubled));
    back(61).await.unwrap();
    assert_eq!(sign_in_from(&app, mallory, "grace@example.org", PASSWORD).await.status, StatusCode::OK);
}

/// One client address may only ask for so many sign-ins a minute, whatever the account.
async fn sign_ins_per_client_address_are_limited(app: TestApp) {
    let app = app.adjusted(|settings| settings.limits.sign_ins_per_minute_per_ip = 4).await;
    for i in 0..4 {
        let reply = sign_in_from(&app, "203.0.113.5", &format!("nobody{i}@example.org"), "whatever it is").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    let limited = sign_in_from(&app, "203.0.113.5", "nobody9@example.org", "whatever it is").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);
    let elsewhere = sign_in_from(&app, "203.0.113.6", "nobody9@example.org", "whatever it is").await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
}

/// Mail cannot be used to bomb an address: beyond its hourly share nothing more is sent (and
/// the answer stays the same), and one client address can only ask so often.
async fn mail_to_one_address_and_from_one_client_is_bounded(app: TestApp) {
    let app = app
        .adjusted(|settings| {
            settings.limits.mails_per_hour_per_address = 3;
            settings.limits.mails_per_hour_per_ip = 8;
        })
        .await;
    account(&app, None, "ada@example.org").await; // one mail: the confirmation
    let first = app.call_form("auth/reset-request", None, &form(&[("email", "ada@example.org")])).await;
    for _ in 0..4 {
        let again = app.call_form("auth/reset-request", None, &form(&[("email", "ada@example.org")])).await;
        assert_eq!((again.status, &again.body), (first.status, &first.body), "the answer never tells");
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails = std::fs::read_dir(app.settings.mail_dir())
        .unwrap()
        .flatten()
        .filter(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default().contains("To: ada@example.org"))
        .count();
    assert_eq!(mails, 3, "one confirmation and two resets, then nothing");

    // Six requests so far from this client (sign-up and five resets); two more pass, then 429.
    for _ in 0..2 {
        let reply = app.call_form("auth/reset-request", None, &form(&[("email", "other@example.org")])).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let limited = sign_up(&app, None, "late@example.org").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) >= 1);
}

/// Uploads sent together at the edge of a guest's quota: exactly what fits is stored.
async fn parallel_uploads_at_the_quota_edge_store_exactly_what_fits(app: TestApp) {
    let app = app.adjusted(|settings| settings.limits.max_photos_per_guest = 3).await;
    let (cookie, _) = app.new_owner_with_photo("chelsea.png").await;
    let uploads = (0..8).map(|i| {
        let (app, cookie) = (&app, cookie.clone());
        async move { app.upload(Some(&cookie), &format!("coffee-{i}.png"), fixture("coffee.png")).await }
    });
    let replies = futures::future::join_all(uploads).await;
    let stored = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused = replies.iter().filter(|r| r.status == StatusCode::FORBIDDEN).count();
    assert_eq!((stored, refused), (2, 6), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(ids(&app.call_form("photos/list", Some(&cookie), "").await.json()).len(), 3);
}

/// Saved versions and AI results count toward the quota, not only uploads.
async fn versions_and_ai_results_count_toward_the_quota(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let pool = pool(&app).await;
    let (original,): (i64,) = sqlx::query_as("SELECT byte_size FROM photos").fetch_one(&pool).await.unwrap();
    // Room for the original and a little more: not for a full-size saved version.
    let app = app.adjusted(|settings| settings.limits.max_bytes_per_guest = original as u64 + 1000).await;
    let id = photo["id"].as_str().unwrap();
    let save = app.call_json("gallery/save", Some(&cookie), json!({ "photo": id, "recipe": { "ops": [] } })).await;
    assert_eq!(save.status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&save.body));
    let error: app::error::AppError = serde_json::from_slice(&save.body).unwrap();
    assert!(error.to_string().contains("quota"), "{error}");

    // An AI result's bytes count too: a workspace at its quota starts no more tools.
    sqlx::query("INSERT INTO jobs (id, owner_id, photo_id, tool, params, state, progress, attempts, max_attempts, run_after, cancel_requested, created_at, result_bytes)
                 SELECT 'j1', owner_id, id, 'upscale', '{}', 'done', 1000, 1, 1, 0, 0, 0, 1000 FROM photos")
        .execute(&pool)
        .await
        .unwrap();
    let start =
        app.call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": { "tool": "describe" } })).await;
    assert_eq!(start.status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&start.body));
}

/// A workspace may have only so many AI jobs queued or running; more get 429, none is lost.
async fn queued_ai_jobs_per_workspace_are_capped(app: TestApp) {
    let app = app
        .adjusted(|settings| {
            settings.limits.queued_jobs_per_owner = 2;
            settings.ai.ai_workers = 0;
        })
        .await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let id = photo["id"].as_str().unwrap();
    let starts = (0..6).map(|_| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            app.call_json("ai/start", Some(&cookie), json!({ "photo": id, "request": { "tool": "describe" } })).await
        }
    });
    let replies = futures::future::join_all(starts).await;
    let queued = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    let limited = replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((queued, limited), (2, 4), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let pool = pool(&app).await;
    // The server's own index job for the upload is queued beside them, outside the cap.
    let (jobs,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE photo_id <> owner_id").fetch_one(&pool).await.unwrap();
    assert_eq!(jobs, 2);
    let (index,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE tool = 'index'").fetch_one(&pool).await.unwrap();
    assert_eq!(index, 1, "one index job per workspace, however many photos wait");
}

on_both_databases!(
    parallel_guesses_are_counted_before_hashing,
    failures_back_off_per_address_without_locking_the_owner_out,
    sign_ins_per_client_address_are_limited,
    mail_to_one_address_and_from_one_client_is_bounded,
    parallel_uploads_at_the_quota_edge_store_exactly_what_fits,
    versions_and_ai_results_count_toward_the_quota,
    queued_ai_jobs_per_workspace_are_capped,
    session_ids_are_stored_hashed_and_a_revoked_session_stays_ended,
    sign_up_grants_nothing_and_confirming_elsewhere_leaves_the_first_browser_outside,
    only_a_session_signed_in_to_the_account_reaches_its_workspace,
    links_sign_in_only_the_browser_that_started_their_flow,
    used_or_superseded_reset_links_die,
    a_straighten_chain_beyond_the_pixel_cap_is_refused_and_the_server_keeps_answering,
    malformed_arguments_are_a_plain_400,
    a_truncated_jpeg_is_refused_as_damaged,
    security_events_are_audited,
    a_guest_session_past_the_absolute_limit_is_ended,
);

/// Every response carries the security headers; a page's policy names the nonce on its own
/// inline scripts and allows no other inline script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_pages_a_fresh_nonce() {
    let app = TestApp::sqlite().await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    let policy = |reply: &crate::support::Reply| {
        reply.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    };
    let nonce_of =
        |policy: &str| policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).map(str::to_string);

    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = policy(&page);
    let nonce = nonce_of(&csp).unwrap_or_else(|| panic!("a page's policy names its nonce: {csp}"));
    let script_src = csp.split(';').find(|part| part.trim().starts_with("script-src")).unwrap();
    assert!(!script_src.contains("unsafe-inline") && !script_src.contains("'unsafe-eval'"), "{script_src}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = String::from_utf8_lossy(&page.body).to_string();
    let inline_scripts = html.matches("<script").count();
    assert!(inline_scripts > 0);
    assert_eq!(html.matches(&format!(" nonce=\"{nonce}\"")).count(), inline_scripts, "every script carries the nonce");
    let again = nonce_of(&policy(&app.get("/", Some(&cookie)).await)).unwrap();
    assert_ne!(again, nonce, "a nonce is never reused");

    let media = app.get(photo["thumbnail_url"].as_str().unwrap(), Some(&cookie)).await;
    let server_fn = app.call_form("photos/list", Some(&cookie), "").await;
    let missing = app.get("/no/such/page", None).await;
    let health = app.get("/healthz", None).await;
    for reply in [&page, &media, &server_fn, &missing, &health] {
        let csp = policy(reply);
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        for (name, value) in [
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
        ] {
            assert_eq!(reply.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
        }
        assert!(reply.headers.get("permissions-policy").is_some_and(|v| v.to_str().unwrap().contains("camera=()")));
        assert!(reply.headers.get("strict-transport-security").is_none(), "no HSTS over plain http");
    }
    assert_eq!(media.status, StatusCode::OK);

    let https = TestApp::sqlite_with(|settings| settings.server.public_url = "https://photos.example.org".into()).await;
    let reply = https.get("/healthz", None).await;
    assert!(reply.headers.get("strict-transport-security").is_some_and(|v| v.to_str().unwrap().contains("max-age=")));
}

/// Resident memory of this process (the server runs in it), in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    kib / 1024
}

/// An anonymous flood of what costs the server most — near-limit upload bodies and password
/// hashes — stays within a stated memory bound, answers each with a clear status (503 with
/// Retry-After when every slot is taken), and the server still answers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_uploads_and_password_hashes_stays_within_its_memory_bound() {
    const BOUND_MIB: u64 = 200;
    // glibc keeps freed large blocks in each thread's arena once its mmap threshold has grown,
    // so resident memory would count every block ever used, not those held at once. A fixed
    // threshold returns blocks over 1 MiB to the system when freed.
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: mallopt only changes glibc's allocation policy; it is safe to call at any time.
    assert_eq!(unsafe { mallopt(M_MMAP_THRESHOLD, 1024 * 1024) }, 1);
    let app = TestApp::sqlite_with(|settings| {
        settings.limits.concurrent_uploads = 2;
        settings.limits.concurrent_password_hashes = 2;
    })
    .await;
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let before = rss_mib();
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };

    // 24 bodies of 30 MiB each (one shared buffer on this side): 720 MiB if all were held at once.
    let body = bytes::Bytes::from(vec![0x5a_u8; 30 * 1024 * 1024]);
    let uploads = (0..24).map(|i| {
        let (app, body) = (&app, body.clone());
        async move {
            let request = axum::http::Request::post("/api/photos")
                .header("x-file-name", format!("big-{i}.jpg"))
                .header("content-type", "image/jpeg")
                .header("content-length", body.len())
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .body(axum::body::Body::from(body))
                .unwrap();
            app.send(request).await
        }
    });
    let guesses = (0..24).map(|i| {
        let app = &app;
        async move { sign_in_from(app, &format!("192.0.2.{i}"), &format!("nobody{i}@example.org"), "a guess!!").await }
    });
    let (uploads, guesses) = tokio::join!(futures::future::join_all(uploads), futures::future::join_all(guesses));
    sampler.abort();

    for reply in uploads.iter().chain(guesses.iter()) {
        assert!(
            [StatusCode::UNSUPPORTED_MEDIA_TYPE, StatusCode::BAD_REQUEST, StatusCode::SERVICE_UNAVAILABLE]
                .contains(&reply.status),
            "{}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after(reply) >= 1);
        }
    }
    let grown = peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before);
    assert!(grown < BOUND_MIB, "resident memory grew by {grown} MiB (bound {BOUND_MIB} MiB)");
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    assert_eq!(app.upload(None, "coffee.png", fixture("coffee.png")).await.status, StatusCode::CREATED);
}
