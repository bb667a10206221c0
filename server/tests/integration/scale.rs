//! Scale-out (issue 20): several `atelier` processes on one database and one object store. The
//! cluster's leases (one holder, handed over when it lapses), the queue's claim by worker class,
//! and two `serve` plus two `worker` processes on one database and one S3 server, driven over
//! HTTP like a load balancer spreading requests.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use app::ids::{JobId, OwnerId, PhotoId};
use serde_json::{json, Value};
use server::ai_tools::queue::{NewJob, WorkerClass, GPU_WAIT_SECS};
use server::platform::db::{now, Db};
use server::platform::lease::{self, run_held};
use sqlx::Row;
use uuid::Uuid;

use crate::support::process::{client, RealProcess};
use crate::support::{fixture, form, mailed_token, settle_background_jobs, TestApp, PASSWORD};

async fn leases_have_one_holder_and_pass_on_when_they_lapse(app: TestApp) {
    let db = app.ai.db.clone();
    let long = Duration::from_secs(60);

    // Eight holders ask at once: exactly one gets it.
    let asks: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.try_lease("race", &format!("holder-{i}"), long, None).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for ask in asks {
        won += usize::from(ask.await.unwrap());
    }
    assert_eq!(won, 1, "one holder of eight");
    let row = db.lease("race").await.unwrap().expect("the lease is recorded");
    assert!(row.holder.starts_with("holder-"), "{row:?}");
    // Its holder renews it; nobody else gets it, nor does this process's `run_held`.
    assert!(db.try_lease("race", &row.holder, long, None).await.unwrap());
    assert!(!db.try_lease("race", "someone-else", long, None).await.unwrap());
    assert_eq!(run_held(&db, "race", long, async { "ran" }).await.unwrap(), None, "not run under another's lease");

    // A holder that stops renewing (killed) keeps it only until it lapses; then the next takes it
    // and the old holder may no longer count a run of the work.
    assert!(db.try_lease("short", "killed", Duration::from_millis(300), None).await.unwrap());
    assert!(!db.try_lease("short", "next", long, None).await.unwrap(), "not before it lapses");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(db.try_lease("short", "next", long, None).await.unwrap(), "taken over once lapsed");
    assert!(!db.lease_ran("short", "killed").await.unwrap());
    assert!(db.lease_ran("short", "next").await.unwrap());
    let row = db.lease("short").await.unwrap().unwrap();
    assert_eq!((row.holder.as_str(), row.runs), ("next", 1), "the count of runs survives the handover");

    // `run_held`: run once, counted, released so the next need not wait.
    assert_eq!(run_held(&db, "work", long, async { 7 }).await.unwrap(), Some(7));
    let row = db.lease("work").await.unwrap().unwrap();
    assert_eq!((row.holder.as_str(), row.runs), (lease::holder(), 1));
    assert!(row.until_ms < lease::now_ms(), "released: {row:?}");
    assert!(db.try_lease("work", "another-process", long, None).await.unwrap());

    // Work that outlives its time to live keeps the lease by renewing it.
    let kept = run_held(&db, "slow", Duration::from_millis(600), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        "done"
    });
    let (done, refused) = tokio::join!(kept, async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        db.try_lease("slow", "thief", Duration::from_secs(1), None).await.unwrap()
    });
    assert_eq!(done.unwrap(), Some("done"));
    assert!(!refused, "a renewed lease is not taken");

    // Two tasks of one process (a resume finding what this process already runs): one runs.
    let (first, second) = tokio::join!(
        run_held(&db, "once", long, tokio::time::sleep(Duration::from_millis(300))),
        run_held(&db, "once", long, async {})
    );
    assert_eq!((first.unwrap(), second.unwrap()), (Some(()), None));
    assert_eq!(db.lease("once").await.unwrap().unwrap().runs, 1);

    // Lapsed leases go a day later.
    db.expire_leases(lease::now_ms()).await.unwrap();
    assert!(db.lease("work").await.unwrap().is_some(), "still held by another-process");
    assert!(db.lease("slow").await.unwrap().is_none(), "released and expired");
}

async fn owner_of(db: &Db, photo: &str) -> OwnerId {
    let row = sqlx::query("SELECT owner_id FROM photos WHERE id = $1").bind(photo).fetch_one(db.pool()).await.unwrap();
    row.get::<String, _>("owner_id").parse().unwrap()
}

async fn queue(db: &Db, owner: OwnerId, photo: PhotoId, tool: &str) -> JobId {
    let id = JobId(Uuid::new_v4());
    let job = NewJob { id, owner, photo, tool, params: "{}", mask_key: None, max_attempts: 3 };
    assert!(db.enqueue_job(&job, 100).await.unwrap(), "queued");
    id
}

async fn claimed_tool(db: &Db, class: WorkerClass, at: i64) -> Option<String> {
    db.claim_job_as(&format!("test-{}", class.label()), class, at, 60).await.unwrap().map(|job| job.tool)
}

async fn gpu_worthy_jobs_go_to_gpu_workers_first_and_never_starve(app: TestApp) {
    let (_cookie, photo) = app.new_owner_with_photo("coffee.png").await;
    settle_background_jobs(&app).await;
    let db = app.ai.db.clone();
    let photo_id: PhotoId = photo["id"].as_str().unwrap().parse().unwrap();
    let owner = owner_of(&db, photo["id"].as_str().unwrap()).await;
    assert!(server::ai_tools::tools::gpu_worthy_tools().contains(&"upscale"));
    assert!(!server::ai_tools::tools::gpu_worthy_tools().contains(&"describe"));

    // A CPU-only install: the small job first, then the big one all the same.
    queue(&db, owner, photo_id, "upscale").await;
    queue(&db, owner, photo_id, "describe").await;
    let at = now();
    assert_eq!(claimed_tool(&db, WorkerClass::Cpu, at).await.as_deref(), Some("describe"));
    assert_eq!(claimed_tool(&db, WorkerClass::Cpu, at).await.as_deref(), Some("upscale"), "no GPU worker: CPU runs it");

    // A GPU worker is alive (its process keeps `worker:<holder>` with detail "gpu").
    assert!(db.try_lease("worker:gpu-box", "gpu-box", Duration::from_secs(60), Some("gpu")).await.unwrap());
    queue(&db, owner, photo_id, "describe").await;
    queue(&db, owner, photo_id, "upscale").await;
    let at = now();
    assert_eq!(
        claimed_tool(&db, WorkerClass::Gpu, at).await.as_deref(),
        Some("upscale"),
        "the GPU takes the big job first"
    );
    queue(&db, owner, photo_id, "upscale").await;
    let at = now();
    assert_eq!(claimed_tool(&db, WorkerClass::Cpu, at).await.as_deref(), Some("describe"));
    assert_eq!(claimed_tool(&db, WorkerClass::Cpu, at).await, None, "the big job waits for the GPU worker");
    // …but not for ever.
    assert_eq!(
        claimed_tool(&db, WorkerClass::Cpu, at + GPU_WAIT_SECS + 1).await.as_deref(),
        Some("upscale"),
        "a job that waited {GPU_WAIT_SECS} s goes to a CPU worker"
    );
    // A GPU worker takes small jobs when no big one waits.
    queue(&db, owner, photo_id, "describe").await;
    assert_eq!(claimed_tool(&db, WorkerClass::Gpu, now()).await.as_deref(), Some("describe"));
    // The GPU worker gone (its lease lapsed or was given up): CPU workers take big jobs at once.
    queue(&db, owner, photo_id, "upscale").await;
    db.release_lease("worker:gpu-box", "gpu-box").await.unwrap();
    assert_eq!(claimed_tool(&db, WorkerClass::Cpu, now()).await.as_deref(), Some("upscale"));
}

// --- several processes ---

async fn call(base: &str, endpoint: &str, cookie: Option<&str>, body: String, json: bool) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/api/{endpoint}"))
        .header("accept", "application/json")
        .header("content-type", if json { "application/json" } else { "application/x-www-form-urlencoded" })
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn session_cookie(reply: &reqwest::Response) -> Option<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(server::SESSION_COOKIE))
        .and_then(|value| value.split(';').next())
        .map(str::to_string)
}

async fn ok_json(reply: reqwest::Response) -> Value {
    let status = reply.status();
    let text = reply.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(db.pool()).await.unwrap().get("n")
}

fn refs(all: &[(String, String)]) -> Vec<(&str, &str)> {
    all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The pid in a holder (`<host>:<pid>:<random>`) or worker id (`<pid>-<n>-<random>`).
fn pid_in(name: &str) -> u32 {
    let part = if name.contains(':') { name.split(':').nth(1) } else { name.split('-').next() };
    part.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no pid in {name}"))
}

/// Polls `$check` (an expression, re-evaluated) every 200 ms until true; panics after `$secs`.
macro_rules! wait_until {
    ($what:expr, $secs:expr, $check:expr) => {{
        let deadline = Instant::now() + Duration::from_secs($secs);
        while !$check {
            assert!(Instant::now() < deadline, "{}: not within {} s", $what, $secs);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

async fn two_web_and_two_worker_processes_share_one_database_and_store(app: TestApp) {
    let (app, s3) = app.on_s3().await;
    let db = app.ai.db.clone();
    // An export a stopped server left unfinished: the cluster resumes it once.
    let email = "scale@example.com";
    let account = crate::support::account(&app, None, email).await;
    drop(account);
    let row = sqlx::query("SELECT id, owner_id FROM accounts WHERE email = $1").bind(email).fetch_one(db.pool()).await;
    let row = row.unwrap();
    let export = Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO export_jobs (id, account_id, owner_id, state, progress, created_at) VALUES ($1, $2, $3, 'running', 0, $4)")
        .bind(&export)
        .bind(row.get::<String, _>("id"))
        .bind(row.get::<String, _>("owner_id"))
        .bind(now())
        .execute(db.pool())
        .await
        .unwrap();

    let mut env: Vec<(String, String)> = s3.env();
    // Short leases, so a killed process's work passes on within seconds.
    env.push(("ATELIER_LEASE_SECS".into(), "3".into()));
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(String, String)> = env.clone();
        all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        all
    };
    let web_env = with(&[("ATELIER_AI_WORKERS", "0")]);
    let gpu_env = with(&[("ATELIER_AI_WORKERS", "2"), ("ATELIER_WORKER_GPU", "yes")]);
    let cpu_env = with(&[("ATELIER_AI_WORKERS", "2"), ("ATELIER_WORKER_GPU", "no")]);
    let (web_env, gpu_env, cpu_env) = (refs(&web_env), refs(&gpu_env), refs(&cpu_env));
    let (web_a, web_b) = tokio::join!(RealProcess::serve(&app, &web_env), RealProcess::serve(&app, &web_env));
    let gpu = RealProcess::worker(&app, &gpu_env).await;
    let cpu = RealProcess::worker(&app, &cpu_env).await;
    let webs = [&web_a, &web_b];
    let web_pids: BTreeSet<u32> = webs.iter().map(|w| w.pid()).collect();

    // The sweeps ran once for the two web processes, by one of them (the next is due 15 s or more
    // later); the workers never sweep.
    wait_until!("a first sweep", 30, db.lease(lease::SWEEPER).await.unwrap().is_some_and(|row| row.runs >= 1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sweeper = db.lease(lease::SWEEPER).await.unwrap().expect("the sweeper lease");
    assert_eq!(sweeper.runs, 1, "one sweep at start-up, not one per process: {sweeper:?}");
    let leader = pid_in(&sweeper.holder);
    assert!(web_pids.contains(&leader), "{sweeper:?}");
    // Each worker process says it is alive, and what it is.
    let workers = "SELECT COUNT(*) AS n FROM leases WHERE name LIKE 'worker:%'";
    wait_until!("both workers' leases", 60, count(&db, workers).await == 2);
    let gpu_leases = count(&db, "SELECT COUNT(*) AS n FROM leases WHERE name LIKE 'worker:%' AND detail = 'gpu'").await;
    assert_eq!(gpu_leases, 1);

    // A session made on A is valid on B: sign up through A, confirm through B in the same browser.
    let email = "spread@example.com";
    let form_body = form(&[("email", email), ("password", PASSWORD), ("display_name", "Ada")]);
    let signed_up = call(&web_a.base, "auth/signup", None, form_body, false).await;
    let cookie = session_cookie(&signed_up).expect("signing up starts a session");
    ok_json(signed_up).await;
    let token = mailed_token(&app, email, "verify").await;
    let verified = call(&web_b.base, "auth/verify", Some(&cookie), form(&[("token", &token)]), false).await;
    let cookie = session_cookie(&verified).expect("confirming signs in");
    ok_json(verified).await;

    // An upload through A is served by B, the same bytes.
    let original = fixture("coffee.png");
    let uploaded = client()
        .post(format!("{}/api/photos", web_a.base))
        .header("cookie", &cookie)
        .header("x-file-name", "coffee.png")
        .header("content-type", "image/png")
        .body(original.clone())
        .send()
        .await
        .unwrap();
    let photo = ok_json(uploaded).await;
    let photo_id = photo["id"].as_str().unwrap().to_string();
    let listed = ok_json(call(&web_b.base, "photos/list", Some(&cookie), String::new(), false).await).await;
    let on_b = listed.as_array().unwrap().iter().find(|p| p["id"] == photo["id"]).cloned().expect("B lists it");
    let mut served = Vec::new();
    for web in [&web_b, &web_a] {
        let reply = client()
            .get(format!("{}{}", web.base, on_b["original_url"].as_str().unwrap()))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        served.push(reply.bytes().await.unwrap().to_vec());
    }
    assert!(served[0] == served[1], "B serves the bytes A serves");
    // The stored original is the upload's pixels (its metadata may be stripped).
    let pixels = |bytes: &[u8]| image::load_from_memory(bytes).unwrap().to_rgba8();
    assert!(pixels(&served[0]) == pixels(&original), "the pixels uploaded through A");
    assert!(!s3.keys_under("owners/").is_empty(), "the objects are in the S3 bucket");

    // AI jobs queued through both: each claimed once; the big ones by the GPU worker.
    let mut jobs = Vec::new();
    // Two upscales for the GPU worker's two slots (a third would wait, and after 30 s a CPU worker
    // would rightly take it).
    for (i, tool) in ["upscale", "describe", "upscale", "describe", "describe"].into_iter().enumerate() {
        let request = if tool == "upscale" {
            json!({ "tool": "upscale", "factor": 2, "quality": "fast" })
        } else {
            json!({ "tool": tool })
        };
        let body = json!({ "photo": photo_id, "request": request }).to_string();
        let job = ok_json(call(&webs[i % 2].base, "ai/start", Some(&cookie), body, true).await).await;
        jobs.push((job["id"].as_str().unwrap().to_string(), tool));
    }
    let ids: Vec<&str> = jobs.iter().map(|(id, _)| id.as_str()).collect();
    for web in webs {
        // Progress and results are seen from both web processes.
        let jobs_on = || async {
            let listed = call(&web.base, "ai/jobs", Some(&cookie), form(&[("photo", &photo_id)]), false).await;
            let listed = ok_json(listed).await.as_array().cloned().unwrap_or_default();
            let mine: Vec<Value> = listed.into_iter().filter(|j| ids.iter().any(|id| j["id"] == *id)).collect();
            assert_eq!(mine.len(), ids.len(), "{mine:?}");
            assert!(mine.iter().all(|j| j["state"] != "failed"), "{mine:?}");
            mine
        };
        wait_until!(
            "every job done, seen from each web process",
            300,
            jobs_on().await.iter().all(|j| j["state"] == "done" && j["progress"] == 1.0)
        );
    }
    let mut by_process: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (id, tool) in &jobs {
        let row = sqlx::query("SELECT attempts, ran_by, result_key, owner_id FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<i64, _>("attempts"), 1, "job {id} ({tool}) was claimed once");
        let ran_by: String = row.get("ran_by");
        by_process.entry(pid_in(&ran_by)).or_default().push(tool);
        let owner: String = row.get("owner_id");
        let results = s3.keys_under(&format!("owners/{owner}/jobs/{id}/"));
        if *tool == "upscale" {
            let recorded: String = row.get("result_key");
            assert!(results.contains(&recorded), "{recorded} in the bucket: {results:?}");
            assert_eq!(results.len(), 2, "one result and its thumbnail, not one per process: {results:?}");
            assert!(results.iter().all(|key| key.ends_with("-1")), "{results:?}");
        } else {
            assert!(results.is_empty(), "a description is text, no file: {results:?}");
        }
    }
    let (gpu_pid, cpu_pid) = (gpu.pid(), cpu.pid());
    assert!(by_process.keys().all(|pid| [gpu_pid, cpu_pid].contains(pid)), "only the workers ran jobs: {by_process:?}");
    assert!(
        by_process.get(&gpu_pid).is_some_and(|tools| tools.iter().filter(|t| **t == "upscale").count() == 2),
        "the GPU worker ran the upscales: {by_process:?}"
    );

    // The unfinished export was resumed by one process, once.
    let export_state = || async {
        let row = sqlx::query("SELECT state FROM export_jobs WHERE id = $1").bind(&export).fetch_one(db.pool()).await;
        row.unwrap().get::<String, _>("state")
    };
    wait_until!("the unfinished export is built", 120, export_state().await == "done");
    let built = db.lease(&format!("export:{export}")).await.unwrap().expect("built under its lease");
    assert_eq!(built.runs, 1, "built once, not once per process: {built:?}");
    assert!(web_pids.contains(&pid_in(&built.holder)), "{built:?}");

    let swept = db.lease(lease::SWEEPER).await.unwrap().unwrap().runs;
    // The sweeping process killed: the other takes over within the lease's time to live and
    // sweeps at once.
    let (mut leader_process, other) = if web_a.pid() == leader { (web_a, web_b) } else { (web_b, web_a) };
    leader_process.kill9().await;
    wait_until!(
        "the other web process takes the sweeps over",
        15,
        db.lease(lease::SWEEPER)
            .await
            .unwrap()
            .is_some_and(|row| pid_in(&row.holder) == other.pid() && row.runs > swept)
    );
    // And the survivor still serves the session made on the dead one.
    let listed = ok_json(call(&other.base, "photos/list", Some(&cookie), String::new(), false).await).await;
    assert!(listed.as_array().unwrap().iter().any(|p| p["id"] == photo["id"]));

    // A worker stopped cleanly (SIGTERM) hands its lease over at once, not after its 60 s: CPU
    // workers then take GPU-worthy jobs without waiting.
    let gpu_alive = "SELECT COUNT(*) AS n FROM leases WHERE name LIKE 'worker:%' AND detail = 'gpu' AND until_ms >= ";
    assert_eq!(count(&db, &format!("{gpu_alive}{}", lease::now_ms())).await, 1);
    let stopped = std::process::Command::new("kill").arg("-TERM").arg(gpu.pid().to_string()).status().unwrap();
    assert!(stopped.success());
    wait_until!("the stopped GPU worker's lease is given up", 10, {
        count(&db, &format!("{gpu_alive}{}", lease::now_ms())).await == 0
    });
    drop((other, gpu, cpu, s3));
}

on_both_databases!(
    leases_have_one_holder_and_pass_on_when_they_lapse,
    gpu_worthy_jobs_go_to_gpu_workers_first_and_never_starve,
    two_web_and_two_worker_processes_share_one_database_and_store,
);
