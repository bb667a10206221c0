//! People through the server, with the real face models and a worker: nothing computed without
//! consent, faces grouped by person once it is given, deleted at once when it is withdrawn; no
//! guest can switch it on; one workspace never reaches another's people or faces.

use std::time::Duration;

use axum::http::StatusCode;
use image::imageops::{self, FilterType};
use serde_json::Value;
use sqlx::Row;

use crate::support::{account, fixture, form, rows_of, TestApp};

/// The astronaut mirrored, cut to a square and re-encoded small: the same face in another photo.
fn astronaut_copy() -> Vec<u8> {
    let astronaut = image::load_from_memory(&fixture("astronaut.png")).unwrap().to_rgb8();
    let copy = imageops::flip_horizontal(&astronaut);
    let copy = imageops::crop_imm(&copy, 60, 0, 400, 400).to_image();
    let copy = imageops::resize(&copy, 300, 300, FilterType::Triangle);
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 70).encode_image(&copy).unwrap();
    data
}

async fn owner_of(app: &TestApp, email: &str) -> String {
    sqlx::query("SELECT owner_id FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("owner_id")
}

async fn count(app: &TestApp, sql: &'static str, bind: &str) -> i64 {
    sqlx::query(sql).bind(bind).fetch_one(app.ai.db.pool()).await.unwrap().get("n")
}

async fn upload(app: &TestApp, cookie: &str, name: &str, data: Vec<u8>) -> String {
    let reply = app.upload(Some(cookie), name, data).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["id"].as_str().unwrap().to_string()
}

async fn overview(app: &TestApp, cookie: &str) -> Value {
    let reply = app.call_form("people/overview", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

/// Waits until no People job is queued or running for `owner` and every photo was looked at.
async fn scanned(app: &TestApp, cookie: &str, owner: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let busy = count(
            app,
            "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND tool = 'people' AND state IN ('queued', 'running')",
            owner,
        )
        .await;
        let view = overview(app, cookie).await;
        if busy == 0 && view["pending"] == 0 {
            return view;
        }
        assert!(std::time::Instant::now() < deadline, "faces still being looked for: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enable_form() -> String {
    form(&[("agree", "on"), ("text_version", &app::people::CONSENT_VERSION.to_string())])
}

async fn people_stay_off_until_consent_then_group_faces_and_switching_off_deletes_them_all(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let cookie = account(&app, None, "ada@example.com").await;
    let owner = owner_of(&app, "ada@example.com").await;

    // Off by default: a photo with a face is stored, and nothing about its face is computed.
    let first = upload(&app, &cookie, "astronaut.png", fixture("astronaut.png")).await;
    let view = overview(&app, &cookie).await;
    assert_eq!((view["signed_in"].clone(), view["enabled"].clone()), (Value::Bool(true), Value::Bool(false)));
    assert_eq!(view["available"], true, "the face models are installed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rows_of(&app, "faces", &owner).await, 0);
    assert_eq!(rows_of(&app, "people", &owner).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND tool = 'people'", &owner).await, 0);

    // The page asks for consent with the text that is recorded; the privacy page explains People.
    let page = String::from_utf8(app.get("/people", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("Switch People on") && page.contains("biometric data"), "{page}");
    assert!(page.contains(r#"name="agree""#) && !page.contains("checked"), "nothing is ticked for the person");
    let policy = String::from_utf8(app.get("/privacy", None).await.body).unwrap();
    assert!(policy.contains(r#"id="people""#) && policy.contains("People is off by default"), "{policy}");

    // Consent must be explicit: no ticked box, or an outdated text, switches nothing on.
    for bad in [form(&[("text_version", "1")]), form(&[("agree", "on"), ("text_version", "999")])] {
        let reply = app.call_form("people/enable", Some(&cookie), &bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&reply.body));
    }
    assert_eq!(overview(&app, &cookie).await["enabled"], false);

    let reply = app.call_form("people/enable", Some(&cookie), &enable_form()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["enabled"], true);
    let account_id: String = sqlx::query("SELECT id FROM accounts WHERE owner_id = $1")
        .bind(&owner)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap()
        .get("id");
    let grants =
        "SELECT COUNT(*) AS n FROM people_consents WHERE account_id = $1 AND action = 'grant' AND text_version = 1";
    assert_eq!(count(&app, grants, &account_id).await, 1, "the consent is recorded");

    // Photos stored while it is on are looked at too: the same face, and someone else.
    let copy = upload(&app, &cookie, "astronaut-copy.jpg", astronaut_copy()).await;
    let portrait = upload(&app, &cookie, "portrait.jpg", fixture("portrait.jpg")).await;
    let view = scanned(&app, &cookie, &owner).await;
    let people = view["people"].as_array().unwrap().clone();
    assert_eq!(people.len(), 2, "two people: {view}");
    assert_eq!((people[0]["faces"].clone(), people[0]["photos"].clone()), (2.into(), 2.into()), "{view}");
    assert_eq!((people[1]["faces"].clone(), people[1]["photos"].clone()), (1.into(), 1.into()), "{view}");
    let (astronaut, other) = (people[0]["id"].as_str().unwrap().to_string(), people[1]["id"].as_str().unwrap());
    let photos_of = |person: &str| {
        let person = person.to_string();
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let reply = app.call_form("people/person", Some(&cookie), &form(&[("id", &person)])).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
            let mut ids: Vec<String> =
                reply.json()["photos"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().into()).collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![first.clone(), copy.clone()];
    both.sort();
    assert_eq!(photos_of(&astronaut).await, both, "the copy is with the original");
    assert_eq!(photos_of(other).await, vec![portrait.clone()]);

    // The face's thumbnail is cut from the photo on the server, behind a signed link.
    let face_url = people[0]["face_url"].as_str().unwrap().to_string();
    let reply = app.get(&face_url, Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "image/jpeg");
    assert_eq!(image::load_from_memory(&reply.body).unwrap().to_rgb8().dimensions(), (160, 160));
    assert_eq!(app.get(&face_url.replace("sig=", "sig=0"), Some(&cookie)).await.status, StatusCode::FORBIDDEN);

    // Named, found by name ("photos of Eileen"), merged.
    let reply = app.call_form("people/rename", Some(&cookie), &form(&[("id", &astronaut), ("name", " Eileen ")])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["name"], "Eileen");
    let page = String::from_utf8(app.get("/people", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("Eileen") && page.contains("/media/faces/") && page.contains("2 people found"), "{page}");
    let reply = app.get(&format!("/people/{astronaut}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&reply.body).contains(&format!("/photos/{first}")));
    let found = app.call_form("people/search", Some(&cookie), &form(&[("name", "eil")])).await.json();
    assert_eq!(found.as_array().unwrap().len(), 2, "{found}");
    let found = app.call_form("people/search", Some(&cookie), &form(&[("name", "%")])).await.json();
    assert_eq!(found, Value::Array(vec![]), "a % is a character, not a wildcard");
    let long = "x".repeat(81);
    let reply = app.call_form("people/rename", Some(&cookie), &form(&[("id", &astronaut), ("name", &long)])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply =
        app.call_form("people/merge", Some(&cookie), &form(&[("into", &astronaut), ("from", &astronaut)])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.call_form("people/merge", Some(&cookie), &form(&[("into", &astronaut), ("from", other)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!((reply.json()["faces"].clone(), reply.json()["name"].clone()), (3.into(), "Eileen".into()));
    assert_eq!(rows_of(&app, "people", &owner).await, 1);

    // "Download my data" carries the faces, their descriptors and the consent.
    let manifest = crate::support::exported_manifest(&app, &cookie).await;
    assert_eq!(manifest["people"]["faces"].as_array().unwrap().len(), 3, "{}", manifest["people"]);
    assert_eq!(manifest["people"]["people"][0]["name"], "Eileen");
    assert_eq!(manifest["people"]["consents"][0]["action"], "grant");

    // A deleted photo takes its faces with it.
    sqlx::query("DELETE FROM photos WHERE id = $1").bind(&portrait).execute(app.ai.db.pool()).await.unwrap();
    assert_eq!(rows_of(&app, "faces", &owner).await, 2);

    // Switched off: every face and person goes at once, the withdrawal is recorded, new photos
    // are not looked at, and old face links find nothing.
    let reply = app.call_form("people/disable", Some(&cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["enabled"], false);
    assert_eq!(rows_of(&app, "faces", &owner).await, 0);
    assert_eq!(rows_of(&app, "people", &owner).await, 0);
    let scanned_marks = "SELECT COUNT(*) AS n FROM photos WHERE owner_id = $1 AND faces_scanned_at IS NOT NULL";
    assert_eq!(count(&app, scanned_marks, &owner).await, 0);
    let withdrawals = "SELECT COUNT(*) AS n FROM people_consents WHERE account_id = $1 AND action = 'withdraw'";
    assert_eq!(count(&app, withdrawals, &account_id).await, 1);
    assert_eq!(app.get(&face_url, Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    upload(&app, &cookie, "portrait-again.jpg", fixture("portrait.jpg")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rows_of(&app, "faces", &owner).await, 0);
    let queued =
        "SELECT COUNT(*) AS n FROM jobs WHERE owner_id = $1 AND tool = 'people' AND state IN ('queued', 'running')";
    assert_eq!(count(&app, queued, &owner).await, 0);
    assert_eq!(overview(&app, &cookie).await["people"], Value::Array(vec![]));
}

async fn a_guest_cannot_switch_people_on(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("astronaut.png").await;
    let view = overview(&app, &cookie).await;
    assert_eq!((view["signed_in"].clone(), view["enabled"].clone()), (Value::Bool(false), Value::Bool(false)));
    let page = String::from_utf8(app.get("/people", Some(&cookie)).await.body).unwrap();
    assert!(page.contains("only for accounts") && !page.contains(r#"name="agree""#), "{page}");
    let reply = app.call_form("people/enable", Some(&cookie), &enable_form()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", String::from_utf8_lossy(&reply.body));
    let total = sqlx::query("SELECT COUNT(*) AS n FROM people_consents").fetch_one(app.ai.db.pool()).await.unwrap();
    assert_eq!(total.get::<i64, _>("n"), 0);
    let jobs = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE tool = 'people'").fetch_one(app.ai.db.pool()).await;
    assert_eq!(jobs.unwrap().get::<i64, _>("n"), 0);
}

async fn one_workspace_never_reaches_anothers_people(app: TestApp) {
    server::ai_tools::spawn_workers(app.ai.clone(), 1);
    let ada = account(&app, None, "ada@example.com").await;
    let ada_owner = owner_of(&app, "ada@example.com").await;
    upload(&app, &ada, "astronaut.png", fixture("astronaut.png")).await;
    let reply = app.call_form("people/enable", Some(&ada), &enable_form()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let view = scanned(&app, &ada, &ada_owner).await;
    let person = view["people"][0]["id"].as_str().expect("one person").to_string();
    let face_url = view["people"][0]["face_url"].as_str().unwrap().to_string();
    app.call_form("people/rename", Some(&ada), &form(&[("id", &person), ("name", "Eileen")])).await;

    let bob = account(&app, None, "bob@example.com").await;
    let reply = app.call_form("people/enable", Some(&bob), &enable_form()).await;
    assert_eq!(reply.status, StatusCode::OK);
    upload(&app, &bob, "portrait.jpg", fixture("portrait.jpg")).await;
    let bob_owner = owner_of(&app, "bob@example.com").await;
    let bob_view = scanned(&app, &bob, &bob_owner).await;
    let bobs = bob_view["people"][0]["id"].as_str().expect("bob's person").to_string();
    assert_eq!(bob_view["people"].as_array().unwrap().len(), 1, "only his own: {bob_view}");

    for (endpoint, args) in [
        ("people/person", form(&[("id", &person)])),
        ("people/rename", form(&[("id", &person), ("name", "Mallory")])),
        ("people/merge", form(&[("into", &bobs), ("from", &person)])),
        ("people/merge", form(&[("into", &person), ("from", &bobs)])),
    ] {
        let reply = app.call_form(endpoint, Some(&bob), &args).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{endpoint}: {}", String::from_utf8_lossy(&reply.body));
    }
    assert_eq!(app.get(&format!("/people/{person}"), Some(&bob)).await.status, StatusCode::NOT_FOUND);
    let found = app.call_form("people/search", Some(&bob), &form(&[("name", "Eileen")])).await.json();
    assert_eq!(found, Value::Array(vec![]));
    assert_eq!(app.get(&face_url, Some(&bob)).await.status, StatusCode::NOT_FOUND);
    // Bob switching off deletes his faces only.
    app.call_form("people/disable", Some(&bob), "").await;
    assert_eq!(rows_of(&app, "faces", &bob_owner).await, 0);
    assert_eq!(rows_of(&app, "faces", &ada_owner).await, 1);
    assert_eq!(overview(&app, &ada).await["people"][0]["name"], "Eileen");
}

on_both_databases!(
    people_stay_off_until_consent_then_group_faces_and_switching_off_deletes_them_all,
    a_guest_cannot_switch_people_on,
    one_workspace_never_reaches_anothers_people,
);
