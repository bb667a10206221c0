//! A real S3-compatible server for tests: `s3s-fs` (installed by `scripts/setup`) serving a
//! temporary directory on a loopback port, with random credentials it checks (SigV4). Each
//! directory under its root is a bucket and each object a file, so tests read what the bucket
//! holds straight from disk. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use server::config::Settings;
use tempfile::TempDir;

use super::process::free_port;
use super::TestApp;

pub struct S3Server {
    pub bucket: String,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
    /// The server's root; the bucket is the directory `bucket` in it.
    dir: TempDir,
}

/// `s3s-fs` from PATH, else from cargo's bin directory (where `scripts/setup` installs it).
fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("s3s-fs")).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    on_path
        .into_iter()
        .chain(cargo_home.map(|home| home.join("bin/s3s-fs")))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("s3s-fs (the S3 server the tests start) is not installed: run scripts/setup"))
}

fn random(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

impl S3Server {
    /// A fresh server with one empty bucket, answering on loopback.
    pub async fn start() -> Self {
        let binary = binary();
        let dir = tempfile::tempdir().unwrap();
        let bucket = "atelier-test".to_string();
        // s3s-fs's buckets are its root's directories.
        std::fs::create_dir(dir.path().join(&bucket)).unwrap();
        let (access_key, secret_key) = (random("AK"), random("secret-"));
        // A free port can be taken between probing and binding: try another then.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", &access_key, "--secret-key", &secret_key])
                .arg(dir.path())
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            if wait_listening(&mut child, port).await {
                return Self {
                    bucket,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    region: "us-east-1".into(),
                    access_key,
                    secret_key,
                    child,
                    dir,
                };
            }
        }
        panic!("s3s-fs did not start on a loopback port in three tries");
    }

    /// `s3://BUCKET`
    pub fn url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// Points `settings` at this server's bucket.
    pub fn apply(&self, settings: &mut Settings) {
        settings.storage.url = Some(self.url());
        let s3 = &mut settings.storage.s3;
        s3.endpoint = Some(self.endpoint.clone());
        s3.region = self.region.clone();
        s3.access_key_id = Some(self.access_key.clone());
        s3.secret_access_key = Some(self.secret_key.clone().into());
        // Loopback only.
        s3.allow_http = true;
    }

    /// The same as `apply`, as `ATELIER_*` variables for an `atelier` process.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("ATELIER_STORAGE_URL", self.url()),
            ("ATELIER_S3_ENDPOINT", self.endpoint.clone()),
            ("ATELIER_S3_REGION", self.region.clone()),
            ("ATELIER_S3_ACCESS_KEY_ID", self.access_key.clone()),
            ("ATELIER_S3_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("ATELIER_S3_ALLOW_HTTP", "true".into()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// The directory holding the bucket's objects (one file per key).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join(&self.bucket)
    }

    /// Every object in the bucket, `(key, stored bytes)`, sorted by key.
    pub fn objects(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let key = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    out.push((key, std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.bucket_dir(), &self.bucket_dir(), &mut out);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The keys of the objects under `prefix`.
    pub fn keys_under(&self, prefix: &str) -> Vec<String> {
        self.objects().into_iter().map(|(key, _)| key).filter(|key| key.starts_with(prefix)).collect()
    }
}

/// True once the port accepts connections; false when the process ended first.
async fn wait_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            eprintln!("s3s-fs exited ({status}): {stderr}");
            return false;
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    panic!("s3s-fs did not listen on port {port} within 10 s");
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestApp {
    /// The same database and keys, now storing objects in a fresh S3 server's bucket (kept alive
    /// by the returned server, which must outlive the app).
    pub async fn on_s3(self) -> (Self, S3Server) {
        let s3 = S3Server::start().await;
        let app = self.adjusted(|settings| s3.apply(settings)).await;
        (app, s3)
    }
}
