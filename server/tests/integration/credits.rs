//! Credits: the ledger's reserve, capture and release around the job queue (driven by hand, as a
//! worker would, so no model runs), enforcement under parallel enqueues, the 402, the monthly
//! allowance, billing off, administrators' grants, "Download my data" and erasure.

use std::collections::BTreeMap;

use app::billing::{BillingMode, EntryKind};
use app::ids::{JobId, OwnerId};
use axum::http::StatusCode;
use serde_json::{json, Value};
use server::ai_tools::queue::Outcome;
use server::config::Settings;
use server::platform::db::now;
use sqlx::Row;

use crate::support::{account, delete_account, exported_manifest, form, settle_background_jobs, TestApp};

/// Allowance mode: a guest gets 10 credits a month, an account 100; "describe" costs 3.
fn allowance(settings: &mut Settings) {
    settings.billing.mode = BillingMode::Allowance;
    settings.billing.guest_allowance = 10;
    settings.billing.monthly_allowance = 100;
    settings.billing.costs = BTreeMap::from([("describe".to_string(), 3), ("upscale".to_string(), 4)]);
    settings.limits.queued_jobs_per_owner = 100;
    settings.limits.jobs_per_hour_per_ip = 10_000;
}

macro_rules! with_allowance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_allowance {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(crate::support::TestApp::sqlite_with(super::allowance).await).await;
            })+
        }
        mod postgres_allowance {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(app) = crate::support::TestApp::postgres().await {
                    super::$name(app.adjusted(super::allowance).await).await;
                }
            })+
        }
    };
}

with_allowance!(
    a_job_reserves_when_queued_and_captures_on_success,
    failures_cancellations_and_lost_leases_release_exactly_once,
    parallel_enqueues_never_spend_more_than_the_balance,
    a_job_the_balance_does_not_cover_is_refused_with_402,
    the_allowance_is_granted_once_a_month,
    an_admin_grant_is_audited_and_made_once,
    the_ledger_is_exported_and_anonymised_on_erasure,
    a_batch_reserves_per_item_and_a_cancel_gives_them_back,
    an_adopted_guest_workspace_brings_its_ledger,
    the_pages_show_prices_before_running_and_the_balance_after,
);
on_both_databases!(billing_off_reserves_nothing, with_billing_off_the_panel_says_tools_are_free);

async fn start(app: &TestApp, cookie: &str, photo: &str, request: Value) -> crate::support::Reply {
    app.call_json("ai/start", Some(cookie), json!({ "photo": photo, "request": request })).await
}

async fn started(app: &TestApp, cookie: &str, photo: &str, request: Value) -> JobId {
    let reply = start(app, cookie, photo, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["id"].as_str().unwrap().parse().unwrap()
}

async fn credit_account(app: &TestApp, cookie: &str) -> Value {
    let reply = app.call_form("billing/account", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn owner_of(app: &TestApp, photo: &str) -> OwnerId {
    let row = sqlx::query("SELECT owner_id FROM photos WHERE id = $1").bind(photo).fetch_one(app.ai.db.pool()).await;
    row.unwrap().get::<String, _>("owner_id").parse().unwrap()
}

/// (balance, held) as the ledger sums them.
async fn totals(app: &TestApp, owner: OwnerId) -> (i64, i64) {
    (app.ai.db.credit_balance(owner).await.unwrap(), app.ai.db.credits_held(owner).await.unwrap())
}

async fn kinds(app: &TestApp, job: JobId) -> Vec<(EntryKind, i64)> {
    app.ai.db.job_ledger(job).await.unwrap().into_iter().map(|entry| (entry.kind, entry.credits)).collect()
}

/// A guest with a photo, its workspace's background jobs already run.
async fn guest(app: &TestApp) -> (String, String, OwnerId) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.png").await;
    settle_background_jobs(app).await;
    let photo = photo["id"].as_str().unwrap().to_string();
    let owner = owner_of(app, &photo).await;
    (cookie, photo, owner)
}

/// Claims the next job as `worker` (the test's own, never a background one).
async fn claim(app: &TestApp, worker: &str, at: i64) -> server::ai_tools::queue::Claimed {
    let job = app.ai.db.claim_job(worker, at, app.ai.settings.lease_secs).await.unwrap().expect("a job is due");
    assert_ne!(job.photo.0, job.owner.0, "a person's job, not the server's own");
    job
}

async fn a_job_reserves_when_queued_and_captures_on_success(app: TestApp) {
    let (cookie, photo, owner) = guest(&app).await;
    let job = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    assert_eq!(totals(&app, owner).await, (7, 3), "10 allowance, 3 held");
    assert_eq!(kinds(&app, job).await, vec![(EntryKind::Reserve, -3)]);

    let claimed = claim(&app, "w1", now()).await;
    assert!(app.ai.db.finish_job(claimed.id, "w1", &Outcome::default()).await.unwrap());
    assert_eq!(totals(&app, owner).await, (7, 0), "spent: the balance stays, nothing is held");
    assert_eq!(kinds(&app, job).await, vec![(EntryKind::Reserve, -3), (EntryKind::Capture, 0)]);
    // A late second finish of the same job (a worker that lost its lease) changes nothing.
    assert!(!app.ai.db.finish_job(claimed.id, "w1", &Outcome::default()).await.unwrap());
    assert_eq!(kinds(&app, job).await.len(), 2);

    let shown = credit_account(&app, &cookie).await;
    assert_eq!(
        (shown["mode"].as_str(), shown["balance"].as_i64(), shown["held"].as_i64()),
        (Some("allowance"), Some(7), Some(0))
    );
    let listed: Vec<&str> = shown["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(listed, ["capture", "reserve", "allowance"], "newest first");
}

async fn failures_cancellations_and_lost_leases_release_exactly_once(app: TestApp) {
    let (cookie, photo, owner) = guest(&app).await;
    let db = &app.ai.db;
    let lease = app.ai.settings.lease_secs;

    // Cancelled while queued.
    let queued = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let reply = app.call_form("ai/cancel", Some(&cookie), &form(&[("job", &queued.to_string())])).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(kinds(&app, queued).await, vec![(EntryKind::Reserve, -3), (EntryKind::Release, 3)]);
    assert_eq!(totals(&app, owner).await, (10, 0));

    // Cancelled while running.
    let running = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let claimed = claim(&app, "w1", now()).await;
    db.mark_job_cancelled(claimed.id, "w1").await.unwrap();
    db.mark_job_cancelled(claimed.id, "w1").await.unwrap();
    assert_eq!(kinds(&app, running).await, vec![(EntryKind::Reserve, -3), (EntryKind::Release, 3)]);

    // Failed: a retry keeps the reservation, the last failure releases it.
    let failing = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let t0 = now();
    let first = claim(&app, "w2", t0).await;
    db.fail_job(first.id, "w2", "Failed; trying again shortly.", Some(t0)).await.unwrap();
    assert_eq!(totals(&app, owner).await, (7, 3), "still held while it will be tried again");
    let second = claim(&app, "w3", t0).await;
    db.fail_job(second.id, "w3", "The tool failed.", None).await.unwrap();
    db.fail_job(second.id, "w3", "The tool failed.", None).await.unwrap();
    assert_eq!(kinds(&app, failing).await, vec![(EntryKind::Reserve, -3), (EntryKind::Release, 3)]);

    // A worker dies; its lease runs out and another takes the job past its last attempt: the
    // job is given up and released, once, and the dead worker's late answer changes nothing.
    let abandoned = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let mut at = now();
    let mut last = claim(&app, "dies-0", at).await;
    for attempt in 1..=app.ai.settings.max_attempts {
        at += lease + 1;
        last = claim(&app, &format!("dies-{attempt}"), at).await;
    }
    assert!(last.attempts > last.max_attempts);
    let holder = format!("dies-{}", app.ai.settings.max_attempts);
    server::ai_tools::worker::process(&app.ai, &holder, last.clone()).await;
    db.fail_job(last.id, "dies-0", "late", None).await.unwrap();
    assert!(!db.finish_job(last.id, "dies-0", &Outcome::default()).await.unwrap());
    assert_eq!(kinds(&app, abandoned).await, vec![(EntryKind::Reserve, -3), (EntryKind::Release, 3)]);

    // A queued job that expires unrun gives its credits back as it goes.
    let expiring = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    db.expire_jobs(now() + 1, now()).await.unwrap();
    assert_eq!(kinds(&app, expiring).await, vec![(EntryKind::Reserve, -3), (EntryKind::Release, 3)]);
    assert_eq!(totals(&app, owner).await, (10, 0), "everything came back");
}

async fn parallel_enqueues_never_spend_more_than_the_balance(app: TestApp) {
    let (cookie, photo, owner) = guest(&app).await;
    // 10 credits, 3 each: exactly three of twelve fit.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (router, cookie, photo) = (app.router.clone(), cookie.clone(), photo.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "photo": photo, "request": { "tool": "describe" } }).to_string();
            let request = axum::http::Request::post("/api/ai/start")
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header("cookie", cookie)
                .body(axum::body::Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, request).await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!((ok, refused), (3, 9), "{statuses:?}");
    assert_eq!(totals(&app, owner).await, (1, 9));
    let reserves: i64 = sqlx::query("SELECT COUNT(*) AS n FROM credit_ledger WHERE owner_id = $1 AND kind = 'reserve'")
        .bind(owner.to_string())
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(reserves, 3);
}

async fn a_job_the_balance_does_not_cover_is_refused_with_402(app: TestApp) {
    let (cookie, photo, owner) = guest(&app).await;
    started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    // 4 left; an upscale costs 4, a third describe 3: both fit once, then nothing does.
    started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let reply = start(&app, &cookie, &photo, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED);
    let error = reply.json();
    let message = error["PaymentRequired"].as_str().unwrap_or_else(|| panic!("{error}"));
    assert!(message.starts_with("This needs 4 credits; you have 1."), "{message}");
    assert_eq!(totals(&app, owner).await, (1, 9), "nothing was reserved");
    let queued: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND tool = 'upscale'")
        .bind(owner.to_string())
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(queued, 0, "nothing was queued");
    // The developer API answers the same error with its stable code.
    let api = server::developer::error::ApiError::from(app::error::AppError::PaymentRequired(message.into()));
    assert_eq!((api.status.as_u16(), api.code), (402, "insufficient_credits"));
}

async fn the_allowance_is_granted_once_a_month(app: TestApp) {
    let cookie = account(&app, None, "ada@example.org").await;
    let (first, second) = tokio::join!(credit_account(&app, &cookie), credit_account(&app, &cookie));
    assert_eq!((first["balance"].as_i64(), second["balance"].as_i64()), (Some(100), Some(100)));
    let shown = credit_account(&app, &cookie).await;
    assert_eq!(shown["balance"], 100);
    assert_eq!(shown["monthly_allowance"], 100);
    let entries = shown["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{shown}");
    let row = sqlx::query("SELECT reference FROM credit_ledger WHERE kind = 'allowance'")
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("reference"), server::billing::ledger::month_of(now()));
    // Last month's allowance does not stand in for this month's.
    let owner: OwnerId = sqlx::query("SELECT owner_id FROM credit_ledger")
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get::<String, _>("owner_id")
        .parse()
        .unwrap();
    let old = server::billing::Credit {
        owner,
        kind: EntryKind::Allowance,
        credits: 100,
        reference: "2000-01",
        note: "",
        created_by: None,
    };
    assert!(app.ai.db.add_credit(&old).await.unwrap());
    assert!(!app.ai.db.add_credit(&old).await.unwrap(), "the same month credits once");
    assert_eq!(credit_account(&app, &cookie).await["balance"], 200);
}

async fn an_admin_grant_is_audited_and_made_once(app: TestApp) {
    let admin = account(&app, None, "boss@example.org").await;
    assert!(app.ai.db.grant_admin("boss@example.org").await.unwrap());
    let user = account(&app, None, "ada@example.org").await;
    let before = credit_account(&app, &user).await["balance"].as_i64().unwrap();
    let id = app.ai.db.account_by_email("ada@example.org").await.unwrap().unwrap().id.to_string();
    let grant = |reference: &str| {
        form(&[
            ("grant[account]", id.as_str()),
            ("grant[credits]", "25"),
            ("grant[note]", "A thank-you"),
            ("grant[reference]", reference),
        ])
    };
    let reply = app.call_form("admin/grant-credits", Some(&admin), &grant("form-1")).await;
    assert_eq!((reply.status, reply.json()), (StatusCode::OK, json!(true)), "{}", String::from_utf8_lossy(&reply.body));
    let reply = app.call_form("admin/grant-credits", Some(&admin), &grant("form-1")).await;
    assert_eq!(reply.json(), json!(false), "the same form sent twice grants once");
    let reply = app.call_form("admin/grant-credits", Some(&user), &grant("form-2")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "only administrators grant");

    let shown = credit_account(&app, &user).await;
    assert_eq!(shown["balance"].as_i64().unwrap(), before + 25);
    assert!(shown["entries"].as_array().unwrap().iter().any(|e| e["kind"] == "grant" && e["note"] == "A thank-you"));
    let audited: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'credits_granted' AND account_id = $1 AND actor_id IS NOT NULL")
        .bind(&id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(audited, 1);
    let mine = app.call_form("data/audit", Some(&user), "").await.json();
    assert!(mine.as_array().unwrap().iter().any(|e| e["action"] == "credits_granted"), "{mine}");
}

async fn the_ledger_is_exported_and_anonymised_on_erasure(app: TestApp) {
    let cookie = account(&app, None, "ada@example.org").await;
    assert_eq!(credit_account(&app, &cookie).await["balance"], 100);
    let manifest = exported_manifest(&app, &cookie).await;
    let credits = manifest["credits"].as_array().unwrap_or_else(|| panic!("{manifest}"));
    assert!(credits.iter().any(|e| e["kind"] == "allowance" && e["credits"] == 100), "{credits:?}");

    let owner = app.ai.db.account_by_email("ada@example.org").await.unwrap().unwrap().owner.to_string();
    delete_account(&app, &cookie, "ada@example.org").await;
    let rows = sqlx::query("SELECT owner_id, created_by, note, credits FROM credit_ledger")
        .fetch_all(app.ai.db.pool())
        .await
        .unwrap();
    assert!(!rows.is_empty(), "kept for the books");
    for row in &rows {
        assert_eq!(row.get::<Option<String>, _>("owner_id"), None);
        assert_eq!(row.get::<Option<String>, _>("created_by"), None);
        assert_eq!(row.get::<String, _>("note"), "");
    }
    assert_eq!(crate::support::rows_of(&app, "credit_ledger", &owner).await, 0);
}

async fn a_batch_reserves_per_item_and_a_cancel_gives_them_back(app: TestApp) {
    let (cookie, photo, owner) = guest(&app).await;
    let second = app.upload(Some(&cookie), "astronaut.png", crate::support::fixture("astronaut.png")).await.json();
    settle_background_jobs(&app).await;
    let pipeline = json!({ "name": "Tags", "steps": [{ "step": "tool", "request": { "tool": "describe" } }] });
    let run = |photos: Vec<&str>| json!({ "choice": { "kind": "unsaved", "pipeline": pipeline.clone() }, "photos": photos, "save_to_gallery": false, "preview": false });
    let photos = vec![photo.as_str(), second["id"].as_str().unwrap()];
    let reply = app.call_json("batch/run", Some(&cookie), run(photos.clone())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(totals(&app, owner).await, (4, 6), "3 per photo");
    let batch = reply.json()["id"].as_str().unwrap().to_string();
    // Two more photos would need 6.
    let reply = app.call_json("batch/run", Some(&cookie), run(photos)).await;
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{}", String::from_utf8_lossy(&reply.body));
    let reply = app.call_form("batch/control", Some(&cookie), &form(&[("id", &batch), ("action", "cancel")])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(totals(&app, owner).await, (10, 0), "both items came back");
    let reply = app.call_form("batch/control", Some(&cookie), &form(&[("id", &batch), ("action", "retry")])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(totals(&app, owner).await, (4, 6), "tried again, reserved again");
}

async fn an_adopted_guest_workspace_brings_its_ledger(app: TestApp) {
    let (cookie, photo, guest_owner) = guest(&app).await;
    let job = started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let signed_in = account(&app, Some(&cookie), "ada@example.org").await;
    let shown = credit_account(&app, &signed_in).await;
    // The guest's 10 (3 held by its job) and the account's own 100.
    assert_eq!((shown["balance"].as_i64(), shown["held"].as_i64()), (Some(107), Some(3)), "{shown}");
    assert_eq!(crate::support::rows_of(&app, "credit_ledger", &guest_owner.to_string()).await, 0);
    let claimed = claim(&app, "w1", now()).await;
    assert_eq!(claimed.id, job);
    assert!(app.ai.db.finish_job(job, "w1", &Outcome::default()).await.unwrap());
    assert_eq!(credit_account(&app, &signed_in).await["held"], 0);
}

async fn billing_off_reserves_nothing(app: TestApp) {
    assert_eq!(app.settings.billing.mode, BillingMode::Off, "off by default");
    let (cookie, photo, owner) = guest(&app).await;
    for _ in 0..3 {
        started(&app, &cookie, &photo, json!({ "tool": "upscale", "factor": 2, "quality": "fast" })).await;
    }
    let claimed = claim(&app, "w1", now()).await;
    assert!(app.ai.db.finish_job(claimed.id, "w1", &Outcome::default()).await.unwrap());
    assert_eq!(crate::support::rows_of(&app, "credit_ledger", &owner.to_string()).await, 0);
    let shown = credit_account(&app, &cookie).await;
    assert_eq!((shown["mode"].as_str(), shown["balance"].as_i64()), (Some("off"), Some(0)));
    let prices = app.call_form("billing/prices", Some(&cookie), "").await.json();
    assert_eq!((prices["mode"].as_str(), prices["costs"]["upscale"].as_i64()), (Some("off"), Some(4)));
}

async fn the_pages_show_prices_before_running_and_the_balance_after(app: TestApp) {
    let (cookie, photo, _) = guest(&app).await;
    let editor = app.get(&format!("/photos/{photo}"), Some(&cookie)).await;
    assert_eq!(editor.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&editor.body);
    let cell = html.find("ai-tool-cell").map_or("", |at| &html[at..(at + 3000).min(html.len())]);
    assert!(
        html.contains(r#"data-tool="describe" class="credit-cost">Costs 3 credits"#),
        "the AI panel names each tool's price: {cell}"
    );
    assert!(html.contains(r#"data-tool="upscale" class="credit-cost">Costs 4 credits"#));

    let cookie = account(&app, Some(&cookie), "ada@example.org").await;
    started(&app, &cookie, &photo, json!({ "tool": "describe" })).await;
    let page = app.get("/account", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.body);
    // The account's 100 less the 3 its job holds (the guest never asked for its allowance).
    let section =
        html.find("credits-title").map_or(&html[..html.len().min(3000)], |at| &html[at..(at + 2000).min(html.len())]);
    assert!(html.contains(r#"data-balance="97""#), "the account page shows the balance: {section}");
    assert!(html.contains("3 held by jobs that are queued or running"));
    assert!(html.contains(r#"<tr data-kind="reserve">"#), "and the history");
}

async fn with_billing_off_the_panel_says_tools_are_free(app: TestApp) {
    let (cookie, photo, _) = guest(&app).await;
    let editor = app.get(&format!("/photos/{photo}"), Some(&cookie)).await;
    assert_eq!(editor.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&editor.body);
    let cell = html.find("ai-tool-cell").map_or(&html[..], |at| &html[at..(at + 3000).min(html.len())]);
    assert!(html.contains(r#"data-tool="upscale" class="credit-cost">Free on this server"#), "{cell}");
    assert!(!html.contains("Costs "));
}
