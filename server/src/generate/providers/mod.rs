//! The image services an operator configured (`[[generation.providers]]`): one `ImageApi` per
//! kind, each in its own file, all sharing one careful HTTP client (`Http`): a time limit per
//! request, retries with back-off on 429 and 5xx, a cap on what an answer may weigh, and errors
//! in plain words. Keys live in `SecretString`s: never logged, never sent to a browser.
//!
//! Adding a kind: a file with `impl ImageApi`, and its line in `api_for`.

mod openai;
mod sdwebui;

use std::sync::Arc;
use std::time::Duration;

use app::generate::{Aspect, Features, ProviderInfo};
use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{GenerationSettings, ImageServiceSettings};

/// The most one answer may weigh (one base64 PNG at the largest sizes, with room); a bigger one is
/// refused as it arrives, not buffered.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;
/// An error answer is read only this far, for its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;
/// The longest a `Retry-After` is honoured before trying again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The kinds Atelier speaks: one line each.
fn api_for(kind: &str) -> Option<Box<dyn ImageApi>> {
    match kind {
        "openai" => Some(Box::new(openai::OpenAi)),
        "sd-webui" => Some(Box::new(sdwebui::SdWebUi)),
        _ => None,
    }
}

/// One image asked of a service.
pub struct Call<'a> {
    pub model: Option<&'a str>,
    pub prompt: &'a str,
    pub negative_prompt: &'a str,
    pub width: u32,
    pub height: u32,
    pub seed: Option<u32>,
    pub steps: Option<u32>,
    pub guidance: Option<f32>,
    /// A PNG of `width` × `height` to start from, and how far to move from it (0..1).
    pub reference: Option<(&'a [u8], f32)>,
    /// Generative fill: a greyscale PNG of the reference's size, white where to paint.
    pub mask: Option<&'a [u8]>,
}

impl<'a> Call<'a> {
    /// A prompt alone at `size`, with the service's defaults for everything else.
    pub fn prompt(model: Option<&'a str>, prompt: &'a str, (width, height): (u32, u32)) -> Self {
        Call {
            model,
            prompt,
            negative_prompt: "",
            width,
            height,
            seed: None,
            steps: None,
            guidance: None,
            reference: None,
            mask: None,
        }
    }
}

/// What a service made: an encoded image (not yet trusted) and the seed it says it used.
pub struct Made {
    pub image: Bytes,
    pub seed: Option<u32>,
}

/// Why a service gave no image, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The service refused this request (4xx): trying again will not help.
    #[error("{0}")]
    Refused(String),
    /// The service is down, overloaded or too slow, after every attempt.
    #[error("{0}")]
    Unavailable(String),
}

/// What each kind of service does differently: where it is asked, and how.
#[async_trait]
pub trait ImageApi: Send + Sync {
    /// As the studio names the kind.
    fn label(&self) -> &'static str;
    /// What it takes with `model` (None: the service's default).
    fn features(&self, model: Option<&str>) -> Features;
    /// The size it makes for an aspect, with `model` (some models want their own sizes).
    fn size(&self, aspect: Aspect, model: Option<&str>) -> (u32, u32);
    /// One image (it asks for one at a time, so results arrive as each is made).
    async fn generate(&self, http: &Http, call: &Call<'_>) -> Result<Made, ProviderError>;
}

/// A configured service, ready to be asked.
pub struct Provider {
    pub name: String,
    pub models: Vec<String>,
    pub credits_per_image: u64,
    api: Box<dyn ImageApi>,
    http: Http,
}

impl Provider {
    pub fn new(settings: &ImageServiceSettings, timeout_secs: u64, attempts: u32) -> anyhow::Result<Self> {
        let api = api_for(&settings.kind).ok_or_else(|| {
            anyhow::anyhow!(
                "image service “{}”: unknown kind “{}” (use \"openai\" or \"sd-webui\")",
                settings.name,
                settings.kind
            )
        })?;
        let name = settings.name.trim().to_string();
        if name.is_empty() {
            anyhow::bail!("an image service has no name");
        }
        let base = reqwest::Url::parse(&settings.url)
            .map_err(|error| anyhow::anyhow!("image service “{name}”: url is not a URL ({error})"))?;
        if base.host_str().is_none() || !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("image service “{name}”: url must be http(s) with a host");
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(10))
            // An answer that moves elsewhere is not followed: the privacy page names this host.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let basic = match settings.auth.as_deref() {
            Some("basic") => true,
            Some("bearer") => false,
            Some(other) => anyhow::bail!("image service “{name}”: auth is \"bearer\" or \"basic\", not “{other}”"),
            None => {
                settings.kind == "sd-webui" && settings.key.as_ref().is_some_and(|k| k.expose_secret().contains(':'))
            }
        };
        if basic && !settings.key.as_ref().is_some_and(|k| k.expose_secret().contains(':')) {
            anyhow::bail!("image service “{name}”: basic auth needs a key of the form user:password");
        }
        let http =
            Http { client, base, key: settings.key.clone(), basic, attempts: attempts.max(1), name: name.clone() };
        Ok(Self { name, models: settings.models.clone(), credits_per_image: settings.credits_per_image, api, http })
    }

    /// Host and port, for the privacy page: never credentials or path.
    pub fn destination(&self) -> String {
        let host = self.http.base.host_str().unwrap_or_default();
        match self.http.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// What it takes with `model`, or its default model.
    pub fn features(&self, model: Option<&str>) -> Features {
        self.api.features(model.or(self.models.first().map(String::as_str)))
    }

    pub fn size(&self, aspect: Aspect, model: Option<&str>) -> (u32, u32) {
        self.api.size(aspect, model)
    }

    /// The size it makes (with its default model) closest in shape to `width` × `height`.
    pub fn size_near(&self, width: u32, height: u32) -> (u32, u32) {
        let ratio = (width.max(1) as f32 / height.max(1) as f32).ln();
        let off = |(w, h): (u32, u32)| ((w.max(1) as f32 / h.max(1) as f32).ln() - ratio).abs();
        let model = self.models.first().map(String::as_str);
        Aspect::ALL
            .iter()
            .map(|aspect| self.size(*aspect, model))
            .min_by(|a, b| off(*a).total_cmp(&off(*b)))
            .unwrap_or((1024, 1024))
    }

    pub fn info(&self) -> ProviderInfo {
        let model = self.models.first().map(String::as_str);
        ProviderInfo {
            name: self.name.clone(),
            kind_label: self.api.label().into(),
            models: self.models.clone(),
            features: self.features(None),
            credits_per_image: self.credits_per_image,
            sizes: Aspect::ALL
                .iter()
                .map(|aspect| {
                    let (w, h) = self.size(*aspect, model);
                    (aspect.key().to_string(), w, h)
                })
                .collect(),
        }
    }

    pub async fn generate(&self, call: &Call<'_>) -> Result<Made, ProviderError> {
        self.api.generate(&self.http, call).await
    }
}

/// Every configured service, and the words no prompt may hold.
#[derive(Clone, Default)]
pub struct Providers {
    pub list: Vec<Arc<Provider>>,
    pub blocked_words: Vec<String>,
}

impl Providers {
    /// Refused at start-up, not at the first run: a misconfigured service is named at once.
    pub fn from_settings(settings: &GenerationSettings) -> anyhow::Result<Self> {
        let list = settings
            .providers
            .iter()
            .map(|p| Provider::new(p, settings.timeout_secs, settings.attempts).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|pair| pair[0] == pair[1]) {
            anyhow::bail!("two image services share a name");
        }
        let blocked_words =
            settings.blocked_words.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect();
        Ok(Self { list, blocked_words })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.list.iter().find(|p| p.name == name).cloned()
    }

    /// The service a tool names for `painted`, if it exists and can take a mask when `fill`
    /// needs one, and if the prompt holds no blocked word; else why not, in words.
    pub fn for_prompt(&self, painted: &app::ai_tools::ServicePrompt, fill: bool) -> Result<Arc<Provider>, String> {
        painted.check()?;
        let provider = self
            .get(&painted.provider)
            .ok_or_else(|| format!("There is no image service called “{}”.", painted.provider))?;
        if fill && !provider.features(None).fill {
            return Err(format!("{} cannot fill a painted area.", provider.name));
        }
        self.allows(&painted.prompt)?;
        Ok(provider)
    }

    /// Refuses a prompt holding a blocked word, naming it.
    pub fn allows(&self, prompt: &str) -> Result<(), String> {
        match self.blocked_word(prompt) {
            Some(word) => Err(format!("This server does not accept prompts with “{word}”.")),
            None => Ok(()),
        }
    }

    /// The first blocked word the prompt holds, matched whole and ignoring case.
    pub fn blocked_word(&self, prompt: &str) -> Option<&str> {
        let prompt = prompt.to_lowercase();
        let words: Vec<&str> = prompt.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        self.blocked_words.iter().map(String::as_str).find(|blocked| {
            let parts: Vec<&str> = blocked.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
            !parts.is_empty() && words.windows(parts.len()).any(|window| window == parts.as_slice())
        })
    }
}

/// A body to send: built again for each attempt (a multipart form cannot be cloned).
pub enum Body {
    Json(serde_json::Value),
    Form(Box<dyn Fn() -> Result<reqwest::multipart::Form, ProviderError> + Send + Sync>),
}

/// The HTTP side every kind shares.
pub struct Http {
    client: reqwest::Client,
    base: reqwest::Url,
    key: Option<SecretString>,
    /// Send `key` as HTTP Basic ("user:password") rather than as a bearer token.
    basic: bool,
    attempts: u32,
    name: String,
}

impl Http {
    /// `path` under the base URL; a base that already ends in the API's prefix (`/v1`) keeps it
    /// once.
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        let path = path.trim_start_matches('/');
        let joined = match path.split_once('/') {
            Some((prefix, rest)) if base_path.ends_with(&format!("/{prefix}")) => format!("{base_path}/{rest}"),
            _ => format!("{base_path}/{path}"),
        };
        url.set_path(&joined);
        url
    }

    /// Posts `body` to `path` and reads the JSON answer, trying again on 429, 5xx and network
    /// errors (waiting as the service asks, else 1 s, 2 s, 4 s…).
    pub async fn post(&self, path: &str, body: &Body) -> Result<serde_json::Value, ProviderError> {
        let url = self.url(path);
        let name = &self.name;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let mut request = self.client.post(url.clone());
            request = match (&self.key, self.basic) {
                (Some(key), true) => {
                    let (user, password) = key.expose_secret().split_once(':').unwrap_or((key.expose_secret(), ""));
                    request.basic_auth(user, Some(password))
                }
                (Some(key), false) => request.bearer_auth(key.expose_secret()),
                (None, _) => request,
            };
            request = match body {
                Body::Json(json) => request.json(json),
                Body::Form(form) => request.multipart(form()?),
            };
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let bytes = read_capped(response, name, MAX_ANSWER_BYTES).await?;
                    return serde_json::from_slice(&bytes).map_err(|_| {
                        ProviderError::Unavailable(format!("{name} answered with something that is not JSON."))
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let said = read_capped(response, name, MAX_ERROR_BYTES).await.ok().and_then(|b| said(&b));
                    let said = said.map(|s| format!(": {s}")).unwrap_or_default();
                    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        last = match status {
                            StatusCode::TOO_MANY_REQUESTS => format!("{name} is busy (too many requests){said}"),
                            _ => format!("{name} failed (HTTP {}){said}", status.as_u16()),
                        };
                        retry_after
                    } else {
                        return Err(ProviderError::Refused(match status {
                            // Its words may quote part of the key: they stay out of the message.
                            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                                "{name} refused this server's credentials (HTTP {}); an administrator can check its key.",
                                status.as_u16()
                            ),
                            _ => format!("{name} refused the request (HTTP {}){said}", status.as_u16()),
                        }));
                    }
                }
                Err(error) if error.is_timeout() => {
                    last = format!("{name} did not answer in time");
                    None
                }
                Err(error) => {
                    // The cause goes to the log; the person gets the gist.
                    tracing::warn!(service = %name, error = %error.without_url(), "an image service could not be reached");
                    last = format!("{name} could not be reached");
                    None
                }
            };
            if attempt < self.attempts {
                let backoff = Duration::from_secs(1 << (attempt - 1).min(5));
                tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_RETRY_WAIT)).await;
            }
        }
        Err(ProviderError::Unavailable(format!("{last}, after {} attempts.", self.attempts)))
    }
}

/// The answer's bytes, refusing one larger than `cap` as it arrives.
async fn read_capped(mut response: reqwest::Response, name: &str, cap: usize) -> Result<Vec<u8>, ProviderError> {
    let too_big = || ProviderError::Unavailable(format!("{name} answered with more than this server accepts."));
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > cap {
                    return Err(too_big());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(error) if error.is_timeout() => {
                return Err(ProviderError::Unavailable(format!("{name} did not finish its answer in time.")))
            }
            Err(_) => return Err(ProviderError::Unavailable(format!("{name} broke off its answer."))),
        }
    }
}

/// A service's own words about an error, from the shapes the known APIs use
/// (`{"error": {"message"}}`, `{"error": "…"}`, `{"detail": "…"}`), cleaned and bounded.
fn said(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = json["error"]["message"]
        .as_str()
        .or_else(|| json["error"].as_str())
        .or_else(|| json["detail"].as_str())
        .or_else(|| json["detail"][0]["msg"].as_str())
        .or_else(|| json["message"].as_str())?;
    let clean: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// Base64 from an answer, decoded (a data URL's prefix is allowed).
fn decode_base64(text: &str, name: &str) -> Result<Bytes, ProviderError> {
    let data = text.rsplit_once("base64,").map_or(text, |(_, data)| data);
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map(Bytes::from)
        .map_err(|_| ProviderError::Unavailable(format!("{name} answered with an image this server cannot read.")))
}

fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(url: &str) -> Provider {
        let settings = ImageServiceSettings {
            name: "Studio GPU".into(),
            kind: "sd-webui".into(),
            url: url.into(),
            key: Some("user:secret".to_string().into()),
            models: vec!["sdxl".into()],
            credits_per_image: 2,
            auth: None,
        };
        Provider::new(&settings, 5, 2).unwrap()
    }

    #[test]
    fn paths_join_the_base_once_and_the_destination_is_host_and_port() {
        let p = provider("http://gpu.local:7860/");
        assert_eq!(p.http.url("/sdapi/v1/txt2img").as_str(), "http://gpu.local:7860/sdapi/v1/txt2img");
        assert_eq!(p.destination(), "gpu.local:7860");
        let p = provider("https://proxy.example/openai/v1");
        assert_eq!(p.http.url("/v1/images/generations").as_str(), "https://proxy.example/openai/v1/images/generations");
        assert_eq!(p.destination(), "proxy.example");
    }

    #[test]
    fn bad_settings_are_refused_at_start() {
        let mut settings = ImageServiceSettings {
            name: "x".into(),
            kind: "dreams".into(),
            url: "http://h".into(),
            key: None,
            models: vec![],
            credits_per_image: 1,
            auth: None,
        };
        assert!(Provider::new(&settings, 5, 1).err().unwrap().to_string().contains("unknown kind"));
        settings.kind = "openai".into();
        settings.url = "ftp://h".into();
        assert!(Provider::new(&settings, 5, 1).is_err());
        let http = |auth: Option<&str>, key: &str, kind: &str| {
            let settings = ImageServiceSettings {
                kind: kind.into(),
                url: "http://h".into(),
                key: Some(key.to_string().into()),
                auth: auth.map(str::to_string),
                ..settings.clone()
            };
            Provider::new(&settings, 5, 1).map(|p| p.http.basic)
        };
        assert!(http(None, "user:pass", "sd-webui").unwrap(), "the WebUI's user:password is Basic");
        assert!(!http(None, "sk-a:b", "openai").unwrap(), "a token with a colon stays a token");
        assert!(!http(Some("bearer"), "user:pass", "sd-webui").unwrap());
        assert!(http(Some("basic"), "token", "openai").is_err(), "basic needs user:password");
        assert!(http(Some("digest"), "x", "openai").is_err());
        let twice = GenerationSettings {
            providers: vec![
                ImageServiceSettings { url: "http://h".into(), ..settings.clone() },
                ImageServiceSettings { url: "http://i".into(), ..settings },
            ],
            ..GenerationSettings::default()
        };
        assert!(Providers::from_settings(&twice).is_err());
    }

    #[test]
    fn blocked_words_match_whole_words_ignoring_case() {
        let providers = Providers { list: vec![], blocked_words: vec!["gore".into(), "brand x".into()] };
        assert_eq!(providers.blocked_word("A GORE scene"), Some("gore"));
        assert_eq!(providers.blocked_word("gorgeous gorilla"), None);
        assert_eq!(providers.blocked_word("a Brand-X logo"), Some("brand x"));
        assert_eq!(providers.blocked_word("a brand new x"), None);
    }

    #[test]
    fn services_words_are_read_from_every_known_shape() {
        assert_eq!(
            said(br#"{"error":{"message":"Your prompt was rejected","type":"x"}}"#).as_deref(),
            Some("Your prompt was rejected")
        );
        assert_eq!(said(br#"{"detail":"Not Found"}"#).as_deref(), Some("Not Found"));
        assert_eq!(said(br#"{"detail":[{"msg":"field required"}]}"#).as_deref(), Some("field required"));
        assert_eq!(said(br#"{"error":"OutOfMemoryError"}"#).as_deref(), Some("OutOfMemoryError"));
        assert_eq!(said(b"<html>"), None);
        assert_eq!(said(format!(r#"{{"detail":"{}"}}"#, "a".repeat(1000)).as_bytes()).map(|s| s.len()), Some(300));
    }
}
