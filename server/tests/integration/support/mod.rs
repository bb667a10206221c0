//! Starts the real router on a fresh database (a SQLite file, or a new Postgres database when
//! ATELIER_TEST_POSTGRES_URL is set) and speaks HTTP to it, cookies included.

#![allow(dead_code)]

pub mod process;
pub mod s3;

use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use server::config::Settings;
use server::Application;
use sqlx::Connection;
use tempfile::TempDir;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub retention: server::data::retention::Retention,
    pub data: std::sync::Arc<server::data::DataStore>,
    pub ai: std::sync::Arc<server::ai_tools::AiStore>,
    pub settings: Settings,
    _dir: TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, String::from_utf8_lossy(&self.body)))
    }

    /// The `name=value` part of the session cookie the server set, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(server::SESSION_COOKIE))
            .and_then(|value| value.split(';').next())
            .map(str::to_string)
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// An upload edge case from `server/tests/fixtures/edge` (see `scripts/make-edge-fixtures`).
pub fn edge_fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edge").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn settings_in(dir: &TempDir) -> Settings {
    let mut settings = Settings::default();
    settings.server.addr = "127.0.0.1:0".parse().unwrap();
    settings.server.log_filter = "warn".into();
    settings.storage.data_dir = dir.path().join("data");
    // Outside the data directory, as in production.
    settings.storage.key_file = dir.path().join("keys/keyring");
    settings.ai.models_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    // Requests here carry no peer address; tests name their client with X-Forwarded-For.
    settings.limits.trust_forwarded_for = true;
    settings
}

impl TestApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(&dir);
        adjust(&mut settings);
        Self::start(settings, dir).await
    }

    /// A brand-new Postgres database per test, or `None` when no server is configured.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var("ATELIER_TEST_POSTGRES_URL") else {
            eprintln!("ATELIER_TEST_POSTGRES_URL is not set: skipping the Postgres run of this test");
            return None;
        };
        let name = format!("atelier_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connecting to the test Postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin_url);
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(&dir);
        settings.storage.database_url = Some(format!("{base}/{name}").into());
        Some(Self::start(settings, dir).await)
    }

    async fn start(settings: Settings, dir: TempDir) -> Self {
        let app = Application::build(settings.clone()).await.expect("the application builds");
        Self { router: app.router(), retention: app.retention(), data: app.data(), ai: app.ai(), settings, _dir: dir }
    }

    /// The same database and files under changed settings (a restart with a new configuration).
    pub async fn adjusted(self, adjust: impl FnOnce(&mut Settings)) -> Self {
        let TestApp { mut settings, _dir, .. } = self;
        adjust(&mut settings);
        Self::start(settings, _dir).await
    }

    /// The same settings, database and files, in a new `Application`: a server restart.
    pub async fn restart(self) -> Self {
        let TestApp { settings, _dir, .. } = self;
        Self::start(settings, _dir).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        Reply { status, headers, body }
    }

    pub async fn upload(&self, cookie: Option<&str>, name: &str, data: Vec<u8>) -> Reply {
        // Percent-encoded, as the browser sends it (a header holds ASCII only).
        let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
        let mut request = Request::post("/api/photos")
            .header("x-file-name", encoded)
            .header(header::CONTENT_TYPE, "image/jpeg")
            .header(header::CONTENT_LENGTH, data.len());
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(data)).unwrap()).await
    }

    pub async fn get(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Calls a server function with a JSON body, as the browser's Json-encoded calls do.
    pub async fn call_json(&self, endpoint: &str, cookie: Option<&str>, args: serde_json::Value) -> Reply {
        self.call(endpoint, cookie, "application/json", args.to_string()).await
    }

    /// Calls a server function with a form body, the default encoding.
    pub async fn call_form(&self, endpoint: &str, cookie: Option<&str>, form: &str) -> Reply {
        self.call(endpoint, cookie, "application/x-www-form-urlencoded", form.to_string()).await
    }

    async fn call(&self, endpoint: &str, cookie: Option<&str>, content_type: &str, body: String) -> Reply {
        let mut request = Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// The real `atelier` binary running `command` on this test's database, files and keys, as an
    /// operator would start it beside this server; stopped when dropped.
    pub fn atelier(&self, command: &str) -> tokio::process::Command {
        let settings = &self.settings;
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_atelier"));
        process
            .arg(command)
            .current_dir(settings.storage.data_dir.parent().expect("the data directory has a parent"))
            .env("ATELIER_DATA_DIR", &settings.storage.data_dir)
            .env("ATELIER_KEY_FILE", &settings.storage.key_file)
            .env("ATELIER_MODELS_DIR", &settings.ai.models_dir)
            .env("ATELIER_DATABASE_URL", settings.database_url().expose_secret())
            .env("ATELIER_LOG", "warn")
            .kill_on_drop(true);
        process
    }

    /// Uploads `name` as a new visitor and returns that visitor's cookie and the photo.
    pub async fn new_owner_with_photo(&self, name: &str) -> (String, serde_json::Value) {
        let reply = self.upload(None, name, fixture(name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        let cookie = reply.session_cookie().expect("the first upload starts a session");
        (cookie, reply.json())
    }
}

/// Polls the photo's AI jobs until `job` has stopped (done, failed or cancelled); panics after
/// `secs`.
pub async fn job_finished(app: &TestApp, cookie: &str, photo: &str, job: &str, secs: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let reply = app.call_form("ai/jobs", Some(cookie), &form(&[("photo", photo)])).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
        let found = reply.json().as_array().and_then(|all| all.iter().find(|j| j["id"] == job).cloned());
        let found = found.expect("the job is listed");
        if matches!(found["state"].as_str(), Some("done" | "failed" | "cancelled")) {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "job still {}: {found}", found["state"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the server's own jobs queued so far (the search index after an upload), so a test that
/// drives the queue by hand sees only the jobs it starts.
pub async fn settle_background_jobs(app: &TestApp) {
    let lease = app.ai.settings.lease_secs;
    while let Some(job) = app.ai.db.claim_job("settle", server::platform::db::now(), lease).await.expect("claimed") {
        assert_eq!(job.photo.0, job.owner.0, "only the server's own jobs were waiting, not {}", job.tool);
        server::ai_tools::worker::process(&app.ai, "settle", job).await;
    }
}

/// Waits until the workers have finished the server's own jobs (the search index after an
/// upload), for tests that then change the database by hand beside them (a sweep run directly).
pub async fn background_idle(app: &TestApp) {
    use sqlx::Row;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let busy: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE photo_id = owner_id AND state IN ('queued', 'running')")
                .fetch_one(app.ai.db.pool())
                .await
                .expect("counted")
                .get("n");
        if busy == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the server's own jobs did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes the signed-in account, confirming with its address, and checks it went.
pub async fn delete_account(app: &TestApp, cookie: &str, email: &str) {
    let reply = app.call_form("data/delete-account", Some(cookie), &form(&[("confirmation", email)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
}

/// The owner (account or guest workspace) of the photo with id `photo`.
pub async fn owner_of(app: &TestApp, photo: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT owner_id FROM photos WHERE id = $1")
        .bind(photo)
        .fetch_one(app.ai.db.pool())
        .await
        .expect("the photo's row")
        .get("owner_id")
}

/// How many rows of `table` belong to `owner`.
pub async fn rows_of(app: &TestApp, table: &str, owner: &str) -> i64 {
    use sqlx::Row;
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE owner_id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).fetch_one(app.ai.db.pool()).await.expect("counted").get("n")
}

/// "Download my data" for the signed-in `cookie`, run to the end: the archive's manifest.
pub async fn exported_manifest(app: &TestApp, cookie: &str) -> serde_json::Value {
    let reply = app.call_form("data/export", Some(cookie), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let mut link = None;
    for _ in 0..300 {
        let exports = app.call_form("data/exports", Some(cookie), "").await.json();
        if let Some(url) = exports[0]["download_url"].as_str() {
            link = Some(url.to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let archive = app.get(&link.expect("the export finishes"), Some(cookie)).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.body)).expect("a zip");
    serde_json::from_reader(zip.by_name("manifest.json").expect("a manifest")).expect("JSON")
}

/// A log writer for tests that read what was logged.
#[derive(Clone, Default)]
pub struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    /// A subscriber writing here, to set as the thread's default.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let log = self.clone();
        tracing_subscriber::fmt().with_ansi(false).with_writer(move || log.clone()).finish()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// --- accounts, shared by the tests that need someone signed in ---

pub const PASSWORD: &str = "correct horse battery staple";

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The newest link token of `kind` ("verify" or "reset") mailed to `to`.
pub async fn mailed_token(app: &TestApp, to: &str, kind: &str) -> String {
    let dir = app.settings.storage.data_dir.join("mail");
    for _ in 0..100 {
        let mut newest: Option<(std::time::SystemTime, String)> = None;
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let text =
                std::fs::read_to_string(entry.path()).unwrap_or_default().replace("=\r\n", "").replace("=3D", "=");
            if !text.contains(&format!("To: {to}")) {
                continue;
            }
            let marker = format!("/{kind}?token=");
            if let Some(start) = text.find(&marker) {
                let token: String =
                    text[start + marker.len()..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                let modified = entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                if newest.as_ref().is_none_or(|(at, _)| modified >= *at) {
                    newest = Some((modified, token));
                }
            }
        }
        if let Some((_, token)) = newest {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} mail to {to}");
}

pub async fn sign_up(app: &TestApp, cookie: Option<&str>, email: &str) -> Reply {
    app.call_form("auth/signup", cookie, &form(&[("email", email), ("password", PASSWORD), ("display_name", "Ada")]))
        .await
}

/// Signs up and confirms `email` in the same browser; returns the signed-in session cookie.
pub async fn account(app: &TestApp, cookie: Option<&str>, email: &str) -> String {
    let reply = sign_up(app, cookie, email).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    // Confirmed in the browser that signed up, the one place its link signs in.
    let cookie = cookie.map(str::to_string).or_else(|| reply.session_cookie());
    let token = mailed_token(app, email, "verify").await;
    let reply = app.call_form("auth/verify", cookie.as_deref(), &form(&[("token", &token)])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.session_cookie().expect("signing in sets a session cookie")
}

/// Runs each listed `async fn(TestApp)` once on SQLite and once on Postgres (`#[macro_use]` in main.rs).
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        // Multi-threaded like the real server (#[tokio::main]): page renders stream from spawned
        // tasks, and a single-threaded test runtime once left a streamed page body unfinished.
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(crate::support::TestApp::sqlite().await).await;
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(app) = crate::support::TestApp::postgres().await {
                    super::$name(app).await;
                }
            })+
        }
    };
}

/// The live schema: every table Atelier made (sqlx's migration record aside) and its columns.
pub async fn schema(
    pool: &sqlx::AnyPool,
    postgres: bool,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    use sqlx::Row;
    let tables: Vec<String> = if postgres {
        sqlx::query(
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = 'public'",
        )
    } else {
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    }
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get::<String, _>("name").unwrap())
    .filter(|name| name != server::platform::tables::MIGRATIONS_TABLE)
    // SQLite's full-text tables follow their listed table (see `tables::DERIVED`).
    .filter(|name| !server::platform::tables::is_derived(name))
    .collect();
    let mut schema = std::collections::BTreeMap::new();
    for table in tables {
        let columns = if postgres {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1",
            )
            .bind(&table)
        } else {
            sqlx::query("SELECT name FROM pragma_table_info($1)").bind(&table)
        }
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String, _>("name").unwrap())
        .collect();
        schema.insert(table, columns);
    }
    schema
}
