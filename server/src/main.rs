//! `atelier [serve|worker|migrate|make-admin EMAIL|rotate-keys|backup DIR|restore DIR]`: starts
//! the server (the default),
//! runs AI job workers only (`worker`, for scale; the server has its own unless
//! `ATELIER_AI_WORKERS=0`), only
//! applies migrations, makes the account with that e-mail an administrator, or rotates the
//! key-encryption key (re-wrapping every stored object's data key, then retiring unused keys), or
//! backs up / restores the embedded setup (`server::data::backup`).

// The pages' view types nest deeply (the workspace page most); rustc's default limit (128) is too
// low for their layouts, as in `frontend`.
#![recursion_limit = "256"]

use std::process::ExitCode;

use secrecy::ExposeSecret;
use server::config::{LogFormat, Settings};
use server::platform::db::Db;
use server::Application;
use tracing_subscriber::EnvFilter;

/// mimalloc, not glibc's malloc: under the load test glibc kept a 64 MiB arena per busy thread,
/// full of freed image buffers, and the server's memory grew for minutes (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: atelier [serve|worker|migrate|make-admin EMAIL|rotate-keys|backup DIR|restore DIR]\n\nSettings come from atelier.toml (or ATELIER_CONFIG) and ATELIER_* variables.";

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("atelier: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.server.log_filter));
    // JSON: one object per line, the request id among its spans' fields.
    match settings.server.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
    }

    let command = std::env::args().nth(1);
    let outcome = match command.as_deref() {
        None | Some("serve") => {
            tracing::info!(?settings, "starting");
            match Application::build(settings).await {
                Ok(app) => app.run_until_stopped().await,
                Err(error) => Err(error),
            }
        }
        Some("worker") => {
            // Pages are not served: the listener only takes a free loopback port it never uses.
            let mut settings = settings;
            settings.server.addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            match Application::build(settings).await {
                Ok(app) => app.run_workers_until_stopped().await,
                Err(error) => Err(error),
            }
        }
        Some("migrate") => {
            Db::connect(settings.database_url().expose_secret()).await.map(|_| tracing::info!("migrations applied"))
        }
        Some("make-admin") => match std::env::args().nth(2) {
            Some(email) => make_admin(&settings, &email).await,
            None => {
                eprintln!("atelier: make-admin needs the account's e-mail address\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("rotate-keys") => rotate_keys(&settings).await,
        Some(command @ ("backup" | "restore")) => match std::env::args().nth(2) {
            Some(dir) if command == "backup" => backup(&settings, std::path::Path::new(&dir)).await,
            Some(dir) => restore(&settings, std::path::Path::new(&dir)).await,
            None => {
                eprintln!("atelier: {command} needs a directory\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprintln!("atelier: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The first administrator comes from here (later ones too): no page can make one.
async fn make_admin(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let email = server::accounts::normalize_email(email).map_err(|error| anyhow::anyhow!("{error}"))?;
    let db = Db::connect(settings.database_url().expose_secret()).await?;
    if db.grant_admin(&email).await? {
        println!("{email} is now an administrator");
        Ok(())
    } else {
        anyhow::bail!("no account has the e-mail address {email}")
    }
}

/// New KEK, every data key re-wrapped with it, then the old KEKs dropped from the keyring.
/// Safe to run again after an interruption: objects already re-wrapped are skipped. Run once
/// after upgrading from a version without encryption at rest: it seals the plain objects too.
async fn rotate_keys(settings: &Settings) -> anyhow::Result<()> {
    let keys = server::platform::crypto::Keyring::load(&settings.storage.key_file)?;
    let old = keys.ids();
    let storage = server::platform::storage::Storage::from_settings(settings, keys).await?;
    let (active, done) = storage.rotate().await?;
    println!(
        "active key is now {active}: {} objects re-wrapped, {} already current, {} stored before encryption now sealed",
        done.rewrapped, done.already_current, done.sealed_legacy
    );
    for id in old {
        if storage.retire(&id).await? {
            println!("retired {id}");
        } else {
            println!("kept {id}: some object still uses it");
        }
    }
    Ok(())
}

/// The keyring warning goes to stderr after the summary, where an operator's script shows it.
async fn backup(settings: &Settings, dir: &std::path::Path) -> anyhow::Result<()> {
    let done = server::data::backup::backup(settings, dir).await?;
    let manifest = &done.manifest;
    let bytes: u64 = manifest.objects.iter().map(|o| o.bytes).sum::<u64>() + manifest.database.bytes;
    println!(
        "backed up to {}: the database ({} photos, {} saved versions, {} accounts) and {} objects, {} bytes in all; \
         objects need key(s) {}",
        dir.display(),
        manifest.rows.get("photos").copied().unwrap_or(0),
        manifest.rows.get("versions").copied().unwrap_or(0),
        manifest.rows.get("accounts").copied().unwrap_or(0),
        manifest.objects.len(),
        bytes,
        manifest.required_key_ids.join(", ")
    );
    if done.vanished > 0 {
        println!("{} objects were deleted while being copied and are left out", done.vanished);
    }
    if done.unsealed > 0 {
        println!("{} objects are not encrypted yet: run `atelier rotate-keys` to seal them", done.unsealed);
    }
    eprintln!("{}", server::data::backup::keyring_warning(settings));
    Ok(())
}

async fn restore(settings: &Settings, dir: &std::path::Path) -> anyhow::Result<()> {
    let manifest = server::data::backup::restore(settings, dir).await?;
    println!(
        "restored {} objects and the database from {} (made by Atelier {} at unix time {}) into {}; start the server \
         as usual",
        manifest.objects.len(),
        dir.display(),
        manifest.atelier_version,
        manifest.created_at,
        settings.storage.data_dir.display()
    );
    Ok(())
}
