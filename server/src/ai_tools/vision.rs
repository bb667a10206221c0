//! An optional vision provider for real captions: any OpenAI-compatible chat-completions endpoint
//! that takes image input (OpenAI, Ollama, vLLM, LocalAI). The photo leaves the server only when
//! an administrator configured one; the privacy page says so.

use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

use base64::Engine as _;
use openidconnect::reqwest;

const PROMPT: &str =
    "Write one plain sentence of alt-text describing this photo for someone who cannot see it. No preamble.";

#[derive(Clone)]
pub struct Vision {
    http: reqwest::Client,
    url: reqwest::Url,
    key: Option<SecretString>,
    model: String,
}

impl Vision {
    pub fn new(url: &str, key: Option<SecretString>, model: String) -> anyhow::Result<Self> {
        // Refused at start-up, not at the first caption: the privacy page names this host.
        let url =
            reqwest::Url::parse(url).map_err(|error| anyhow::anyhow!("ATELIER_VISION_URL is not a URL ({error})"))?;
        if url.host_str().is_none() {
            anyhow::bail!("ATELIER_VISION_URL names no host");
        }
        let http = reqwest::ClientBuilder::new()
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, url, key, model })
    }

    /// Where photos go, for the privacy page: host and port, never credentials or path.
    pub fn destination(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// The provider's caption for `image` (any format Atelier stores), downscaled to 1024 px first.
    pub async fn caption(&self, image: &[u8]) -> anyhow::Result<String> {
        let bytes = image.to_vec();
        let jpeg = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
            let image = image::load_from_memory(&bytes)?;
            // Only ever smaller (`thumbnail` would also enlarge).
            let small =
                if image.width().max(image.height()) > 1024 { image.thumbnail(1024, 1024) } else { image }.to_rgb8();
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&small)?;
            Ok(out)
        })
        .await??;
        let data_url = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg));
        let body = serde_json::json!({
            "model": self.model,
            "max_tokens": 120,
            "messages": [{
                "role": "user",
                "content": [
                    { "type": "text", "text": PROMPT },
                    { "type": "image_url", "image_url": { "url": data_url } }
                ]
            }]
        });
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body)?);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("the vision provider answered {status}");
        }
        let answer: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
        let text = answer["choices"][0]["message"]["content"].as_str().map(str::trim).unwrap_or_default();
        if text.is_empty() {
            anyhow::bail!("the vision provider's answer had no text");
        }
        Ok(text.chars().filter(|c| !c.is_control()).take(1000).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Vision;

    #[test]
    fn the_destination_is_host_and_port_only_and_a_bad_url_is_refused_at_start() {
        let vision =
            Vision::new("https://user:secret@vision.example:8443/v1/chat/completions?x=1", None, "llava".into())
                .unwrap();
        assert_eq!(vision.destination(), "vision.example:8443");
        let error = Vision::new("vision.example/v1", None, "llava".into()).err().expect("no scheme, no URL");
        assert!(error.to_string().contains("ATELIER_VISION_URL"), "{error}");
    }
}
