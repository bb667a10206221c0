//! Payments through Stripe, against a loopback stand-in for Stripe's API written here: it checks
//! what Atelier sends (the secret key as a bearer token, form-encoded fields as Stripe reads
//! them) and answers as Stripe does. Webhooks are signed exactly as Stripe signs them
//! (HMAC-SHA256 over `"<t>.<body>"` with the endpoint secret): a wrong signature or an old
//! timestamp is refused, a replayed event grants once, and each event's effect on the ledger.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Row;

use crate::support::{account, delete_account, exported_manifest, form, Reply, TestApp};

const SECRET_KEY: &str = "sk_test_standin_key";
const WEBHOOK_SECRET: &str = "whsec_standin_secret";

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    auth: Option<String>,
    form: Vec<(String, String)>,
    query: String,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Default)]
struct StandIn {
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn auth(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl StandIn {
    /// Serves on a free loopback port; returns its base URL.
    async fn start(&self) -> String {
        let app = axum::Router::new()
            .route(
                "/v1/checkout/sessions",
                post(|State(s): State<StandIn>, headers: HeaderMap, Form(form): Form<Vec<(String, String)>>| async move {
                    let mut seen = s.seen.lock().unwrap();
                    let id = format!("cs_test_{}", seen.len() + 1);
                    seen.push(Seen { path: "/v1/checkout/sessions".into(), auth: auth(&headers), form, query: String::new() });
                    Json(json!({
                        "id": id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
                        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                    }))
                }),
            )
            .route(
                "/v1/checkout/sessions/{id}",
                get(|State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>, RawQuery(query): RawQuery| async move {
                    s.seen.lock().unwrap().push(Seen {
                        path: format!("/v1/checkout/sessions/{id}"),
                        auth: auth(&headers),
                        form: Vec::new(),
                        query: query.unwrap_or_default(),
                    });
                    // Expanded as asked: the card's details come with much else Atelier must not keep.
                    Json(json!({
                        "id": id, "object": "checkout.session",
                        "payment_intent": { "id": "pi_1", "object": "payment_intent", "payment_method": {
                            "id": "pm_1", "object": "payment_method", "billing_details": { "name": "Ada Lovelace" },
                            "card": { "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "fingerprint": "fp_secret" }
                        }},
                        "subscription": null,
                    }))
                }),
            )
            .route(
                "/v1/billing_portal/sessions",
                post(|State(s): State<StandIn>, headers: HeaderMap, Form(form): Form<Vec<(String, String)>>| async move {
                    s.seen.lock().unwrap().push(Seen { path: "/v1/billing_portal/sessions".into(), auth: auth(&headers), form, query: String::new() });
                    Json(json!({ "id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.test/p/session/bps_1" }))
                }),
            )
            .route(
                "/v1/customers/{id}",
                axum::routing::delete(|State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>| async move {
                    let path = format!("/v1/customers/{id}");
                    s.seen.lock().unwrap().push(Seen { path, auth: auth(&headers), form: Vec::new(), query: String::new() });
                    Json(json!({ "id": id, "object": "customer", "deleted": true }))
                }),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn calls(&self, path: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|seen| seen.path == path).cloned().collect()
    }
}

/// Billing through the stand-in, with one pack and one plan on sale and no free allowance, so a
/// balance is exactly what was bought.
async fn with_stripe(app: TestApp) -> (TestApp, StandIn) {
    let standin = StandIn::default();
    let base = standin.start().await;
    let app = app
        .adjusted(|settings| {
            settings.billing.mode = app::billing::BillingMode::Stripe;
            settings.billing.monthly_allowance = 0;
            settings.billing.guest_allowance = 0;
            let stripe = &mut settings.billing.stripe;
            stripe.secret_key = Some(SECRET_KEY.to_string().into());
            stripe.webhook_secret = Some(WEBHOOK_SECRET.to_string().into());
            stripe.api_base = base;
            stripe.packs = vec![server::config::CreditPackSettings {
                id: "small".into(),
                name: "Small pack".into(),
                credits: 500,
                price_id: "price_small".into(),
                shown_price: "€5".into(),
            }];
            stripe.plans = vec![server::config::PlanSettings {
                id: "pro".into(),
                name: "Pro".into(),
                monthly_credits: 1000,
                price_id: "price_pro".into(),
                shown_price: "€9".into(),
            }];
        })
        .await;
    (app, standin)
}

fn now() -> i64 {
    server::platform::db::now()
}

/// `Stripe-Signature` for `body` signed at `t` with `secret`, as Stripe makes it.
fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Posts an event as Stripe does: server to server, JSON, no Origin, no cookie.
async fn post_webhook(app: &TestApp, body: &str, signature: Option<String>) -> Reply {
    let mut request =
        Request::post("/billing/stripe/webhook").header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap()).await
}

async fn deliver(app: &TestApp, event: &Value) -> Reply {
    let body = event.to_string();
    let reply = post_webhook(app, &body, Some(signature(WEBHOOK_SECRET, now(), &body))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({ "id": id, "object": "event", "api_version": "2025-03-31.basil", "created": now(), "type": kind, "data": { "object": object } })
}

async fn balance(app: &TestApp, cookie: &str) -> i64 {
    let reply = app.call_form("billing/account", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["balance"].as_i64().expect("a balance")
}

async fn offer(app: &TestApp, cookie: &str) -> Value {
    let reply = app.call_form("billing/payment-offer", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// Posts one of the page's plain forms (as the browser does: same-origin) and returns where the
/// answer sends the browser.
async fn post_form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> String {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(form(fields)))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&reply.body));
    reply.headers[header::LOCATION].to_str().unwrap().to_string()
}

/// The text of the newest mail to `to` whose subject is `subject`, once it was written.
async fn mail(app: &TestApp, to: &str, subject: &str) -> String {
    let dir = app.settings.storage.data_dir.join("mail");
    for _ in 0..100 {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default().replace("=\r\n", "");
            if text.contains(&format!("To: {to}")) && text.contains(&format!("Subject: {subject}")) {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail “{subject}” to {to}");
}

/// Opens a checkout through the page's form; returns the recorded call and the URL it sent to.
async fn open_checkout(app: &TestApp, standin: &StandIn, cookie: &str, item: &str) -> (Seen, String) {
    let before = standin.calls("/v1/checkout/sessions").len();
    let location = post_form(app, "/billing/checkout", cookie, &[("item", item), ("return_to", "/account")]).await;
    let calls = standin.calls("/v1/checkout/sessions");
    assert_eq!(calls.len(), before + 1, "one checkout session was created");
    (calls.last().unwrap().clone(), location)
}

async fn a_credit_pack_is_bought_through_checkout_and_credited_once(app: TestApp) {
    let (app, standin) = with_stripe(app).await;
    let cookie = account(&app, None, "buyer@example.com").await;
    assert_eq!(balance(&app, &cookie).await, 0);

    let (call, location) = open_checkout(&app, &standin, &cookie, "pack:small").await;
    assert_eq!(location, "https://checkout.stripe.test/c/pay/cs_test_1", "the browser is sent to Stripe's page");
    assert_eq!(call.auth.as_deref(), Some(format!("Bearer {SECRET_KEY}").as_str()));
    assert_eq!(call.field("mode"), Some("payment"));
    assert_eq!(call.field("line_items[0][price]"), Some("price_small"));
    assert_eq!(call.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(call.field("metadata[item]"), Some("pack:small"));
    assert_eq!(call.field("customer_creation"), Some("always"));
    assert_eq!(call.field("customer_email"), Some("buyer@example.com"));
    let public = &app.settings.server.public_url;
    assert_eq!(
        call.field("success_url"),
        Some(format!("{public}/billing/success?session_id={{CHECKOUT_SESSION_ID}}").as_str())
    );
    assert_eq!(call.field("cancel_url"), Some(format!("{public}/account").as_str()));
    let account_id = call.field("client_reference_id").expect("the account rides along").to_string();
    assert_eq!(call.field("metadata[account]"), Some(account_id.as_str()));

    let session = json!({
        "id": "cs_test_1", "object": "checkout.session", "mode": "payment", "payment_status": "paid", "status": "complete",
        "client_reference_id": account_id, "metadata": { "account": account_id, "item": "pack:small" },
        "customer": "cus_1", "payment_intent": "pi_1", "amount_total": 500, "currency": "eur",
    });
    let completed = event("evt_1", "checkout.session.completed", session.clone());
    assert_eq!(deliver(&app, &completed).await.json()["applied"], true);
    assert_eq!(balance(&app, &cookie).await, 500);
    // The same event again (Stripe redelivers on any doubt), and the same session in another
    // event: credited once.
    assert_eq!(deliver(&app, &completed).await.json()["applied"], false);
    deliver(&app, &event("evt_1b", "checkout.session.async_payment_succeeded", session)).await;
    assert_eq!(balance(&app, &cookie).await, 500);
    let text = mail(&app, "buyer@example.com", "Atelier: payment received").await;
    assert!(text.contains("500 credits were added"), "{text}");

    // The card as shown: brand and last four digits, read by retrieving the session.
    let retrieved = standin.calls("/v1/checkout/sessions/cs_test_1");
    assert!(!retrieved.is_empty(), "the card is read from Stripe");
    assert!(retrieved[0].query.contains("expand"), "{}", retrieved[0].query);
    assert_eq!(retrieved[0].auth.as_deref(), Some(format!("Bearer {SECRET_KEY}").as_str()));
    let shown = offer(&app, &cookie).await;
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["card"], json!({ "brand": "visa", "last4": "4242" }));
    assert_eq!(shown["packs"][0]["id"], "small");
    let kept = sqlx::query("SELECT * FROM billing_customers").fetch_all(app.ai.db.pool()).await.unwrap();
    assert_eq!(kept.len(), 1);
    for column in ["card_brand", "card_last4", "customer_id"] {
        assert!(kept[0].try_get::<Option<String>, _>(column).unwrap().is_some(), "{column}");
    }

    // The portal for cards and invoices, for this customer, returning to the page.
    let location = post_form(&app, "/billing/portal", &cookie, &[("return_to", "/account")]).await;
    assert_eq!(location, "https://billing.stripe.test/p/session/bps_1");
    let portal = standin.calls("/v1/billing_portal/sessions");
    assert_eq!(portal[0].field("customer"), Some("cus_1"));
    assert_eq!(portal[0].field("return_url"), Some(format!("{public}/account").as_str()));
    assert_eq!(portal[0].auth.as_deref(), Some(format!("Bearer {SECRET_KEY}").as_str()));

    // A later checkout reuses the customer.
    let (again, _) = open_checkout(&app, &standin, &cookie, "pack:small").await;
    assert_eq!(again.field("customer"), Some("cus_1"));
    assert_eq!(again.field("customer_creation"), None);

    // Refunds take back in proportion, partial refunds adding up; redelivery changes nothing.
    let charge = |refunded: i64| json!({ "id": "ch_1", "object": "charge", "amount": 500, "amount_refunded": refunded, "payment_intent": "pi_1", "customer": "cus_1" });
    deliver(&app, &event("evt_2", "charge.refunded", charge(250))).await;
    assert_eq!(balance(&app, &cookie).await, 250);
    deliver(&app, &event("evt_3", "charge.refunded", charge(500))).await;
    deliver(&app, &event("evt_3", "charge.refunded", charge(500))).await;
    assert_eq!(balance(&app, &cookie).await, 0);
    let entries = app.call_form("billing/account", Some(&cookie), "").await.json()["entries"].clone();
    let refunds: Vec<i64> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "refund")
        .map(|e| e["credits"].as_i64().unwrap())
        .collect();
    assert_eq!(refunds, vec![-250, -250]);

    // Unknown packs and guests are refused before Stripe is asked.
    let location =
        post_form(&app, "/billing/checkout", &cookie, &[("item", "pack:huge"), ("return_to", "/account")]).await;
    assert_eq!(location, "/account?payment=refused");
    let location = post_form(&app, "/billing/checkout", "nobody=here", &[("item", "pack:small")]).await;
    assert_eq!(location, "/signin");
    assert_eq!(standin.calls("/v1/checkout/sessions").len(), 2);
}

async fn webhooks_that_stripe_did_not_sign_now_are_refused(app: TestApp) {
    let (app, _standin) = with_stripe(app).await;
    let cookie = account(&app, None, "forger@example.com").await;
    let account_id = account_id_of(&app, "forger@example.com").await;
    let body = event(
        "evt_forged",
        "checkout.session.completed",
        json!({ "id": "cs_forged", "object": "checkout.session", "payment_status": "paid", "client_reference_id": account_id,
                "metadata": { "account": account_id, "item": "pack:small" }, "amount_total": 500, "currency": "eur" }),
    )
    .to_string();
    let refused = |reply: Reply| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
    };
    refused(post_webhook(&app, &body, None).await);
    refused(post_webhook(&app, &body, Some(signature("whsec_someone_else", now(), &body))).await);
    let tampered = body.replace("pack:small", "pack:small ");
    refused(post_webhook(&app, &tampered, Some(signature(WEBHOOK_SECRET, now(), &body))).await);
    // Signed right, but longer ago than the five-minute tolerance: a replay.
    let old = now() - 301;
    refused(post_webhook(&app, &body, Some(signature(WEBHOOK_SECRET, old, &body))).await);
    refused(post_webhook(&app, "{}", Some(signature(WEBHOOK_SECRET, now(), "{}"))).await);
    assert_eq!(balance(&app, &cookie).await, 0, "nothing refused was applied");
    let events: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM payment_events").fetch_one(app.ai.db.pool()).await.unwrap().get("n");
    assert_eq!(events, 0);

    // Stripe posts server to server, with no Origin: the cross-site refusal lets it through;
    // a browser page on another site posting the same is refused before the signature is read.
    let reply = post_webhook(&app, &body, Some(signature(WEBHOOK_SECRET, now(), &body))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(balance(&app, &cookie).await, 500);
    let cross = Request::post("/billing/stripe/webhook")
        .header("origin", "https://evil.example")
        .header("host", "127.0.0.1:3000")
        .header("stripe-signature", signature(WEBHOOK_SECRET, now(), &body))
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(app.send(cross).await.status, StatusCode::FORBIDDEN);
    // The body is bounded before anything reads it.
    let huge = "x".repeat(300 * 1024);
    let reply = post_webhook(&app, &huge, Some(signature(WEBHOOK_SECRET, now(), &huge))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// The account's id, as a checkout it opened would carry it back.
async fn account_id_of(app: &TestApp, email: &str) -> String {
    let row =
        sqlx::query("SELECT id FROM accounts WHERE email = $1").bind(email).fetch_one(app.ai.db.pool()).await.unwrap();
    row.get("id")
}

async fn a_plan_brings_its_credits_with_each_paid_invoice_until_it_ends(app: TestApp) {
    let (app, standin) = with_stripe(app).await;
    let cookie = account(&app, None, "subscriber@example.com").await;
    let (call, _) = open_checkout(&app, &standin, &cookie, "plan:pro").await;
    assert_eq!(call.field("mode"), Some("subscription"));
    assert_eq!(call.field("line_items[0][price]"), Some("price_pro"));
    assert_eq!(call.field("subscription_data[metadata][plan]"), Some("pro"));
    assert_eq!(call.field("customer_creation"), None, "not allowed in subscription mode");
    let account_id = call.field("client_reference_id").unwrap().to_string();

    // The first invoice may come before the completed checkout: its subscription's metadata
    // (API 2025-03-31 and later: under `parent`) names the account and plan.
    let invoice = json!({
        "id": "in_1", "object": "invoice", "customer": "cus_9", "amount_paid": 900, "currency": "eur", "status": "paid",
        "parent": { "type": "subscription_details", "subscription_details": { "subscription": "sub_1", "metadata": { "account": account_id, "plan": "pro" } } },
        "lines": { "data": [{ "pricing": { "price_details": { "price": "price_pro" } }, "period": { "start": now(), "end": now() + 30 * 86400 } }] },
    });
    deliver(&app, &event("evt_10", "invoice.paid", invoice.clone())).await;
    assert_eq!(balance(&app, &cookie).await, 1000);
    deliver(
        &app,
        &event(
            "evt_11",
            "checkout.session.completed",
            json!({
                "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "payment_status": "paid",
                "client_reference_id": account_id, "metadata": { "account": account_id, "item": "plan:pro" },
                "customer": "cus_9", "subscription": "sub_1", "amount_total": 900, "currency": "eur",
            }),
        ),
    )
    .await;
    // The same invoice in another event: credited once.
    deliver(&app, &event("evt_12", "invoice.paid", invoice)).await;
    assert_eq!(balance(&app, &cookie).await, 1000, "the subscription's checkout grants nothing itself");
    let shown = offer(&app, &cookie).await;
    assert_eq!(shown["plan"]["name"], "Pro");
    assert_eq!(shown["plan"]["status"], "active");
    mail(&app, "subscriber@example.com", "Atelier: payment received").await;

    // Next month's invoice in the older shape, known by its customer alone.
    deliver(&app, &event("evt_13", "invoice.paid", json!({
        "id": "in_2", "object": "invoice", "customer": "cus_9", "subscription": "sub_1", "amount_paid": 900, "currency": "eur",
        "payment_intent": "pi_in_2", "lines": { "data": [{ "price": { "id": "price_pro" }, "period": { "end": now() + 60 * 86400 } }] },
    })))
    .await;
    assert_eq!(balance(&app, &cookie).await, 2000);

    deliver(
        &app,
        &event(
            "evt_14",
            "invoice.payment_failed",
            json!({ "id": "in_3", "object": "invoice", "customer": "cus_9", "subscription": "sub_1" }),
        ),
    )
    .await;
    let text = mail(&app, "subscriber@example.com", "Atelier: a payment did not go through").await;
    assert!(text.contains("Pro"), "{text}");
    let subscription = |status: &str| {
        json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_9", "status": status, "metadata": { "account": account_id, "plan": "pro" },
            "items": { "data": [{ "price": { "id": "price_pro" }, "current_period_end": now() + 60 * 86400 }] },
        })
    };
    deliver(&app, &event("evt_15", "customer.subscription.updated", subscription("past_due"))).await;
    assert_eq!(offer(&app, &cookie).await["plan"]["status"], "past_due");

    // A dispute holds back what the disputed payment granted.
    deliver(
        &app,
        &event(
            "evt_16",
            "charge.dispute.created",
            json!({ "id": "dp_1", "object": "dispute", "charge": "ch_2", "payment_intent": "pi_in_2", "amount": 900 }),
        ),
    )
    .await;
    assert_eq!(balance(&app, &cookie).await, 1000);

    deliver(&app, &event("evt_17", "customer.subscription.deleted", subscription("canceled"))).await;
    mail(&app, "subscriber@example.com", "Atelier: your plan has ended").await;
    // An update that arrives late does not revive it.
    deliver(&app, &event("evt_18", "customer.subscription.updated", subscription("active"))).await;
    let shown = offer(&app, &cookie).await;
    assert_eq!(shown["plan"]["status"], "canceled");
    assert_eq!(shown["plan"]["live"], false);
    // Events this server does not act on are acknowledged.
    deliver(&app, &event("evt_19", "customer.created", json!({ "id": "cus_9", "object": "customer" }))).await;
}

async fn payments_are_exported_and_erasure_keeps_only_anonymous_accounting(app: TestApp) {
    let (app, standin) = with_stripe(app).await;
    let email = "leaver@example.com";
    let cookie = account(&app, None, email).await;
    let (call, _) = open_checkout(&app, &standin, &cookie, "pack:small").await;
    let account_id = call.field("client_reference_id").unwrap().to_string();
    deliver(
        &app,
        &event(
            "evt_20",
            "checkout.session.completed",
            json!({
                "id": "cs_test_1", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
                "client_reference_id": account_id, "metadata": { "account": account_id, "item": "pack:small" },
                "customer": "cus_5", "payment_intent": "pi_5", "amount_total": 500, "currency": "eur",
            }),
        ),
    )
    .await;
    let manifest = exported_manifest(&app, &cookie).await;
    let payments = &manifest["payments"];
    assert_eq!(payments["customers"][0]["customer_id"], "cus_5");
    assert_eq!(payments["customers"][0]["card"], json!({ "brand": "visa", "last4": "4242" }));
    assert_eq!(payments["payments"][0]["credits"], 500);
    assert_eq!(payments["payments"][0]["currency"], "eur");

    // While Stripe cannot be reached, nothing is erased: the plan would go on charging.
    let base = app.settings.billing.stripe.api_base.clone();
    let app = app.adjusted(|settings| settings.billing.stripe.api_base = "http://127.0.0.1:9".into()).await;
    let reply = app.call_form("data/delete-account", Some(&cookie), &form(&[("confirmation", email)])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(account_id_of(&app, email).await, account_id);
    let app = app.adjusted(|settings| settings.billing.stripe.api_base = base).await;
    delete_account(&app, &cookie, email).await;
    // The customer at Stripe is deleted with the account: its cards, and any plan at once.
    let deleted = standin.calls("/v1/customers/cus_5");
    assert_eq!(deleted.len(), 1, "the customer is deleted at Stripe");
    assert_eq!(deleted[0].auth.as_deref(), Some(format!("Bearer {SECRET_KEY}").as_str()));
    let pool = app.ai.db.pool();
    let customers: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM billing_customers").fetch_one(pool).await.unwrap().get("n");
    assert_eq!(customers, 0, "the link to the customer goes with the account");
    let row = sqlx::query("SELECT account_id, credits FROM billing_payments").fetch_one(pool).await.unwrap();
    assert_eq!(row.get::<Option<String>, _>("account_id"), None, "the payment is kept for accounting, naming nobody");
    assert_eq!(row.get::<i64, _>("credits"), 500);
    // A refund for it afterwards finds nobody's balance to change, and does not fail.
    deliver(&app, &event("evt_21", "charge.refunded", json!({ "id": "ch_5", "object": "charge", "amount": 500, "amount_refunded": 500, "payment_intent": "pi_5" }))).await;
}

async fn the_privacy_page_names_stripe_only_when_billing_uses_it(app: TestApp) {
    let page = String::from_utf8(app.get("/privacy", None).await.body).unwrap();
    assert!(!page.contains("Stripe"), "billing is off by default");
    let (app, _standin) = with_stripe(app).await;
    let page = String::from_utf8(app.get("/privacy", None).await.body).unwrap();
    assert!(page.contains("Payments are processed by Stripe"), "{page}");
    assert!(page.contains("last four digits"), "{page}");
}

on_both_databases!(
    a_credit_pack_is_bought_through_checkout_and_credited_once,
    webhooks_that_stripe_did_not_sign_now_are_refused,
    a_plan_brings_its_credits_with_each_paid_invoice_until_it_ends,
    payments_are_exported_and_erasure_keeps_only_anonymous_accounting,
    the_privacy_page_names_stripe_only_when_billing_uses_it,
);
