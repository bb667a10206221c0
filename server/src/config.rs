//! One `Settings` for the whole server: embedded defaults, then an optional TOML file, then
//! `ATELIER_*` environment variables. Everything has a default, so zero configuration works.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[server]` in the settings file.
    pub server: ServerSettings,
    /// `[storage]` in the settings file.
    pub storage: StorageSettings,
    /// `[limits]` in the settings file.
    pub limits: LimitSettings,
    /// `[accounts]` in the settings file.
    pub accounts: AccountSettings,
    /// `[retention]` in the settings file.
    pub retention: RetentionSettings,
    /// `[privacy]` in the settings file.
    pub privacy: PrivacySettings,
    /// `[ai]` in the settings file.
    pub ai: AiSettings,
    /// Sign-in providers (`[[providers]]` tables in the settings file).
    pub providers: Vec<ProviderSettings>,
    /// `[generation]` and its `[[generation.providers]]`: image services for the studio.
    pub generation: GenerationSettings,
    /// `[billing]`: credits, what each tool costs, allowances (off by default).
    pub billing: BillingSettings,
    /// `[developer]`: API keys and the call log.
    pub developer: DeveloperSettings,
    /// `[metrics]`: where Prometheus scrapes `/metrics` (not served unless set).
    pub metrics: MetricsSettings,
}

/// `/metrics` is served on `listen` (its own listener, for a private network), and/or on the
/// main listener for requests bearing `token`; with neither, nowhere.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    pub listen: Option<SocketAddr>,
    /// A bearer token `/metrics` requires (on both listeners when set).
    pub token: Option<SecretString>,
}

impl MetricsSettings {
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.token.is_some()
    }
}

/// How log lines are written: readable text, or one JSON object per line for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not a log format (text or json)")),
        }
    }
}

/// Where it listens and how it is reached, what it serves, its log and its time limits.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// The URL people use to reach Atelier; `https://` turns on Secure cookies.
    pub public_url: String,
    /// Where the compiled site (WASM, CSS, static files) is served from.
    pub site_root: PathBuf,
    pub log_filter: String,
    /// `text` (the default) or `json`.
    pub log_format: LogFormat,
    /// A page must be rendered whole within this many seconds, or it is answered 503 and its
    /// render dropped (a stalled render then costs one error, not its memory for good).
    pub page_timeout_secs: u64,
    /// The same limit for a server function's answer.
    pub server_fn_timeout_secs: u64,
    /// Work done once for all the processes sharing the database (the sweeps, resuming exports and
    /// webhook watches) is held under a lease this long, renewed every third of it: a process that
    /// died hands its work over after at most this many seconds.
    pub lease_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: "http://127.0.0.1:3000".into(),
            site_root: PathBuf::from("target/site"),
            log_filter: "info,atelier=debug,server=debug".into(),
            log_format: LogFormat::Text,
            page_timeout_secs: 10,
            // Saving an edit replays it on the full-resolution original, which takes seconds.
            server_fn_timeout_secs: 60,
            // Short enough that a restarted single server resumes its work within seconds.
            lease_secs: 15,
        }
    }
}

/// Where the data, the database, the objects and the keyring live.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Everything Atelier keeps on disk lives under here by default.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to a SQLite file in `data_dir`. May hold a password.
    pub database_url: Option<SecretString>,
    /// Where stored objects go; defaults to `data_dir/objects`.
    pub storage_dir: Option<PathBuf>,
    /// Where stored objects go, as a URL: a local path (as `storage_dir`, which it overrides) or
    /// `s3://bucket[/prefix]` with `[storage.s3]`.
    pub url: Option<String>,
    /// `[storage.s3]`: the S3-compatible server for an `s3://` URL.
    pub s3: S3Settings,
    /// The keyring with the key-encryption keys and the link-signing key. Kept outside
    /// `data_dir` on purpose: a copy of the data alone reveals nothing.
    pub key_file: PathBuf,
}

/// An S3 bucket's server and credentials. Objects are sealed before they leave Atelier, so the
/// bucket's operator never sees a readable photo.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// A self-hosted or other S3-compatible server (`https://s3.example.net`), addressed
    /// path-style; without it, AWS itself, addressed virtual-hosted style.
    pub endpoint: Option<String>,
    pub region: String,
    /// Both or neither; without them, the machine's own role (EC2 instance metadata) is used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Plain `http://` endpoints are refused unless this is set: only for a server on the same
    /// machine or a private network, since the credentials' signatures and sealed objects cross it.
    pub allow_http: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }
}

/// Where the objects are, from `[storage] url` (or `storage_dir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageLocation {
    Local(PathBuf),
    /// `prefix` is empty or a path without leading or trailing slashes.
    S3 {
        bucket: String,
        prefix: String,
    },
}

impl fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            storage_dir: None,
            url: None,
            s3: S3Settings::default(),
            key_file: PathBuf::from("keys/keyring"),
        }
    }
}

/// What one upload, one image and one workspace may take.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    pub max_upload_bytes: u64,
    /// Width × height above which an image is refused before it is decoded.
    pub max_image_pixels: u64,
    pub max_photos_per_owner: u64,
    pub max_bytes_per_owner: u64,
    /// Guest workspaces (no account) get their own, smaller quota.
    pub max_photos_per_guest: u64,
    pub max_bytes_per_guest: u64,
    /// Sign-in attempts a minute from one client address, and to one account from anywhere.
    pub sign_ins_per_minute_per_ip: u32,
    pub sign_ins_per_minute_per_account: u32,
    /// Mails (sign-up, confirmation, reset) an hour asked from one client address, and sent to
    /// one address.
    pub mails_per_hour_per_ip: u32,
    pub mails_per_hour_per_address: u32,
    /// Uploads and password hashes in progress at once, server-wide; beyond, 503 + Retry-After.
    pub concurrent_uploads: usize,
    pub concurrent_password_hashes: usize,
    /// AI jobs queued or running per workspace.
    pub queued_jobs_per_owner: u64,
    /// AI tools, generation runs and batches one client address may start an hour.
    pub jobs_per_hour_per_ip: u32,
    /// Take the client address from the last `X-Forwarded-For` hop (only behind a proxy that
    /// sets it; otherwise anyone could pick their own address).
    pub trust_forwarded_for: bool,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 40 * 1024 * 1024,
            max_image_pixels: 64_000_000,
            max_photos_per_owner: 2_000,
            max_bytes_per_owner: 10 * 1024 * 1024 * 1024,
            max_photos_per_guest: 200,
            max_bytes_per_guest: 1024 * 1024 * 1024,
            sign_ins_per_minute_per_ip: 20,
            sign_ins_per_minute_per_account: 10,
            mails_per_hour_per_ip: 20,
            mails_per_hour_per_address: 5,
            concurrent_uploads: 8,
            concurrent_password_hashes: 4,
            queued_jobs_per_owner: 20,
            jobs_per_hour_per_ip: 300,
            trust_forwarded_for: false,
        }
    }
}

/// Sessions and mail.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// Sessions end after this long without a request.
    pub session_idle_days: i64,
    /// A signed-in session ends this long after signing in, however active.
    pub session_absolute_days: i64,
    /// `smtps://user:password@host` to send e-mail; without it mail is written to `data_dir/mail`.
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_idle_days: 14,
            session_absolute_days: 30,
            smtp_url: None,
            mail_from: "Atelier <atelier@localhost>".into(),
        }
    }
}

/// How long things are kept, and how long links work.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Uploads with no saved version are deleted this long after upload.
    pub unsaved_retention_hours: i64,
    /// Saved versions are deleted this long after saving.
    pub saved_retention_days: i64,
    /// Gallery items show a warning this many days before they expire.
    pub expiry_warning_days: i64,
    /// "Download my data" archives are deleted this long after they are ready.
    pub export_retention_hours: i64,
    /// Signed download links stop working after this many seconds.
    pub download_link_secs: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            unsaved_retention_hours: 24,
            saved_retention_days: 180,
            expiry_warning_days: 14,
            export_retention_hours: 24,
            download_link_secs: 3600,
        }
    }
}

/// The policies.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacySettings {
    /// The privacy and cookie policies' version: raising it asks everyone for consent again.
    pub policy_version: u32,
    /// People under this age may not use the service (the privacy policy says so).
    pub minimum_age: u32,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self { policy_version: 1, minimum_age: 16 }
    }
}

/// Models, runtime, workers and their queue, moderation, the optional vision service.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiSettings {
    /// Where `scripts/install-models` put the models and `manifest.toml`.
    pub models_dir: PathBuf,
    /// The ONNX Runtime library; defaults to the one in `models_dir`. Point it at the
    /// `onnxruntime-gpu` wheel's library to run on CUDA.
    pub onnxruntime_lib: Option<PathBuf>,
    /// A LaMa inpainting model (ONNX: image + mask) for the magic eraser, and its SHA-256.
    pub lama_model: Option<PathBuf>,
    pub lama_sha256: Option<String>,
    /// A Segment Anything model for "select object" by a click: its encoder and decoder ONNX
    /// files (the exports `ai::segment::SamModels` describes) and their SHA-256, all four needed.
    pub sam_encoder: Option<PathBuf>,
    pub sam_encoder_sha256: Option<String>,
    pub sam_decoder: Option<PathBuf>,
    pub sam_decoder_sha256: Option<String>,
    /// AI job workers inside the server process; 0 leaves the jobs to `atelier worker` processes.
    pub ai_workers: usize,
    /// Whether this process's workers count as GPU workers, which take the big models' jobs
    /// first: "auto" (when ONNX Runtime runs on CUDA), "yes" or "no".
    pub worker_gpu: WorkerGpu,
    /// A worker renews its hold on a job this often (a third of it); a job whose worker stopped
    /// renewing is picked up again after this long.
    pub job_lease_secs: i64,
    /// Attempts at a job whose failure may be passing (backoff doubles from 5 s between them).
    pub job_max_attempts: i64,
    /// Uploads that open_nsfw scores at or above this (0..1) are held for an administrator.
    pub moderation_threshold: f32,
    /// The largest image an upscale may produce, in pixels.
    pub max_upscale_pixels: u64,
    /// An OpenAI-compatible chat-completions endpoint with image input (Ollama, vLLM, LocalAI,
    /// OpenAI) for captions, e.g. `http://127.0.0.1:11434/v1/chat/completions`; off when unset.
    pub vision_url: Option<String>,
    pub vision_key: Option<SecretString>,
    pub vision_model: String,
}

/// `ai.worker_gpu`: whether a process's AI workers take GPU-worthy jobs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerGpu {
    /// A GPU worker when ONNX Runtime loaded with CUDA.
    Auto,
    Yes,
    No,
}

impl FromStr for WorkerGpu {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "yes" | "true" | "1" => Ok(Self::Yes),
            "no" | "false" | "0" => Ok(Self::No),
            other => Err(format!("{other:?} is not auto, yes or no")),
        }
    }
}

impl Default for AiSettings {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            onnxruntime_lib: None,
            lama_model: None,
            lama_sha256: None,
            sam_encoder: None,
            sam_encoder_sha256: None,
            sam_decoder: None,
            sam_decoder_sha256: None,
            ai_workers: 1,
            worker_gpu: WorkerGpu::Auto,
            job_lease_secs: 60,
            job_max_attempts: 3,
            moderation_threshold: 0.8,
            max_upscale_pixels: 64_000_000,
            vision_url: None,
            vision_key: None,
            vision_model: "llava".into(),
        }
    }
}

/// Image generation: off until an operator names at least one image service.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationSettings {
    /// The services the studio and generative fill may use, in the order offered.
    pub providers: Vec<ImageServiceSettings>,
    /// One request to a service may take this long before it counts as failed.
    pub timeout_secs: u64,
    /// Attempts at one request when a service answers 429 or 5xx (with back-off between them).
    pub attempts: u32,
    /// Words a prompt may not contain (matched whole, ignoring case); empty by default.
    pub blocked_words: Vec<String>,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self { providers: Vec::new(), timeout_secs: 180, attempts: 3, blocked_words: Vec::new() }
    }
}

/// The developer API's keys: their rate, and how long their call log is kept.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeveloperSettings {
    /// Requests one API key may make per minute (a burst of as many, then a steady rate).
    pub requests_per_minute_per_key: u32,
    /// Attempts with unknown API keys one client address may make per minute before a pause.
    pub failed_keys_per_minute_per_ip: u32,
    /// The API call log is deleted this long after each call.
    pub api_log_retention_days: i64,
    /// Completion webhooks may go to loopback and private-network addresses (off: a key's owner
    /// could otherwise make this server call into its own network; tests and single-host setups
    /// turn it on).
    pub allow_private_webhooks: bool,
}

impl Default for DeveloperSettings {
    fn default() -> Self {
        Self {
            requests_per_minute_per_key: 120,
            failed_keys_per_minute_per_ip: 20,
            api_log_retention_days: 90,
            allow_private_webhooks: false,
        }
    }
}

/// Credits: `mode` "off" (the default: nothing counted, nothing refused), "allowance" (each
/// workspace gets a monthly allowance; jobs beyond it are refused) or "stripe" (the allowance
/// plus credits people buy). A job reserves its tool's cost when queued.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingSettings {
    pub mode: app::billing::BillingMode,
    /// Credits per run of each AI tool, by its name; a tool not listed costs one. A batch item
    /// costs the sum of its pipeline's AI steps; a generated image costs its image service's
    /// `credits_per_image`.
    pub costs: std::collections::BTreeMap<String, u64>,
    /// Credits an account's workspace gets each calendar month (UTC).
    pub monthly_allowance: u64,
    /// Credits a guest workspace gets each month.
    pub guest_allowance: u64,
    /// `[billing.stripe]`: keys, packs and plans when `mode` is "stripe".
    pub stripe: StripeSettings,
}

impl Default for BillingSettings {
    fn default() -> Self {
        // One credit per processed image of up to 12 megapixels, as usage is metered; an upscale
        // makes a larger image, so it costs as much as the four it usually is.
        let costs = [
            ("remove-background", 1),
            ("upscale", 4),
            ("erase", 1),
            ("describe", 1),
            ("product-scene", 1),
            ("style-transfer", 1),
            ("blur-faces", 1),
            ("copy-text", 1),
        ];
        Self {
            mode: app::billing::BillingMode::Off,
            costs: costs.into_iter().map(|(tool, credits)| (tool.to_string(), credits)).collect(),
            monthly_allowance: 100,
            guest_allowance: 10,
            stripe: StripeSettings::default(),
        }
    }
}

/// One image service: `kind` is "openai" (the OpenAI Images API, also served by LocalAI and
/// others) or "sd-webui" (the Stable Diffusion WebUI API of AUTOMATIC1111, Forge, SD.Next).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageServiceSettings {
    /// As people see it in the studio and on the privacy page.
    pub name: String,
    pub kind: String,
    /// The service's base URL, e.g. `https://api.openai.com` or `http://127.0.0.1:7860`.
    pub url: String,
    /// The credential: never logged, never sent to a browser.
    #[serde(default)]
    pub key: Option<SecretString>,
    /// How `key` is sent: "bearer" (a token) or "basic" ("user:password", the WebUI's
    /// --api-auth). Unset: basic for an "sd-webui" key holding a colon, else bearer.
    #[serde(default)]
    pub auth: Option<String>,
    /// The models offered; the first is the default. Empty: the service's own default.
    #[serde(default)]
    pub models: Vec<String>,
    /// Credits one generated image costs.
    #[serde(default = "one")]
    pub credits_per_image: u64,
}

fn one() -> u64 {
    1
}

/// `[billing.stripe]`: Stripe, used when `billing.mode` is "stripe". Its keys are secrets: never
/// logged, never sent to a browser.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeSettings {
    /// The secret API key (`sk_live_…`, `sk_test_…` or a restricted `rk_…` key).
    pub secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_…`), for `/billing/stripe/webhook`.
    pub webhook_secret: Option<SecretString>,
    /// Stripe's API; tests point it at a stand-in on loopback.
    pub api_base: String,
    /// A webhook signed longer ago than this (or further ahead) is refused as a replay.
    pub webhook_tolerance_secs: i64,
    /// Credit packs on sale (`[[billing.stripe.packs]]`), in the order offered.
    pub packs: Vec<CreditPackSettings>,
    /// Plans on sale (`[[billing.stripe.plans]]`): credits every month.
    pub plans: Vec<PlanSettings>,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: "https://api.stripe.com".into(),
            webhook_tolerance_secs: 300,
            packs: Vec::new(),
            plans: Vec::new(),
        }
    }
}

/// A pack of credits bought once: a one-time Stripe price.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditPackSettings {
    /// Short and URL-safe; it names the pack in forms and in Stripe's metadata.
    pub id: String,
    pub name: String,
    pub credits: u64,
    /// The Stripe price (`price_…`) charged.
    pub price_id: String,
    /// The price as people see it before paying ("€5"); Stripe's checkout shows the real one.
    pub shown_price: String,
}

/// A plan: a recurring Stripe price that brings credits with each paid invoice.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    pub id: String,
    pub name: String,
    pub monthly_credits: u64,
    pub price_id: String,
    /// "€9 a month".
    pub shown_price: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the settings file {path} is invalid: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("{name} has an invalid value: {message}")]
    Env { name: &'static str, message: String },
    /// A model file the settings name is missing, incomplete or not the one its hash names.
    #[error("{0}")]
    Model(String),
    /// The object storage settings (`[storage] url`, `[storage.s3]`) do not make a usable store.
    #[error("object storage: {0}")]
    Storage(String),
}

impl Settings {
    /// Defaults, then `ATELIER_CONFIG` (or `./atelier.toml` when present), then `ATELIER_*`.
    pub fn load() -> Result<Self, ConfigError> {
        let explicit = std::env::var_os("ATELIER_CONFIG").map(PathBuf::from);
        let file = explicit.clone().or_else(|| Some(PathBuf::from("atelier.toml")).filter(|p| p.exists()));
        let mut settings = match file {
            Some(path) => Self::from_file(&path)?,
            None => Self::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.storage_location()?;
        Ok(settings)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })
    }

    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: fmt::Display,
        {
            value.parse().map_err(|error: T::Err| ConfigError::Env { name, message: error.to_string() })
        }
        macro_rules! from_env {
            ($($group:ident.$field:ident => $name:literal),+ $(,)?) => {$(
                if let Some(value) = var($name) {
                    self.$group.$field = parse($name, &value)?;
                }
            )+};
        }
        from_env!(
            server.addr => "ATELIER_ADDR",
            server.public_url => "ATELIER_PUBLIC_URL",
            storage.data_dir => "ATELIER_DATA_DIR",
            server.site_root => "ATELIER_SITE_ROOT",
            limits.max_upload_bytes => "ATELIER_MAX_UPLOAD_BYTES",
            limits.max_image_pixels => "ATELIER_MAX_IMAGE_PIXELS",
            limits.max_photos_per_owner => "ATELIER_MAX_PHOTOS_PER_OWNER",
            limits.max_bytes_per_owner => "ATELIER_MAX_BYTES_PER_OWNER",
            limits.max_photos_per_guest => "ATELIER_MAX_PHOTOS_PER_GUEST",
            limits.max_bytes_per_guest => "ATELIER_MAX_BYTES_PER_GUEST",
            limits.sign_ins_per_minute_per_ip => "ATELIER_SIGN_INS_PER_MINUTE_PER_IP",
            limits.sign_ins_per_minute_per_account => "ATELIER_SIGN_INS_PER_MINUTE_PER_ACCOUNT",
            limits.mails_per_hour_per_ip => "ATELIER_MAILS_PER_HOUR_PER_IP",
            limits.mails_per_hour_per_address => "ATELIER_MAILS_PER_HOUR_PER_ADDRESS",
            limits.concurrent_uploads => "ATELIER_CONCURRENT_UPLOADS",
            limits.concurrent_password_hashes => "ATELIER_CONCURRENT_PASSWORD_HASHES",
            limits.queued_jobs_per_owner => "ATELIER_QUEUED_JOBS_PER_OWNER",
            limits.jobs_per_hour_per_ip => "ATELIER_JOBS_PER_HOUR_PER_IP",
            limits.trust_forwarded_for => "ATELIER_TRUST_FORWARDED_FOR",
            accounts.session_idle_days => "ATELIER_SESSION_IDLE_DAYS",
            accounts.session_absolute_days => "ATELIER_SESSION_ABSOLUTE_DAYS",
            accounts.mail_from => "ATELIER_MAIL_FROM",
            privacy.policy_version => "ATELIER_POLICY_VERSION",
            privacy.minimum_age => "ATELIER_MINIMUM_AGE",
            retention.unsaved_retention_hours => "ATELIER_UNSAVED_RETENTION_HOURS",
            retention.saved_retention_days => "ATELIER_SAVED_RETENTION_DAYS",
            retention.expiry_warning_days => "ATELIER_EXPIRY_WARNING_DAYS",
            retention.export_retention_hours => "ATELIER_EXPORT_RETENTION_HOURS",
            retention.download_link_secs => "ATELIER_DOWNLOAD_LINK_SECS",
            storage.key_file => "ATELIER_KEY_FILE",
            server.log_filter => "ATELIER_LOG",
            server.log_format => "ATELIER_LOG_FORMAT",
            ai.models_dir => "ATELIER_MODELS_DIR",
            ai.ai_workers => "ATELIER_AI_WORKERS",
            ai.worker_gpu => "ATELIER_WORKER_GPU",
            server.lease_secs => "ATELIER_LEASE_SECS",
            ai.job_lease_secs => "ATELIER_JOB_LEASE_SECS",
            ai.job_max_attempts => "ATELIER_JOB_MAX_ATTEMPTS",
            ai.moderation_threshold => "ATELIER_MODERATION_THRESHOLD",
            ai.max_upscale_pixels => "ATELIER_MAX_UPSCALE_PIXELS",
            ai.vision_model => "ATELIER_VISION_MODEL",
            server.page_timeout_secs => "ATELIER_PAGE_TIMEOUT_SECS",
            server.server_fn_timeout_secs => "ATELIER_SERVER_FN_TIMEOUT_SECS",
            billing.mode => "ATELIER_BILLING_MODE",
            billing.monthly_allowance => "ATELIER_MONTHLY_ALLOWANCE",
            billing.guest_allowance => "ATELIER_GUEST_ALLOWANCE",
            developer.requests_per_minute_per_key => "ATELIER_REQUESTS_PER_MINUTE_PER_KEY",
            developer.failed_keys_per_minute_per_ip => "ATELIER_FAILED_KEYS_PER_MINUTE_PER_IP",
            developer.api_log_retention_days => "ATELIER_API_LOG_RETENTION_DAYS",
        );
        macro_rules! optional_from_env {
            ($($group:ident.$field:ident => $name:literal),+ $(,)?) => {$(
                if let Some(value) = var($name) {
                    self.$group.$field = Some(parse($name, &value)?);
                }
            )+};
        }
        optional_from_env!(
            ai.onnxruntime_lib => "ATELIER_ONNXRUNTIME_LIB",
            ai.lama_model => "ATELIER_LAMA_MODEL",
            ai.lama_sha256 => "ATELIER_LAMA_SHA256",
            ai.sam_encoder => "ATELIER_SAM_ENCODER",
            ai.sam_encoder_sha256 => "ATELIER_SAM_ENCODER_SHA256",
            ai.sam_decoder => "ATELIER_SAM_DECODER",
            ai.sam_decoder_sha256 => "ATELIER_SAM_DECODER_SHA256",
            ai.vision_url => "ATELIER_VISION_URL",
            metrics.listen => "ATELIER_METRICS_LISTEN",
            storage.url => "ATELIER_STORAGE_URL",
        );
        // Secrets: never parsed into anything that could print them.
        if let Some(url) = var("ATELIER_DATABASE_URL") {
            self.storage.database_url = Some(url.into());
        }
        if let Some(token) = var("ATELIER_METRICS_TOKEN").filter(|token| !token.trim().is_empty()) {
            self.metrics.token = Some(token.into());
        }
        if let Some(url) = var("ATELIER_SMTP_URL") {
            self.accounts.smtp_url = Some(url.into());
        }
        if let Some(key) = var("ATELIER_VISION_KEY") {
            self.ai.vision_key = Some(key.into());
        }
        if let Some(key) = var("ATELIER_STRIPE_SECRET_KEY") {
            self.billing.stripe.secret_key = Some(key.into());
        }
        if let Some(secret) = var("ATELIER_STRIPE_WEBHOOK_SECRET") {
            self.billing.stripe.webhook_secret = Some(secret.into());
        }
        if let Some(dir) = var("ATELIER_STORAGE_DIR") {
            self.storage.storage_dir = Some(dir.into());
        }
        if let Some(endpoint) = var("ATELIER_S3_ENDPOINT") {
            self.storage.s3.endpoint = Some(endpoint);
        }
        if let Some(id) = var("ATELIER_S3_ACCESS_KEY_ID") {
            self.storage.s3.access_key_id = Some(id);
        }
        if let Some(secret) = var("ATELIER_S3_SECRET_ACCESS_KEY") {
            self.storage.s3.secret_access_key = Some(secret.into());
        }
        if let Some(region) = var("ATELIER_S3_REGION") {
            self.storage.s3.region = region;
        }
        if let Some(allow) = var("ATELIER_S3_ALLOW_HTTP") {
            self.storage.s3.allow_http = parse("ATELIER_S3_ALLOW_HTTP", &allow)?;
        }
        Ok(())
    }

    /// May hold a password: exposed only where the pool connects.
    pub fn database_url(&self) -> SecretString {
        self.storage.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", self.storage.data_dir.join("atelier.db").display()).into()
        })
    }

    pub fn storage_dir(&self) -> PathBuf {
        self.storage.storage_dir.clone().unwrap_or_else(|| self.storage.data_dir.join("objects"))
    }

    /// Where the objects are: `[storage] url` when set (a path, `file://` path or `s3://` URL),
    /// else `storage_dir`. A URL that is neither, or an S3 setup that cannot work, is refused here
    /// so the server does not start with it.
    pub fn storage_location(&self) -> Result<StorageLocation, ConfigError> {
        let refuse = |message: String| Err(ConfigError::Storage(message));
        let Some(url) = self.storage.url.as_deref().map(str::trim).filter(|url| !url.is_empty()) else {
            return Ok(StorageLocation::Local(self.storage_dir()));
        };
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(StorageLocation::Local(PathBuf::from(path)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            if url.contains("://") {
                return refuse(format!("unsupported storage URL {url:?}: use a local path or s3://bucket[/prefix]"));
            }
            return Ok(StorageLocation::Local(PathBuf::from(url)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return refuse(format!(
                "{url:?} does not name a bucket (3 to 63 lowercase letters, digits, dots or hyphens)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") || prefix.contains("//") {
            return refuse(format!("the prefix in {url:?} is not a plain path"));
        }
        let s3 = &self.storage.s3;
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            return refuse(
                "storage.s3.access_key_id and storage.s3.secret_access_key (ATELIER_S3_ACCESS_KEY_ID, \
                 ATELIER_S3_SECRET_ACCESS_KEY) go together"
                    .into(),
            );
        }
        if let Some(endpoint) = &s3.endpoint {
            match endpoint.split_once("://").map(|(scheme, _)| scheme) {
                Some("https") => {}
                Some("http") if s3.allow_http => {}
                Some("http") => {
                    return refuse(format!(
                        "the endpoint {endpoint} is plain http: set storage.s3.allow_http \
                         (ATELIER_S3_ALLOW_HTTP=true) only for a server on this machine or a private network"
                    ))
                }
                _ => return refuse(format!("the endpoint {endpoint:?} is not an http(s):// URL")),
            }
        }
        if s3.region.trim().is_empty() {
            return refuse("storage.s3.region (ATELIER_S3_REGION) is empty".into());
        }
        Ok(StorageLocation::S3 { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.storage.data_dir.join("mail")
    }

    /// The AI engine's settings: models, runtime library and the optional LaMa model.
    pub fn engine(&self) -> ai::EngineConfig {
        ai::EngineConfig {
            models_dir: self.ai.models_dir.clone(),
            // The install step's copy beside the models, else the repository's.
            manifest: Some(self.ai.models_dir.join("manifest.toml"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("models/manifest.toml")),
            runtime_lib: self.ai.onnxruntime_lib.clone(),
            lama: self.ai.lama_model.clone().map(|path| ai::UserModel { path, sha256: self.ai.lama_sha256.clone() }),
        }
    }

    /// The Segment Anything model the settings name, after both files are found and hashed (a
    /// second or two for `sam_vit_b`): the server refuses to start with a wrong one rather than
    /// fail at someone's first click. `None` when none is named.
    pub fn checked_sam(&self) -> Result<Option<ai::segment::SamModels>, ConfigError> {
        let ai = &self.ai;
        let model = |path: &Option<PathBuf>, sha256: &Option<String>, setting: &str| match (path, sha256) {
            (Some(path), Some(sha256)) if !sha256.trim().is_empty() => {
                Ok(ai::UserModel { path: path.clone(), sha256: Some(sha256.trim().to_string()) })
            }
            _ => Err(ConfigError::Model(format!(
                "a Segment Anything model needs ai.{setting} and ai.{setting}_sha256 (ATELIER_{}, ATELIER_{}_SHA256)",
                setting.to_uppercase(),
                setting.to_uppercase()
            ))),
        };
        let named = [&ai.sam_encoder_sha256, &ai.sam_decoder_sha256].iter().any(|sha| sha.is_some());
        if !named && ai.sam_encoder.is_none() && ai.sam_decoder.is_none() {
            return Ok(None);
        }
        let sam = ai::segment::SamModels {
            encoder: model(&ai.sam_encoder, &ai.sam_encoder_sha256, "sam_encoder")?,
            decoder: model(&ai.sam_decoder, &ai.sam_decoder_sha256, "sam_decoder")?,
        };
        sam.verify().map_err(|error| {
            ConfigError::Model(match error {
                ai::AiError::ModelMissing { model, path } => {
                    format!("the Segment Anything {} file {path} does not exist", part(&model))
                }
                ai::AiError::ModelInvalid { model, detail } => {
                    format!("the Segment Anything {} file is not the one its SHA-256 names ({detail})", part(&model))
                }
                other => other.to_string(),
            })
        })?;
        Ok(Some(sam))
    }

    pub fn secure_cookies(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }
}

/// "encoder" or "decoder", from a Segment Anything file's model id.
fn part(model: &str) -> &'static str {
    if model == ai::segment::SAM_ENCODER {
        "encoder (ai.sam_encoder)"
    } else {
        "decoder (ai.sam_decoder)"
    }
}

/// Only what helps reading a log: the database's kind, never its URL.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.server.addr)
            .field("public_url", &self.server.public_url)
            .field("data_dir", &self.storage.data_dir)
            .field("database", &self.database_url().expose_secret().split(':').next().unwrap_or("unknown"))
            .field("objects", &self.storage_location().map(|at| at.to_string()).unwrap_or_else(|e| e.to_string()))
            .field("s3_endpoint", &self.storage.s3.endpoint)
            .field("key_file", &self.storage.key_file)
            .field("site_root", &self.server.site_root)
            .field("max_upload_bytes", &self.limits.max_upload_bytes)
            .field("max_image_pixels", &self.limits.max_image_pixels)
            .field("smtp", &self.accounts.smtp_url.is_some())
            .field("providers", &self.providers)
            .field("models_dir", &self.ai.models_dir)
            .field("ai_workers", &self.ai.ai_workers)
            .field("worker_gpu", &self.ai.worker_gpu)
            .field("lease_secs", &self.server.lease_secs)
            .field("vision", &self.ai.vision_url.is_some())
            .field("metrics_listen", &self.metrics.listen)
            .field("metrics_token", &self.metrics.token.is_some())
            .finish_non_exhaustive()
    }
}

/// A provider as configured (`[[providers]]` in the settings file).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Short and URL-safe: it names the routes (`/auth/<id>/start`).
    pub id: String,
    /// Shown on the sign-in button.
    pub name: String,
    /// `oidc` (needs `issuer`), `google` or `github`.
    #[serde(default = "oidc_kind")]
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// GitHub Enterprise: the web and API base URLs (default github.com and api.github.com).
    #[serde(default)]
    pub github_url: Option<String>,
    #[serde(default)]
    pub github_api_url: Option<String>,
}

fn oidc_kind() -> String {
    "oidc".into()
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_bad_values_name_the_variable() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                "ATELIER_ADDR" => Some("127.0.0.1:4000".into()),
                "ATELIER_DATABASE_URL" => Some("postgres://atelier:hunter2@db/atelier".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.server.addr.port(), 4000);
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let error = Settings::default()
            .apply_env(|name| (name == "ATELIER_MAX_UPLOAD_BYTES").then(|| "lots".to_string()))
            .unwrap_err();
        assert!(error.to_string().contains("ATELIER_MAX_UPLOAD_BYTES"));
    }

    #[test]
    fn defaults_keep_everything_under_the_data_directory() {
        let settings = Settings::default();
        assert_eq!(settings.database_url().expose_secret(), "sqlite://data/atelier.db?mode=rwc");
        assert_eq!(settings.storage_dir(), PathBuf::from("data/objects"));
        assert!(!settings.secure_cookies());
    }

    #[test]
    fn the_storage_url_names_a_directory_or_a_bucket_and_bad_ones_are_refused() {
        let with = |pairs: &[(&str, &str)]| {
            let mut settings = Settings::default();
            settings
                .apply_env(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
                .map(|()| settings)
        };
        let location = |pairs: &[(&str, &str)]| with(pairs).unwrap().storage_location();
        assert_eq!(location(&[]).unwrap(), StorageLocation::Local(PathBuf::from("data/objects")));
        assert_eq!(
            location(&[("ATELIER_STORAGE_DIR", "/srv/objects")]).unwrap(),
            StorageLocation::Local(PathBuf::from("/srv/objects")),
            "the older setting still works"
        );
        assert_eq!(
            location(&[("ATELIER_STORAGE_URL", "file:///srv/o")]).unwrap(),
            StorageLocation::Local("/srv/o".into())
        );
        assert_eq!(
            location(&[("ATELIER_STORAGE_URL", "s3://photos-1/atelier/")]).unwrap(),
            StorageLocation::S3 { bucket: "photos-1".into(), prefix: "atelier".into() }
        );
        for bad in ["gs://photos", "s3://", "s3://Photos", "s3://ab", "s3://photos/../x"] {
            let error = location(&[("ATELIER_STORAGE_URL", bad)]).unwrap_err();
            assert!(matches!(error, ConfigError::Storage(_)), "{bad}: {error}");
        }
        let s3 = [
            ("ATELIER_STORAGE_URL", "s3://photos"),
            ("ATELIER_S3_ENDPOINT", "http://10.0.0.5:9000"),
            ("ATELIER_S3_ACCESS_KEY_ID", "AKID"),
            ("ATELIER_S3_SECRET_ACCESS_KEY", "hunter2-secret"),
        ];
        let error = location(&s3).unwrap_err().to_string();
        assert!(error.contains("ATELIER_S3_ALLOW_HTTP"), "plain http is refused unless allowed: {error}");
        let allowed = with(&[&s3[..], &[("ATELIER_S3_ALLOW_HTTP", "true")]].concat()).unwrap();
        assert!(allowed.storage_location().is_ok());
        assert_eq!(allowed.storage.s3.region, "us-east-1");
        let shown = format!("{allowed:?}");
        assert!(shown.contains("s3://photos") && !shown.contains("hunter2"), "{shown}");
        let error = location(&s3[..3]).unwrap_err().to_string();
        assert!(error.contains("ATELIER_S3_SECRET_ACCESS_KEY"), "a key id without its secret: {error}");
        assert!(with(&[("ATELIER_S3_ALLOW_HTTP", "sure")]).unwrap_err().to_string().contains("ATELIER_S3_ALLOW_HTTP"));
    }

    #[test]
    fn a_settings_file_is_read_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("atelier.toml");
        std::fs::write(&path, "[limits]\nmax_upload_bytes = 1024\n[server]\npublic_url = \"https://photos.example\"\n")
            .unwrap();
        let settings = Settings::from_file(&path).unwrap();
        assert_eq!(settings.limits.max_upload_bytes, 1024);
        assert!(settings.secure_cookies());
        std::fs::write(&path, "[limits]\nmax_upload_byte = 1\n").unwrap();
        assert!(matches!(Settings::from_file(&path), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn a_segment_anything_model_is_named_in_full_and_checked_before_the_server_starts() {
        assert!(Settings::default().checked_sam().unwrap().is_none(), "none by default");
        let dir = tempfile::tempdir().unwrap();
        let (encoder, decoder) = (dir.path().join("encoder.onnx"), dir.path().join("decoder.onnx"));
        std::fs::write(&encoder, b"encoder bytes").unwrap();
        std::fs::write(&decoder, b"decoder bytes").unwrap();
        let sha = |path: &Path| ai::models::sha256_file(path).unwrap();
        let with = |pairs: &[(&str, String)]| {
            let mut settings = Settings::default();
            settings.apply_env(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())).unwrap();
            settings.checked_sam()
        };
        let path = |p: &Path| p.display().to_string();
        let all = [
            ("ATELIER_SAM_ENCODER", path(&encoder)),
            ("ATELIER_SAM_ENCODER_SHA256", sha(&encoder)),
            ("ATELIER_SAM_DECODER", path(&decoder)),
            ("ATELIER_SAM_DECODER_SHA256", sha(&decoder)),
        ];
        let sam = with(&all).unwrap().expect("configured");
        assert_eq!(sam.encoder.path, encoder);
        assert_eq!(sam.decoder.sha256, Some(sha(&decoder)));

        // Half a model, or one without its hash, names the setting that is missing.
        let error = with(&all[..2]).unwrap_err().to_string();
        assert!(error.contains("ai.sam_decoder") && error.contains("ATELIER_SAM_DECODER_SHA256"), "{error}");
        let error = with(&[all[0].clone(), all[2].clone(), all[3].clone()]).unwrap_err().to_string();
        assert!(error.contains("ai.sam_encoder_sha256"), "{error}");

        let mut moved = all.clone();
        moved[0].1 = path(&dir.path().join("gone.onnx"));
        let error = with(&moved).unwrap_err().to_string();
        assert!(
            error.contains("encoder (ai.sam_encoder) file") && error.contains("gone.onnx does not exist"),
            "{error}"
        );

        let mut wrong = all.clone();
        wrong[3].1 = sha(&encoder);
        let error = with(&wrong).unwrap_err().to_string();
        assert!(error.contains("decoder (ai.sam_decoder) file is not the one its SHA-256 names"), "{error}");
        assert!(error.contains(&sha(&decoder)) && error.contains(&format!("expected {}", sha(&encoder))), "{error}");
    }
}
