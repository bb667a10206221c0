//! The Atelier server: keeps the contracts `app` declares, one folder per feature with the same
//! name as in `app` (service, its queries in `repo.rs`, its routes), over the plumbing in
//! `platform/`. `Application::build` wires settings, database, storage and routes; `main.rs` only
//! parses the command line.

pub mod accounts;
pub mod ai_tools;
pub mod batch;
pub mod billing;
pub mod config;
pub mod data;
pub mod developer;
pub mod duplicates;
pub mod generate;
pub mod optimize;
pub mod people;
pub mod photos;
pub mod platform;
pub mod privacy;
pub mod search;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::accounts::Accounts;
use app::ai_tools::Ai;
use app::batch::Batches;
use app::data::Data;
use app::duplicates::Duplicates;
use app::generate::Generations;
use app::people::People;
use app::photos::Photos;
use app::privacy::Privacy;
use app::{shell, App};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::accounts::mail::Mailer;
use crate::accounts::oidc::Providers;
use crate::accounts::AccountStore;
use crate::ai_tools::{AiStore, JobSettings};
use crate::config::Settings;
use crate::data::retention::Retention;
use crate::data::DataStore;
use crate::photos::repo::Quota;
use crate::photos::{PhotoStore, Quotas};
use crate::platform::crypto::Keyring;
use crate::platform::db::Db;
use crate::platform::images::Images;
use crate::platform::links::Links;
use crate::platform::sessions::DbSessionStore;
use crate::platform::storage::Storage;
use crate::privacy::PrivacyStore;
use crate::state::AppState;

/// Pages and server functions take small bodies; only the upload route accepts large ones.
const PAGE_BODY_LIMIT: usize = 256 * 1024;
pub const SESSION_COOKIE: &str = "atelier_session";

pub struct Application {
    listener: TcpListener,
    router: Router,
    sessions: DbSessionStore,
    retention: Retention,
    data: Arc<DataStore>,
    ai: Arc<AiStore>,
    ai_workers: usize,
    /// `/metrics` on its own address (`[metrics] listen`), served by both run modes.
    metrics: Option<platform::metrics::Listener>,
    state: AppState,
}

/// The longest time between two retention sweeps (they usually run at the next due time).
const SWEEP_AT_LEAST_EVERY_SECS: i64 = 3600;

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.storage.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.storage.data_dir.display()))?;
        let db = Db::connect(settings.database_url().expose_secret()).await?;
        platform::lease::set_ttl(Duration::from_secs(settings.server.lease_secs));
        let keys = Keyring::load_or_create(&settings.storage.key_file)?;
        let storage = Storage::from_settings(&settings, keys).await.context("opening object storage")?;
        let links = Links::new(storage.keys(), settings.retention.download_link_secs);
        let saved_secs = settings.retention.saved_retention_days * 24 * 3600;
        let export_secs = settings.retention.export_retention_hours * 3600;
        let retention = Retention {
            db: db.clone(),
            storage: storage.clone(),
            unsaved_secs: settings.retention.unsaved_retention_hours * 3600,
            saved_secs,
            export_secs,
            api_log_secs: settings.developer.api_log_retention_days * 24 * 3600,
            reconcile: data::reconcile::Reconcile::for_settings(&settings),
        };
        let listener = TcpListener::bind(settings.server.addr)
            .await
            .with_context(|| format!("listening on {}", settings.server.addr))?;
        let addr = listener.local_addr()?;
        let platform::metrics::Serving { main: metrics_route, listener: metrics } =
            platform::metrics::Serving::from_settings(&settings.metrics, &db).await?;

        let leptos_options = LeptosOptions::builder()
            .output_name("atelier")
            .site_root(settings.server.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        // A Segment Anything model named in the settings must be there and be the one its hashes
        // name, or the server does not start.
        let sam = settings.checked_sam()?;
        let engine = ai_engine(&settings, sam);
        let moderation = match &engine {
            Ok(engine) if engine.is_installed(ai::moderation::OPEN_NSFW) => {
                Some(photos::Moderation { engine: engine.clone(), threshold: settings.ai.moderation_threshold })
            }
            _ => {
                tracing::warn!(
                    "the open-nsfw model is not installed: uploads are stored unchecked (run scripts/install-models)"
                );
                None
            }
        };
        let photos = Arc::new(PhotoStore {
            db: db.clone(),
            storage,
            images: Images::new(settings.limits.max_image_pixels),
            quotas: Quotas {
                account: Quota {
                    max_photos: settings.limits.max_photos_per_owner,
                    max_bytes: settings.limits.max_bytes_per_owner,
                },
                guest: Quota {
                    max_photos: settings.limits.max_photos_per_guest,
                    max_bytes: settings.limits.max_bytes_per_guest,
                },
            },
            links,
            saved_secs,
            warning_secs: settings.retention.expiry_warning_days * 24 * 3600,
            moderation,
            subjects: engine.as_ref().ok().cloned().map(photos::Subjects),
            zips: Default::default(),
        });
        let limits = Arc::new(platform::rate::RateLimits::new(&settings.limits));
        let sessions = DbSessionStore::new(db.clone());
        let accounts = Arc::new(AccountStore {
            db: db.clone(),
            sessions: sessions.clone(),
            mailer: Mailer::new(
                &settings.accounts.mail_from,
                settings.accounts.smtp_url.as_ref().map(|url| url.expose_secret()),
                settings.mail_dir(),
            )?,
            public_url: settings.server.public_url.clone(),
            providers: Arc::new(Providers::new(&settings.server.public_url, &settings.providers)?),
            keys: photos.storage.keys(),
            limits: limits.clone(),
        });
        let absolute_secs = settings.accounts.session_absolute_days * 24 * 3600;
        let hsts = settings.secure_cookies();
        let session_layer = SessionManagerLayer::new(sessions.clone())
            .with_name(SESSION_COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(settings.secure_cookies())
            .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::days(
                settings.accounts.session_idle_days,
            )));
        let vision = vision(&settings)?;
        let generation = generate::providers::Providers::from_settings(&settings.generation)?;
        let settings = Arc::new(settings);
        let privacy = Arc::new(PrivacyStore {
            db: db.clone(),
            settings: settings.clone(),
            moderation: photos.moderation.is_some(),
            vision_destination: vision.as_ref().map(ai_tools::vision::Vision::destination),
            image_services: generation.list.iter().map(|p| (p.name.clone(), p.destination())).collect(),
        });
        // Payments only in billing mode "stripe"; otherwise nothing is on sale and no route exists.
        let payments = billing::payments::PaymentStore::from_settings(&settings, db.clone(), accounts.clone())?;
        let data = Arc::new(DataStore {
            db: db.clone(),
            photos: photos.clone(),
            sessions: sessions.clone(),
            export_secs,
            payments: payments.clone(),
        });
        let ai = Arc::new(AiStore {
            db: db.clone(),
            photos: photos.clone(),
            engine,
            vision,
            generation,
            settings: job_settings(&settings),
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        let developer = Arc::new(developer::DeveloperStore {
            db: db.clone(),
            storage: photos.storage.clone(),
            accounts: accounts.clone(),
            limits: developer::keys::ApiLimits::new(&settings.developer),
        });
        let credits = Arc::new(billing::CreditStore { db: db.clone(), policy: ai.settings.credits.clone() });
        let ai_workers = settings.ai.ai_workers;
        let deadlines = platform::deadline::Limits::from_settings(&settings);
        let state = AppState {
            leptos_options,
            settings,
            db,
            photos,
            accounts,
            privacy,
            data: data.clone(),
            ai: ai.clone(),
            limits: limits.clone(),
            credits,
            developer,
        };

        let service: Photos = state.photos.clone();
        let account_service: Accounts = state.accounts.clone();
        let privacy_service: Privacy = state.privacy.clone();
        let data_service: Data = state.data.clone();
        let ai_service: Ai = state.ai.clone();
        let selection_service: app::ai_tools::Selections = state.ai.clone();
        let batch_service: Batches = Arc::new(batch::BatchStore { ai: state.ai.clone() });
        let generation_service: Generations = Arc::new(generate::GenerationStore { ai: state.ai.clone() });
        let people_service: People = Arc::new(people::PeopleStore { ai: state.ai.clone() });
        let search_service: app::search::Searches = Arc::new(search::SearchStore::new(state.ai.clone()));
        let payment_service: app::billing::checkout::Payments = match &payments {
            Some(payments) => payments.clone(),
            None => Arc::new(billing::payments::NoPayments),
        };
        let developer_service: app::developer::Developer = state.developer.clone();
        let billing_service: app::billing::Billing = state.credits.clone();
        let duplicate_service: Duplicates = Arc::new(duplicates::DuplicateStore { photos: state.photos.clone() });
        let provide_services = move || {
            platform::http::page_security_policy();
            provide_context(service.clone());
            provide_context(account_service.clone());
            provide_context(privacy_service.clone());
            provide_context(data_service.clone());
            provide_context(ai_service.clone());
            provide_context(selection_service.clone());
            provide_context(batch_service.clone());
            provide_context(generation_service.clone());
            provide_context(people_service.clone());
            provide_context(search_service.clone());
            provide_context(duplicate_service.clone());
            provide_context(payment_service.clone());
            provide_context(billing_service.clone());
            provide_context(developer_service.clone());
        };
        let pages = Router::new()
            .leptos_routes_with_context(&state, generate_route_list(App), provide_services.clone(), {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            })
            // The 404 page renders the whole shell too (account menu, consent banner): it needs
            // the same services.
            .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide_services, shell))
            .layer(axum::middleware::from_fn(platform::http::server_fn_status))
            .layer(axum::middleware::from_fn_with_state(deadlines, platform::deadline::enforce))
            .layer(RequestBodyLimitLayer::new(PAGE_BODY_LIMIT));
        let kept_state = state.clone();
        let api = developer::routes(state.clone());
        let router = pages
            .merge(photos::routes::routes())
            .merge(optimize::routes())
            .merge(ai_tools::routes::routes())
            .merge(batch::routes())
            .merge(people::routes::routes())
            .merge(data::export::routes())
            .merge(accounts::routes())
            .merge(privacy::routes())
            .merge(developer::v1::reference::routes())
            .merge(payments.map(billing::routes::routes::<AppState>).unwrap_or_default())
            .route("/healthz", axum::routing::get(platform::http::healthz))
            .layer(axum::middleware::from_fn_with_state(state.privacy.clone(), privacy::enforce))
            .layer(axum::middleware::from_fn_with_state(absolute_secs, accounts::enforce_absolute_timeout))
            .layer(session_layer)
            .layer(axum::middleware::from_fn_with_state(limits, platform::rate::per_client))
            .layer(axum::middleware::from_fn(platform::csrf::refuse_cross_site))
            .layer(axum::middleware::from_fn_with_state(hsts, platform::http::security_headers))
            .layer(TraceLayer::new_for_http())
            .with_state(state)
            .merge(api)
            .merge(metrics_route)
            // Outermost, on every route above (merge any new router before these): each response
            // gets a request id, and every request is counted under its route template.
            .layer(axum::middleware::from_fn(platform::metrics::record_request))
            .layer(axum::middleware::from_fn(platform::http::request_id));
        Ok(Self { listener, router, sessions, retention, data, ai, ai_workers, state: kept_state, metrics })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The retention sweeper, for tests that run it with their own clock.
    pub fn retention(&self) -> Retention {
        self.retention.clone()
    }

    /// Export, erasure and the audit log, for tests.
    pub fn data(&self) -> Arc<DataStore> {
        self.data.clone()
    }

    /// `atelier worker`: AI job workers only (at least one), no pages, until stopped. Several such
    /// processes, on other machines too, can share one Postgres database and object store.
    pub async fn run_workers_until_stopped(self) -> anyhow::Result<()> {
        let count = self.ai_workers.max(1);
        if let Some(metrics) = self.metrics {
            metrics.spawn();
        }
        ai_tools::spawn_workers(self.ai.clone(), count);
        tracing::info!(count, "AI workers running");
        shutdown_signal().await;
        platform::lease::hand_over(&self.state.db).await;
        Ok(())
    }

    /// The AI tools and their queue, for tests.
    pub fn ai(&self) -> Arc<AiStore> {
        self.ai.clone()
    }

    /// The complete router, for tests that drive it without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        if let Some(metrics) = self.metrics.take() {
            metrics.spawn();
        }
        ai_tools::spawn_workers(self.ai.clone(), self.ai_workers);
        tokio::spawn(sweeper(self.sessions.clone(), self.retention.clone(), self.data.clone(), self.state.clone()));
        tracing::info!(addr = %self.listener.local_addr()?, "Atelier is listening");
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        platform::lease::hand_over(&self.state.db).await;
        tracing::info!("Atelier stopped");
        Ok(())
    }
}

/// The cluster's periodic work, done by the one `serve` process holding the `sweeper` lease
/// (whichever of them took it first; another once its holder dies): expired sessions and the
/// retention sweep at their due times, and resuming the exports and webhook watches that a stopped
/// process left (each under its own lease, so none is done twice).
async fn sweeper(sessions: DbSessionStore, retention: Retention, data: Arc<DataStore>, state: AppState) {
    use platform::lease;
    let db = state.db.clone();
    let kept = lease::Kept::start(db.clone(), lease::SWEEPER.to_string(), lease::ttl(), None).await;
    let tick = (lease::ttl() / 3).max(Duration::from_secs(1));
    // The first sweep is at once: whatever fell due while no process held the lease goes now.
    let mut next_sweep = 0;
    loop {
        if kept.held() {
            match data::export::resume(&data).await {
                Ok(0) => {}
                Ok(resumed) => tracing::info!(resumed, "unfinished exports started again"),
                Err(error) => tracing::warn!(%error, "could not look for unfinished exports"),
            }
            developer::v1::webhooks::resume(state.clone());
            let now = platform::db::now();
            if now >= next_sweep {
                match db.lease_ran(lease::SWEEPER, lease::holder()).await {
                    Ok(true) => next_sweep = sweep(&sessions, &retention, now).await,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "counting a sweep failed; not sweeping now"),
                }
                // Leases lapsed a day ago (finished exports' and watches', dead workers').
                if let Err(error) = db.expire_leases(lease::now_ms() - 24 * 3600 * 1000).await {
                    tracing::warn!(%error, "removing lapsed leases failed");
                }
            }
        } else {
            next_sweep = 0;
        }
        let until_sweep = Duration::from_secs(u64::try_from(next_sweep - platform::db::now()).unwrap_or(0).max(1));
        tokio::select! {
            () = tokio::time::sleep(until_sweep.min(tick)) => {}
            () = kept.changed() => {}
        }
    }
}

/// Expired sessions and the retention sweep; returns when the next is due.
async fn sweep(sessions: &DbSessionStore, retention: &Retention, now: i64) -> i64 {
    match sessions.delete_expired().await {
        Ok(removed) => tracing::info!(removed, "expired sessions removed"),
        Err(error) => tracing::warn!(%error, "removing expired sessions failed"),
    }
    if let Err(error) = retention.sweep(now).await {
        tracing::warn!(%error, "the retention sweep failed; it runs again within the hour");
    }
    retention.next_sweep(platform::db::now(), SWEEP_AT_LEAST_EVERY_SECS).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "could not find the next due time; sweeping again within the hour");
        now + SWEEP_AT_LEAST_EVERY_SECS
    })
}

/// The AI engine, or why not (logged once; each job then says it); with the Segment Anything
/// model `Settings::checked_sam` checked, if any.
pub fn ai_engine(settings: &Settings, sam: Option<ai::segment::SamModels>) -> Result<Arc<ai::Engine>, String> {
    match ai::Engine::new(settings.engine()) {
        Ok(engine) => {
            let engine = engine.with_sam(sam);
            match engine.provider() {
                Ok(provider) => tracing::info!(provider = provider.label(), "ONNX Runtime loaded"),
                Err(error) => tracing::warn!(%error, "ONNX Runtime is not available; AI tools will say so"),
            }
            Ok(Arc::new(engine))
        }
        Err(error) => {
            tracing::warn!(%error, "AI models are not set up; AI tools will say so");
            Err(error.to_string())
        }
    }
}

pub fn job_settings(settings: &Settings) -> JobSettings {
    JobSettings {
        lease_secs: settings.ai.job_lease_secs.max(3),
        max_attempts: settings.ai.job_max_attempts.max(1),
        // A result must also be storable as a photo when it is saved.
        max_upscale_pixels: settings.ai.max_upscale_pixels.min(settings.limits.max_image_pixels),
        max_active_per_owner: settings.limits.queued_jobs_per_owner.max(1),
        credits: billing::CreditPolicy::from_settings(&settings.billing),
        worker_gpu: settings.ai.worker_gpu,
    }
}

fn vision(settings: &Settings) -> anyhow::Result<Option<ai_tools::vision::Vision>> {
    settings
        .ai
        .vision_url
        .as_deref()
        .map(|url| ai_tools::vision::Vision::new(url, settings.ai.vision_key.clone(), settings.ai.vision_model.clone()))
        .transpose()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
