//! Crash safety (issue 20): the real `atelier` binary killed with SIGKILL (no shutdown handler
//! runs) during an upload, a save, an export, a job and with a full queue, then started again;
//! and the reconcile sweep that removes what a killed process stored but never recorded.
//!
//! What every test checks after each kill: each object a row points at reads back whole (no row
//! points at a missing or half-written file); and after a sweep with the clock past the grace
//! period, the store holds exactly the objects rows point at, with no staging file left.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::data::retention::Swept;
use server::platform::db::now;
use server::platform::storage::keys;
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use crate::support::process::{client, RealProcess};
use crate::support::{account, fixture, owner_of, settle_background_jobs, TestApp};

const HOUR: i64 = 3600;
/// Short leases: a killed server's sweeper lease and a killed worker's job are taken over within
/// seconds rather than a minute.
const SHORT_LEASES: [(&str, &str); 2] = [("ATELIER_LEASE_SECS", "2"), ("ATELIER_JOB_LEASE_SECS", "3")];

fn env(more: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    SHORT_LEASES.iter().copied().chain(more.iter().copied()).collect()
}

/// Every file in the local store, relative to it, staging files included.
fn files(app: &TestApp) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root = app.settings.storage_dir();
    let mut out = BTreeSet::new();
    walk(&root, &root, &mut out);
    out
}

/// `object_store`'s local staging files: `<key>#<digits>`, a write not finished.
fn staging(files: &BTreeSet<String>) -> Vec<String> {
    files
        .iter()
        .filter(|name| {
            name.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .cloned()
        .collect()
}

/// Every object key a row points at.
async fn referenced(app: &TestApp) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (table, column) in [
        ("photos", "object_key"),
        ("photos", "thumbnail_key"),
        ("versions", "object_key"),
        ("versions", "thumbnail_key"),
        ("jobs", "mask_key"),
        ("jobs", "result_key"),
        ("jobs", "result_thumbnail_key"),
        ("export_jobs", "object_key"),
        ("api_keys", "webhook_secret_key"),
    ] {
        let sql = format!("SELECT {column} AS k FROM {table} WHERE {column} IS NOT NULL");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(app.ai.db.pool()).await.unwrap() {
            keys.insert(row.get::<String, _>("k"));
        }
    }
    keys
}

/// No row points at an object that is missing or does not decrypt whole.
async fn every_recorded_object_reads_whole(app: &TestApp) {
    for key in referenced(app).await {
        if let Err(error) = app.data.photos.storage.get(&key).await {
            panic!("{key} is recorded but does not read back whole: {error}");
        }
    }
}

/// A sweep two hours on (past the grace period); then the store holds exactly what rows point at.
async fn sweep_leaves_exactly_what_rows_point_at(app: &TestApp) -> Swept {
    let swept = app.retention.sweep(now() + 2 * HOUR).await.unwrap();
    let files = files(app);
    assert!(staging(&files).is_empty(), "staging files left after the sweep: {:?}", staging(&files));
    assert_eq!(files, referenced(app).await, "the store after the sweep against what rows point at");
    swept
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query(sql).fetch_one(app.ai.db.pool()).await.unwrap().get::<i64, _>("n")
}

/// For polling loops: what is awaited, and until when.
struct Deadline(Instant, &'static str);

impl Deadline {
    fn after(secs: u64, what: &'static str) -> Self {
        Self(Instant::now() + Duration::from_secs(secs), what)
    }

    /// A few milliseconds' wait; panics once the deadline has passed.
    async fn tick(&self) {
        assert!(Instant::now() < self.0, "{}: not in time", self.1);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A POST of `body` to `path` on a raw connection, so the test decides how much of it is sent.
async fn post_raw(server: &RealProcess, path: &str, headers: &str, body: &[u8], send: usize) -> tokio::net::TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..send]).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Sends a request to a new server and kills it the moment the request's first file (a path
/// containing `marker`) appears in the store: between storing a file and recording its row.
/// Returns the files that appeared, as the kill left them.
async fn kill_at_first_file(app: &TestApp, path: &str, headers: &str, body: &[u8], marker: &str) -> BTreeSet<String> {
    let mut server = RealProcess::serve(app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let before = files(app);
    let _connection = post_raw(&server, path, headers, body, body.len()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !files(app).difference(&before).any(|name| name.contains(marker)) {
        assert!(Instant::now() < deadline, "no {marker} file appeared");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill9().await;
    files(app).difference(&before).cloned().collect()
}

/// The whole answer on a raw connection (the server closes it).
async fn answer_of(mut stream: tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A noisy PNG of about `width * height * 3` bytes: photos that take a while to copy.
fn noise_png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let image = image::RgbImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        };
        image::Rgb([next(), next(), next()])
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

/// An upload killed while its body arrives, then killed at growing delays after it has all
/// arrived (decoding, storing the files, recording the row): each time either the photo is there
/// whole or nothing is, and the sweep leaves no file of it.
async fn an_upload_killed_midway_leaves_no_photo_and_no_file(app: TestApp) {
    let (cookie, _) = app.new_owner_with_photo("chelsea.jpg").await;
    let body = fixture("astronaut.png");
    let headers = format!("Cookie: {cookie}\r\nContent-Type: image/png\r\nX-File-Name: astronaut.png\r\n");
    let photos = || count(&app, "SELECT COUNT(*) AS n FROM photos");

    // Half the body, then the kill while the server waits for the rest.
    let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let before = photos().await;
    let _connection = post_raw(&server, "/api/photos", &headers, &body, body.len() / 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.kill9().await;
    assert_eq!(photos().await, before, "no photo row from half an upload");
    every_recorded_object_reads_whole(&app).await;

    // How long a whole upload takes here, so the kills below land inside one.
    let server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let started = Instant::now();
    let answer = answer_of(post_raw(&server, "/api/photos", &headers, &body, body.len()).await).await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    drop(server);

    let mut stored = Vec::new();
    for eighths in 0..8 {
        let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
        let before = photos().await;
        let _connection = post_raw(&server, "/api/photos", &headers, &body, body.len()).await;
        let delay_ms = took.as_millis() as u64 * eighths / 8;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill9().await;
        stored.push((delay_ms, photos().await - before));
        every_recorded_object_reads_whole(&app).await;
    }

    let before = photos().await;
    let left = kill_at_first_file(&app, "/api/photos", &headers, &body, "/photos/").await;
    let at_first_file = (photos().await - before, left);
    every_recorded_object_reads_whole(&app).await;

    // Started again, the workspace lists exactly the photos recorded, and each opens.
    let server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let listed: Value = client()
        .post(format!("{}/api/photos/list", server.base))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().expect("the photo list");
    assert_eq!(listed.len() as i64, photos().await);
    for photo in listed {
        let original = client().get(format!("{}{}", server.base, photo["original_url"].as_str().unwrap()));
        let reply = original.header("cookie", &cookie).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{photo}");
    }
    drop(server);
    let swept = sweep_leaves_exactly_what_rows_point_at(&app).await;
    eprintln!(
        "a whole upload took {took:?}; killed after (ms, photos stored): {stored:?}; killed at its first file: \
         (photos stored, files left) {at_first_file:?}; the sweep removed {} orphaned objects and {} staging files",
        swept.orphans_removed, swept.partial_files_removed
    );
}

/// A saved edit killed at growing delays after the request: the version is there whole (row,
/// image and thumbnail) or not at all.
async fn a_save_killed_midway_leaves_a_whole_version_or_none(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    let versions = || count(&app, "SELECT COUNT(*) AS n FROM versions");
    let save = json!({ "photo": photo["id"], "recipe": { "ops": [{ "op": "grayscale" }] } }).to_string();
    let headers = format!("Cookie: {cookie}\r\nContent-Type: application/json\r\nAccept: application/json\r\n");
    // How long a whole save takes here, so the kills below land inside one.
    let server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let started = Instant::now();
    let answer = answer_of(post_raw(&server, "/api/gallery/save", &headers, save.as_bytes(), save.len()).await).await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(server);

    let mut saved = Vec::new();
    for eighths in 0..8 {
        let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
        let before = versions().await;
        let _connection = post_raw(&server, "/api/gallery/save", &headers, save.as_bytes(), save.len()).await;
        let delay_ms = took.as_millis() as u64 * eighths / 8;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill9().await;
        saved.push((delay_ms, versions().await - before));
        every_recorded_object_reads_whole(&app).await;
    }
    let before = versions().await;
    let left = kill_at_first_file(&app, "/api/gallery/save", &headers, save.as_bytes(), "/versions/").await;
    let at_first_file = (versions().await - before, left);
    every_recorded_object_reads_whole(&app).await;
    assert!(saved.iter().all(|(_, n)| (0..=1).contains(n)), "{saved:?}");
    // The gallery lists what was recorded, and each image opens.
    let gallery = app.call_form("gallery/list", Some(&cookie), "").await.json();
    let gallery = gallery.as_array().expect("the gallery");
    assert_eq!(gallery.len() as i64, versions().await);
    for item in gallery {
        assert_eq!(app.get(item["image_url"].as_str().unwrap(), Some(&cookie)).await.status, 200);
    }
    let swept = sweep_leaves_exactly_what_rows_point_at(&app).await;
    eprintln!(
        "a whole save took {took:?}; killed after (ms, versions stored): {saved:?}; killed at its first file: \
         (versions stored, files left) {at_first_file:?}; the sweep removed {} orphaned objects and {} staging files",
        swept.orphans_removed, swept.partial_files_removed
    );
}

/// An export killed while its archive is being written: no archive is visible, the next start
/// finishes it, the archive opens whole with every photo, and the sweep removes the killed
/// write's staging file.
async fn an_export_killed_midway_is_finished_whole_after_a_restart(app: TestApp) {
    const PHOTOS: u32 = 4;
    let started_at = Instant::now();
    let cookie = account(&app, None, "ada@example.org").await;
    let mut owner = String::new();
    for seed in 0..PHOTOS {
        let reply = app.upload(Some(&cookie), &format!("noise-{seed}.png"), noise_png(1200, 900, seed + 1)).await;
        assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
        owner = owner_of(&app, reply.json()["id"].as_str().unwrap()).await;
    }
    let exports_dir = format!("owners/{owner}/exports/");

    // Killed once the archive's staging file exists: the archive is being written. An export
    // that finished before it was seen is tried again (it is deleted, so the next one starts).
    let mut caught = None;
    for _ in 0..3 {
        let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
        let started = client()
            .post(format!("{}/api/data/export", server.base))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 200);
        let deadline = Deadline::after(60, "the export writing or done");
        let writing = loop {
            if staging(&files(&app)).iter().any(|name| name.starts_with(&exports_dir)) {
                break true;
            }
            if latest_export(&app).await.is_some_and(|(_, state)| state == "done" || state == "failed") {
                break false;
            }
            deadline.tick().await;
        };
        server.kill9().await;
        let latest = latest_export(&app).await;
        if writing && latest.as_ref().is_some_and(|(_, state)| state == "running") {
            caught = latest;
            break;
        }
        eprintln!("the export finished before it could be killed; again");
    }
    let (id, _) = caught.expect("an export was killed while its archive was being written");
    eprintln!("photos uploaded and export killed after {:?}", started_at.elapsed());
    let left = files(&app);
    let partial: Vec<String> = staging(&left).into_iter().filter(|name| name.starts_with(&exports_dir)).collect();
    assert!(!partial.is_empty(), "the killed write left its staging file");
    let visible = app.data.photos.storage.list(Some(&exports_dir)).await.unwrap();
    assert!(!visible.iter().any(|key| key.contains(&id)), "no archive is visible before it is whole: {visible:?}");
    let exports = app.call_form("data/exports", Some(&cookie), "").await.json();
    assert!(exports[0]["download_url"].is_null(), "no link to an unfinished archive: {exports}");

    // The next start resumes it.
    let server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let deadline = Deadline::after(60, "the resumed export done");
    while latest_export(&app).await.is_none_or(|(_, state)| state != "done") {
        deadline.tick().await;
    }
    let exports = app.call_form("data/exports", Some(&cookie), "").await.json();
    assert_eq!(exports[0]["id"], id.as_str(), "the same export, finished: {exports}");
    let archive = client()
        .get(format!("{}{}", server.base, exports[0]["download_url"].as_str().unwrap()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let status = archive.status();
    let archive = archive.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&archive[..archive.len().min(500)]));
    drop(server);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.to_vec())).expect("the archive opens");
    let manifest: Value = serde_json::from_reader(zip.by_name("manifest.json").unwrap()).unwrap();
    let photos = manifest["photos"].as_array().unwrap();
    assert_eq!(photos.len(), PHOTOS as usize);
    for photo in photos {
        let mut entry = zip.by_name(photo["file"].as_str().unwrap()).expect("each photo's file is in the archive");
        let mut data = Vec::new();
        // Reading to the end checks each entry's CRC.
        std::io::Read::read_to_end(&mut entry, &mut data).expect("the file reads whole");
        assert!(image::load_from_memory(&data).is_ok(), "{} decodes", photo["file"]);
    }

    let swept = sweep_leaves_exactly_what_rows_point_at(&app).await;
    assert!(swept.partial_files_removed >= partial.len() as u64, "{swept:?}");
    assert_eq!(swept.orphans_removed, 0, "the killed write left no visible object: {swept:?}");
    eprintln!("export killed mid-write: {} staging file(s) left, removed by the sweep", partial.len());
}

/// The newest export's id and state (ids are time-ordered).
async fn latest_export(app: &TestApp) -> Option<(String, String)> {
    sqlx::query("SELECT id, state FROM export_jobs ORDER BY id DESC LIMIT 1")
        .fetch_optional(app.ai.db.pool())
        .await
        .unwrap()
        .map(|row| (row.get::<String, _>("id"), row.get::<String, _>("state")))
}

async fn job_row(app: &TestApp, id: &str) -> (String, i64, Option<String>) {
    let row = sqlx::query("SELECT state, attempts, result_key FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(app.ai.db.pool())
        .await
        .unwrap();
    (row.get("state"), row.get("attempts"), row.get("result_key"))
}

/// A worker process killed during a job: another worker process takes the job once the lease has
/// run out and finishes it, once; the store then holds one set of result files for it.
async fn a_worker_killed_during_a_job_is_replaced_and_the_job_finishes_once(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    settle_background_jobs(&app).await;
    let started = app
        .call_json(
            "ai/start",
            Some(&cookie),
            json!({ "photo": photo["id"], "request": { "tool": "upscale", "factor": 2, "quality": "fast" } }),
        )
        .await;
    assert_eq!(started.status, 200, "{}", String::from_utf8_lossy(&started.body));
    let job = started.json()["id"].as_str().unwrap().to_string();

    let mut first = RealProcess::worker(&app, &env(&[("ATELIER_AI_WORKERS", "1")])).await;
    let deadline = Deadline::after(60, "the first worker running the job");
    while job_row(&app, &job).await.0 != "running" {
        deadline.tick().await;
    }
    // Well into the job (the model loads, then runs), not yet done.
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.kill9().await;
    let (state, attempts, _) = job_row(&app, &job).await;
    assert_eq!((state.as_str(), attempts), ("running", 1), "killed during the job");
    let owner = owner_of(&app, photo["id"].as_str().unwrap()).await;
    let first_results = app.data.photos.storage.list(Some(&format!("owners/{owner}/jobs/{job}"))).await.unwrap();

    let second = RealProcess::worker(&app, &env(&[("ATELIER_AI_WORKERS", "1")])).await;
    let deadline = Deadline::after(120, "the second worker finishing the job");
    let (state, attempts, result) = loop {
        let row = job_row(&app, &job).await;
        if matches!(row.0.as_str(), "done" | "failed") {
            break row;
        }
        deadline.tick().await;
    };
    drop(second);
    assert_eq!((state.as_str(), attempts), ("done", 2), "finished by the second worker, on the second attempt");
    let owner_id: app::ids::OwnerId = owner.parse().unwrap();
    let job_id: app::ids::JobId = job.parse().unwrap();
    assert_eq!(result, Some(keys::job_result(owner_id, job_id, 2).0));

    let swept = sweep_leaves_exactly_what_rows_point_at(&app).await;
    let (result, thumbnail) = keys::job_result(owner_id, job_id, 2);
    let left = app.data.photos.storage.list(Some(&format!("owners/{owner}/jobs/{job}"))).await.unwrap();
    assert_eq!(left.into_iter().collect::<BTreeSet<_>>(), BTreeSet::from([result, thumbnail]), "one set of results");
    eprintln!(
        "worker killed mid-job: the first attempt had stored {first_results:?}; the sweep removed {} orphaned objects",
        swept.orphans_removed
    );
}

/// Jobs queued with no worker, the server killed, then killed again while one runs: every job
/// finishes once after the next start, none lost, none doubled.
async fn jobs_queued_when_the_server_is_killed_all_finish_once(app: TestApp) {
    const JOBS: usize = 4;
    let (cookie, photo) = app.new_owner_with_photo("portrait.jpg").await;
    settle_background_jobs(&app).await;
    let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "0")])).await;
    let mut ids = BTreeSet::new();
    for _ in 0..JOBS {
        let reply = client()
            .post(format!("{}/api/ai/start", server.base))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(
                json!({ "photo": photo["id"], "request": { "tool": "upscale", "factor": 2, "quality": "fast" } })
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let job: Value = reply.json().await.unwrap();
        ids.insert(job["id"].as_str().unwrap().to_string());
    }
    server.kill9().await;
    let queued = count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE tool = 'upscale' AND state = 'queued'").await;
    assert_eq!(queued, JOBS as i64, "every job survives the kill, queued");

    // Started with one worker, killed again while a job runs.
    let mut server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "1")])).await;
    let deadline = Deadline::after(60, "a job running");
    while count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE tool = 'upscale' AND state = 'running'").await == 0 {
        deadline.tick().await;
    }
    server.kill9().await;

    let server = RealProcess::serve(&app, &env(&[("ATELIER_AI_WORKERS", "2")])).await;
    let deadline = Deadline::after(120, "every job finished");
    while count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE tool = 'upscale' AND state IN ('queued', 'running')").await
        > 0
    {
        deadline.tick().await;
    }
    drop(server);
    let mut attempts = Vec::new();
    for id in &ids {
        let (state, tries, result) = job_row(&app, id).await;
        assert_eq!(state, "done", "{id}");
        assert!(result.is_some_and(|key| key.ends_with(&format!("/result-{tries}"))), "{id}");
        attempts.push(tries);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE tool = 'upscale'").await, JOBS as i64);
    assert!(
        attempts.iter().filter(|tries| **tries == 2).count() <= 1,
        "only the job killed mid-run ran twice: {attempts:?}"
    );
    assert!(attempts.iter().all(|tries| (1..=2).contains(tries)), "{attempts:?}");
    // One result and one thumbnail per job, after the sweep.
    sweep_leaves_exactly_what_rows_point_at(&app).await;
    let results = files(&app).into_iter().filter(|name| name.contains("/jobs/")).count();
    assert_eq!(results, 2 * JOBS, "one set of results per job");
    eprintln!("queue survived two kills; attempts per job {attempts:?}");
}

/// The reconcile sweep on its own: an old orphan goes, a live object, a young orphan and an
/// object of no known kind stay; an old staging file goes, a young one stays.
async fn the_sweep_removes_old_orphans_and_keeps_live_young_and_unknown_objects(app: TestApp) {
    let (cookie, photo) = app.new_owner_with_photo("chelsea.jpg").await;
    let owner: app::ids::OwnerId = owner_of(&app, photo["id"].as_str().unwrap()).await.parse().unwrap();
    let storage = &app.data.photos.storage;
    let orphan_photo = keys::photo(owner, app::ids::PhotoId(uuid::Uuid::new_v4())).0;
    let orphan_result = keys::job_result(owner, app::ids::JobId(uuid::Uuid::new_v4()), 1).0;
    let unknown = [format!("owners/{owner}/something-new/{}", uuid::Uuid::new_v4()), "operator/notes".to_string()];
    for key in [&orphan_photo, &orphan_result].into_iter().chain(&unknown) {
        storage.put(key, b"bytes".to_vec()).await.unwrap();
    }
    // As a killed write leaves it.
    let staging_file = app.settings.storage_dir().join(format!("{orphan_photo}#1"));
    std::fs::write(&staging_file, b"half").unwrap();
    let live = referenced(&app).await;
    assert_eq!(live.len(), 2, "the photo and its thumbnail");

    // Now: everything unowned is younger than the grace period.
    let swept = app.retention.sweep(now()).await.unwrap();
    assert_eq!((swept.orphans_removed, swept.partial_files_removed), (0, 0), "{swept:?}");
    assert!(storage.get(&orphan_photo).await.is_ok() && staging_file.exists());

    // Two hours on: the orphans and the staging file go; the rest stays.
    let swept = app.retention.sweep(now() + 2 * HOUR).await.unwrap();
    assert_eq!((swept.orphans_removed, swept.partial_files_removed), (2, 1), "{swept:?}");
    assert!(!staging_file.exists());
    let mut expected: BTreeSet<String> = live.clone();
    expected.extend(unknown.iter().cloned());
    assert_eq!(files(&app), expected);
    for key in &live {
        assert!(storage.get(key).await.is_ok(), "{key} still reads");
    }
    assert_eq!(app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.status, 200, "the photo opens");
}

/// The same sweep over an S3 bucket (s3s-fs): its listing's times decide the grace period, an
/// old orphan goes, the live objects and an unknown kind stay.
async fn the_sweep_reconciles_an_s3_bucket(app: TestApp) {
    let s3 = crate::support::s3::S3Server::start().await;
    let app = app.adjusted(|settings| s3.apply(settings)).await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.jpg").await;
    let owner: app::ids::OwnerId = owner_of(&app, photo["id"].as_str().unwrap()).await.parse().unwrap();
    let storage = &app.data.photos.storage;
    let orphan = keys::version(owner, app::ids::VersionId(uuid::Uuid::new_v4())).0;
    let unknown = format!("owners/{owner}/something-new/{}", uuid::Uuid::new_v4());
    for key in [&orphan, &unknown] {
        storage.put(key, b"bytes".to_vec()).await.unwrap();
    }
    let swept = app.retention.sweep(now()).await.unwrap();
    assert_eq!(swept.orphans_removed, 0, "young: kept {swept:?}");
    let swept = app.retention.sweep(now() + 2 * HOUR).await.unwrap();
    assert_eq!(swept.orphans_removed, 1, "{swept:?}");
    let mut expected = referenced(&app).await;
    expected.insert(unknown);
    assert_eq!(storage.list(None).await.unwrap().into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(app.get(photo["original_url"].as_str().unwrap(), Some(&cookie)).await.status, 200, "the photo opens");
}

on_both_databases!(
    an_upload_killed_midway_leaves_no_photo_and_no_file,
    a_save_killed_midway_leaves_a_whole_version_or_none,
    an_export_killed_midway_is_finished_whole_after_a_restart,
    a_worker_killed_during_a_job_is_replaced_and_the_job_finishes_once,
    jobs_queued_when_the_server_is_killed_all_finish_once,
    the_sweep_removes_old_orphans_and_keeps_live_young_and_unknown_objects,
    the_sweep_reconciles_an_s3_bucket,
);
