//! A worker: claims a job, runs its tool on the blocking pool, and meanwhile renews its lease,
//! publishes progress and listens for cancellation, every half second.

use std::sync::Arc;
use std::time::Duration;

use crate::ai_tools::queue::{Claimed, JobProgress, Lease, WorkerClass};
use crate::ai_tools::tools::{self, Failure};
use crate::ai_tools::{backoff, AiStore};
use crate::platform::db::now;

/// How often an idle worker looks for jobs queued by other processes.
const POLL: Duration = Duration::from_secs(1);
const HEARTBEAT: Duration = Duration::from_millis(500);

pub async fn run(store: Arc<AiStore>, worker: String, class: WorkerClass) {
    tracing::info!(%worker, class = class.label(), "AI worker started");
    loop {
        match store.db.claim_job_as(&worker, class, now(), store.settings.lease_secs).await {
            Ok(Some(job)) => process(&store, &worker, job).await,
            Ok(None) => {
                tokio::select! {
                    () = store.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "claiming a job failed");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Runs one claimed job to an end state. Public for tests that drive a worker step by step.
pub async fn process(store: &Arc<AiStore>, worker: &str, job: Claimed) {
    let id = job.id;
    if job.attempts > job.max_attempts {
        let message = format!("Stopped after {} attempts.", job.max_attempts);
        log_err(store.db.fail_job(id, worker, &message, None).await);
        return;
    }
    tracing::info!(job = %id, attempt = job.attempts, "job started");
    let started = std::time::Instant::now();
    let progress = Arc::new(JobProgress::default());
    // A batch item carries a whole pipeline, a generation asks an image service; any other job
    // is one tool.
    let mut task = if job.tool == crate::batch::PIPELINE {
        tokio::spawn(crate::batch::run::item(store.clone(), job.clone(), progress.clone()))
    } else if job.tool == crate::generate::GENERATE {
        tokio::spawn(crate::generate::run::job(store.clone(), job.clone(), progress.clone()))
    } else if job.tool == crate::search::INDEX {
        tokio::spawn(crate::search::index::job(store.clone(), job.clone(), progress.clone()))
    } else if job.tool == crate::people::PEOPLE_JOB {
        tokio::spawn(crate::people::run::job(store.clone(), job.clone(), progress.clone()))
    } else {
        tokio::spawn(tools::run(store.clone(), job.clone(), progress.clone()))
    };
    let mut tick = tokio::time::interval(HEARTBEAT);
    let lease = store.settings.lease_secs;
    let result = loop {
        tokio::select! {
            result = &mut task => break result,
            _ = tick.tick() => {
                match store.db.heartbeat_job(id, worker, progress.per_mille(), now() + lease, progress.take_step()).await {
                    Ok(Lease::Held { cancel_requested: true }) | Ok(Lease::Lost) => progress.cancel(),
                    Ok(Lease::Held { .. }) => {}
                    Err(error) => tracing::warn!(%error, job = %id, "renewing a job's lease failed"),
                }
            }
        }
    };
    let outcome = match &result {
        Ok(Ok(_)) => "done",
        Ok(Err(Failure::Cancelled)) => "cancelled",
        Ok(Err(Failure::Transient(_))) if job.attempts < job.max_attempts => "retried",
        Ok(Err(_)) => "failed",
        Err(_) => "panicked",
    };
    crate::platform::metrics::job_finished(&job.tool, outcome, started.elapsed());
    match result {
        Ok(Ok(outcome)) => match store.db.finish_job(id, worker, &outcome).await {
            Ok(true) => {
                if let Some(usage) = outcome.usage {
                    store.db.record_usage_or_log(job.owner, usage).await;
                }
                tracing::info!(job = %id, "job done");
            }
            Ok(false) => tools::discard(store, job.owner, &outcome).await,
            Err(error) => {
                tracing::error!(%error, job = %id, "recording a finished job failed");
                tools::discard(store, job.owner, &outcome).await;
            }
        },
        Ok(Err(Failure::Cancelled)) => log_err(store.db.mark_job_cancelled(id, worker).await),
        Ok(Err(Failure::Transient(message))) if job.attempts < job.max_attempts => {
            let retry_at = now() + backoff(job.attempts);
            tracing::warn!(job = %id, %message, retry_at, "job failed; it will be tried again");
            log_err(store.db.fail_job(id, worker, "Failed; trying again shortly.", Some(retry_at)).await);
        }
        Ok(Err(Failure::Transient(detail))) => {
            tracing::warn!(job = %id, %detail, "job failed for the last time");
            let message = format!("The tool failed {} times; it was not tried again.", job.attempts);
            log_err(store.db.fail_job(id, worker, &message, None).await);
        }
        Ok(Err(Failure::Permanent(message))) => {
            tracing::warn!(job = %id, %message, "job failed");
            log_err(store.db.fail_job(id, worker, &message, None).await);
        }
        Err(panic) => {
            tracing::error!(%panic, job = %id, "a tool panicked");
            log_err(store.db.fail_job(id, worker, "The tool failed unexpectedly.", None).await);
        }
    }
}

fn log_err(result: Result<(), sqlx::Error>) {
    if let Err(error) = result {
        tracing::error!(%error, "updating a job failed");
    }
}
