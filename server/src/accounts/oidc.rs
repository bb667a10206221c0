//! Sign-in through OpenID Connect providers (any issuer by discovery, plus a Google preset):
//! authorization code flow with PKCE S256; `state`, `nonce` and the verifier kept in the session
//! for one attempt and deleted on first use; a fixed redirect URI; ID tokens validated by
//! `openidconnect` (signature, issuer, audience, nonce, expiry). Access tokens are used for
//! nothing and kept nowhere, so they never reach the browser or the logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::reqwest;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tower_sessions::Session;

use app::model::Provider;

use super::{describe_device, AccountStore, Identity};
use crate::db::now;

/// A provider as configured (`[[providers]]` in the settings file).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Short and URL-safe: it names the routes (`/auth/<id>/start`).
    pub id: String,
    /// Shown on the sign-in button.
    pub name: String,
    /// `oidc` (needs `issuer`) or `google`.
    #[serde(default = "oidc_kind")]
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
}

fn oidc_kind() -> String {
    "oidc".into()
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings").field("id", &self.id).field("kind", &self.kind).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Discovery results are kept this long, so key rotation at the provider is picked up.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A sign-in attempt must come back from the provider within this many seconds.
const ATTEMPT_SECS: i64 = 600;
const ATTEMPT_KEY: &str = "login_attempt";

struct Configured {
    settings: ProviderSettings,
    issuer: String,
    discovered: Mutex<Option<(Instant, Client)>>,
}

pub struct Providers {
    public_url: String,
    by_id: HashMap<String, Configured>,
    order: Vec<String>,
    /// Follows no redirects (RFC 9700): a token endpoint that redirects is refused.
    http: reqwest::Client,
}

/// One sign-in attempt's secrets, in the server-side session only.
#[derive(Serialize, Deserialize)]
struct Attempt {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    started_at: i64,
}

impl Providers {
    pub fn new(public_url: &str, list: &[ProviderSettings]) -> anyhow::Result<Self> {
        let mut by_id = HashMap::new();
        let mut order = Vec::new();
        for settings in list {
            if settings.id.is_empty() || !settings.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                anyhow::bail!("provider id {:?} must be letters, digits, '-' or '_'", settings.id);
            }
            let issuer = match (settings.kind.as_str(), &settings.issuer) {
                ("google", _) => "https://accounts.google.com".to_string(),
                ("oidc", Some(issuer)) => issuer.clone(),
                ("oidc", None) => anyhow::bail!("provider {} needs an issuer", settings.id),
                (other, _) => anyhow::bail!("provider {} has an unknown kind {other:?} (oidc or google)", settings.id),
            };
            order.push(settings.id.clone());
            by_id.insert(settings.id.clone(), Configured { settings: settings.clone(), issuer, discovered: Mutex::new(None) });
        }
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self { public_url: public_url.trim_end_matches('/').to_string(), by_id, order, http })
    }

    pub fn list(&self) -> Vec<Provider> {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .map(|p| Provider { id: p.settings.id.clone(), name: p.settings.name.clone() })
            .collect()
    }

    /// The one redirect URI registered with the provider.
    pub fn redirect_uri(&self, id: &str) -> String {
        format!("{}/auth/{id}/callback", self.public_url)
    }

    async fn client(&self, id: &str) -> Result<Client, String> {
        let provider = self.by_id.get(id).ok_or("unknown provider")?;
        let mut cached = provider.discovered.lock().await;
        if let Some((at, client)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(client.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| format!("issuer URL: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| format!("discovery: {e}"))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.settings.client_id.clone()),
            provider.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(self.redirect_uri(id)).map_err(|e| format!("redirect URI: {e}"))?);
        *cached = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    async fn forget(&self, id: &str) {
        if let Some(provider) = self.by_id.get(id) {
            *provider.discovered.lock().await = None;
        }
    }
}

/// Where a sign-in may return to: a relative path into a page people sign in from, never
/// another site (no open redirect).
pub fn safe_return(path: Option<&str>) -> String {
    const ALLOWED: &[&str] = &["", "gallery", "account", "photos", "admin"];
    let Some(path) = path else { return "/".into() };
    let plain = path.starts_with('/')
        && !path.contains("//")
        && !path.contains("..")
        && !path.contains('\\')
        && !path.contains("://")
        && path.chars().all(|c| c.is_ascii_graphic());
    let first = path.trim_start_matches('/').split(['/', '?', '#']).next().unwrap_or("");
    if plain && ALLOWED.contains(&first) {
        path.to_string()
    } else {
        "/".into()
    }
}

fn failed(reason: &str) -> Response {
    Redirect::to(&format!("/signin?failed={reason}")).into_response()
}

#[derive(Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

/// GET /auth/{provider}/start: remembers a fresh attempt and sends the browser to the provider.
pub async fn start(
    State(accounts): State<Arc<AccountStore>>,
    Path(id): Path<String>,
    Query(query): Query<StartQuery>,
    session: Session,
) -> Response {
    let client = match accounts.providers.client(&id).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(provider = %id, %error, "provider unavailable");
            return failed("unavailable");
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let attempt = Attempt {
        provider: id,
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        return_to: safe_return(query.return_to.as_deref()),
        started_at: now(),
    };
    if let Err(error) = session.insert(ATTEMPT_KEY, attempt).await {
        tracing::error!(%error, "storing a sign-in attempt failed");
        return failed("internal");
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// GET /auth/{provider}/callback: the provider's answer. The attempt is taken out of the
/// session first, so a replayed or second answer finds nothing.
pub async fn callback(
    State(accounts): State<Arc<AccountStore>>,
    Path(id): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let attempt = match session.remove::<Attempt>(ATTEMPT_KEY).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return failed("expired"),
        Err(error) => {
            tracing::error!(%error, "reading a sign-in attempt failed");
            return failed("internal");
        }
    };
    if query.error.is_some() {
        return failed("denied");
    }
    let (Some(code), Some(state)) = (query.code, query.state) else { return failed("invalid") };
    let state_matches = constant_time_eq(state.as_bytes(), attempt.state.as_bytes());
    if attempt.provider != id || !state_matches || now() - attempt.started_at > ATTEMPT_SECS {
        return failed("invalid");
    }
    let identity = match exchange(&accounts.providers, &id, code, attempt.verifier, attempt.nonce).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(provider = %id, %error, "sign-in through a provider failed");
            return failed("invalid");
        }
    };
    let device = describe_device(headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""));
    match accounts.sign_in_with_identity(&session, identity, &device).await {
        Ok(_) => Redirect::to(&attempt.return_to).into_response(),
        Err(_) => failed("internal"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn exchange(providers: &Providers, id: &str, code: String, verifier: String, nonce: String) -> Result<Identity, String> {
    let client = providers.client(id).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| format!("token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&providers.http)
        .await
        .map_err(|e| format!("code exchange: {e}"))?;
    let id_token = tokens.id_token().ok_or("no ID token in the answer")?;
    let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)) {
        Ok(claims) => claims,
        Err(error) => {
            // Perhaps the provider rotated its keys: discover again next time.
            providers.forget(id).await;
            return Err(format!("ID token: {error}"));
        }
    };
    Ok(Identity {
        issuer: claims.issuer().as_str().to_string(),
        subject: claims.subject().as_str().to_string(),
        email: claims.email().map(|email| email.as_str().to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims.name().and_then(|name| name.get(None)).map(|name| name.as_str().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_relative_paths_are_returned_to() {
        assert_eq!(safe_return(Some("/gallery")), "/gallery");
        assert_eq!(safe_return(Some("/photos/1234")), "/photos/1234");
        assert_eq!(safe_return(Some("/")), "/");
        for hostile in ["//evil.example", "https://evil.example/", "/\\evil.example", "/admin/../..//x", "/settings", "evil"] {
            assert_eq!(safe_return(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_return(None), "/");
    }
}
