//! The real `atelier` binary as its own process (`serve` or `worker`) on a test's database, files
//! and keys, over TCP on a loopback port: for the tests that need several processes or kill one
//! with SIGKILL. Stopped (SIGKILL) when dropped.

use std::time::Duration;

use super::TestApp;

pub struct RealProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

/// A free loopback port (free again once the probe is dropped; the process binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A client that follows no redirects and keeps no cookies (tests send them themselves).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

impl RealProcess {
    /// `atelier serve` with `env` on top of the test's settings; waits for `/healthz`.
    pub async fn serve(app: &TestApp, env: &[(&str, &str)]) -> Self {
        Self::start(app, "serve", env).await
    }

    /// `atelier worker` with `env` on top of the test's settings; waits for its `/healthz`.
    pub async fn worker(app: &TestApp, env: &[(&str, &str)]) -> Self {
        Self::start(app, "worker", env).await
    }

    async fn start(app: &TestApp, command: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut process = app.atelier(command);
        process.env("ATELIER_ADDR", format!("127.0.0.1:{port}"));
        for (name, value) in env {
            process.env(name, value);
        }
        let child = process.spawn().expect("atelier starts");
        let started = Self { child, base: format!("http://127.0.0.1:{port}") };
        if command == "serve" {
            started.wait_healthy().await;
        }
        started
    }

    async fn wait_healthy(&self) {
        let client = client();
        for _ in 0..300 {
            if client.get(format!("{}/healthz", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("atelier did not answer /healthz at {} within 30 s", self.base);
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// SIGKILL: no shutdown handler runs, as when a machine loses power.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        let _ = self.child.wait().await;
    }

    /// Resident memory in kB, from /proc.
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("reading /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}
