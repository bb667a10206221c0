//! Sign-in through providers: OpenID Connect (any issuer by discovery, plus a Google preset) and
//! GitHub (plain OAuth 2.0 and its user API). Authorization code flow with PKCE S256; `state`, `nonce` and the verifier kept in the session
//! for one attempt and deleted on first use; a fixed redirect URI; ID tokens validated by
//! `openidconnect` (signature, issuer, audience, nonce, expiry). Access tokens are used for
//! nothing and kept nowhere, so they never reach the browser or the logs.

use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::reqwest;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tower_sessions::Session;

use app::accounts::{Provider, SignInStep};
use app::server_fn::ClientIp;

use super::{AccountStore, Identity};
use crate::config::ProviderSettings;
use crate::platform::db::now;
use crate::platform::http::local_path;

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Discovery results are kept this long, so key rotation at the provider is picked up.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A sign-in attempt must come back from the provider within this many seconds.
const ATTEMPT_SECS: i64 = 600;
const ATTEMPT_KEY: &str = "login_attempt";

struct Configured {
    settings: ProviderSettings,
    kind: Kind,
}

enum Kind {
    // Boxed: the discovered client is over a kilobyte, the GitHub variant a few words.
    Oidc { issuer: String, discovered: Mutex<Option<(Instant, Box<Client>)>> },
    GitHub { web: String, api: String },
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
            if settings.id.is_empty() || !settings.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                anyhow::bail!("provider id {:?} must be letters, digits, '-' or '_'", settings.id);
            }
            let oidc = |issuer: &str| Kind::Oidc { issuer: issuer.to_string(), discovered: Mutex::new(None) };
            let kind = match (settings.kind.as_str(), &settings.issuer) {
                ("google", _) => oidc("https://accounts.google.com"),
                ("oidc", Some(issuer)) => oidc(issuer),
                ("oidc", None) => anyhow::bail!("provider {} needs an issuer", settings.id),
                ("github", _) => Kind::GitHub {
                    web: settings
                        .github_url
                        .clone()
                        .unwrap_or_else(|| "https://github.com".into())
                        .trim_end_matches('/')
                        .into(),
                    api: settings
                        .github_api_url
                        .clone()
                        .unwrap_or_else(|| "https://api.github.com".into())
                        .trim_end_matches('/')
                        .into(),
                },
                (other, _) => {
                    anyhow::bail!("provider {} has an unknown kind {other:?} (oidc, google or github)", settings.id)
                }
            };
            order.push(settings.id.clone());
            by_id.insert(settings.id.clone(), Configured { settings: settings.clone(), kind });
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

    fn get(&self, id: &str) -> Result<&Configured, String> {
        self.by_id.get(id).ok_or_else(|| "unknown provider".to_string())
    }

    fn redirect(&self, id: &str) -> Result<RedirectUrl, String> {
        RedirectUrl::new(self.redirect_uri(id)).map_err(|e| format!("redirect URI: {e}"))
    }

    /// The URL to send the browser to, with the attempt's `state` and `nonce` (empty for
    /// plain OAuth 2.0, which has none).
    async fn authorize(&self, id: &str, challenge: PkceCodeChallenge) -> Result<(String, String, String), String> {
        let provider = self.get(id)?;
        match &provider.kind {
            Kind::Oidc { .. } => {
                let (url, state, nonce) = self
                    .oidc_client(id)
                    .await?
                    .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
                    .add_scope(Scope::new("email".into()))
                    .add_scope(Scope::new("profile".into()))
                    .set_pkce_challenge(challenge)
                    .url();
                Ok((url.to_string(), state.secret().clone(), nonce.secret().clone()))
            }
            Kind::GitHub { web, .. } => {
                let (url, state) = github_client(&provider.settings, web, self.redirect(id)?)?
                    .authorize_url(CsrfToken::new_random)
                    .add_scope(Scope::new("read:user".into()))
                    .add_scope(Scope::new("user:email".into()))
                    .set_pkce_challenge(challenge)
                    .url();
                Ok((url.to_string(), state.secret().clone(), String::new()))
            }
        }
    }

    /// Trades the code for the person it stands for.
    async fn identify(&self, id: &str, code: String, verifier: String, nonce: String) -> Result<Identity, String> {
        let provider = self.get(id)?;
        match &provider.kind {
            Kind::Oidc { .. } => self.identify_oidc(id, code, verifier, nonce).await,
            Kind::GitHub { web, api } => {
                let token = github_client(&provider.settings, web, self.redirect(id)?)?
                    .exchange_code(AuthorizationCode::new(code))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier))
                    .request_async(&self.http)
                    .await
                    .map_err(|e| format!("code exchange: {e}"))?;
                use oauth2::TokenResponse as _;
                github_identity(&self.http, web, api, token.access_token().secret()).await
            }
        }
    }

    async fn oidc_client(&self, id: &str) -> Result<Client, String> {
        let provider = self.get(id)?;
        let Kind::Oidc { issuer, discovered } = &provider.kind else { return Err("not an OpenID provider".into()) };
        let mut cached = discovered.lock().await;
        if let Some((at, client)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(Client::clone(client));
            }
        }
        let issuer = IssuerUrl::new(issuer.clone()).map_err(|e| format!("issuer URL: {e}"))?;
        let metadata =
            CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| format!("discovery: {e}"))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.settings.client_id.clone()),
            provider
                .settings
                .client_secret
                .as_ref()
                .map(|secret| ClientSecret::new(secret.expose_secret().to_string())),
        )
        .set_redirect_uri(self.redirect(id)?);
        *cached = Some((Instant::now(), Box::new(client.clone())));
        Ok(client)
    }

    async fn identify_oidc(&self, id: &str, code: String, verifier: String, nonce: String) -> Result<Identity, String> {
        let client = self.oidc_client(id).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| format!("token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("code exchange: {e}"))?;
        let id_token = tokens.id_token().ok_or("no ID token in the answer")?;
        let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)) {
            Ok(claims) => claims,
            Err(error) => {
                // Perhaps the provider rotated its keys: discover again next time.
                if let Ok(Kind::Oidc { discovered, .. }) = self.get(id).map(|p| &p.kind) {
                    *discovered.lock().await = None;
                }
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
}

type GitHubClient =
    oauth2::basic::BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn github_client(settings: &ProviderSettings, web: &str, redirect: RedirectUrl) -> Result<GitHubClient, String> {
    let url = |path: &str| format!("{web}{path}");
    let mut client = oauth2::basic::BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_uri(oauth2::AuthUrl::new(url("/login/oauth/authorize")).map_err(|e| e.to_string())?)
        .set_token_uri(oauth2::TokenUrl::new(url("/login/oauth/access_token")).map_err(|e| e.to_string())?)
        .set_redirect_uri(redirect);
    if let Some(secret) = &settings.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
    }
    Ok(client)
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub has no ID token: the user API says who the token belongs to. Users are keyed by
/// their numeric id (stable across renames); the token is dropped right after.
async fn github_identity(http: &reqwest::Client, web: &str, api: &str, token: &str) -> Result<Identity, String> {
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header(reqwest::header::USER_AGENT, "Atelier")
    };
    let body = |path: &'static str| {
        let request = get(path);
        async move {
            let bytes = request
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("{path}: {e}"))?
                .bytes()
                .await;
            bytes.map_err(|e| format!("{path}: {e}"))
        }
    };
    let user: GitHubUser = serde_json::from_slice(&body("/user").await?).map_err(|e| format!("/user: {e}"))?;
    // Without the e-mail scope granted this fails; the account is then made without an address.
    let emails: Vec<GitHubEmail> = match body("/user/emails").await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let email = emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email);
    Ok(Identity {
        issuer: web.to_string(),
        subject: user.id.to_string(),
        email_verified: email.is_some(),
        email,
        name: Some(user.name.filter(|n| !n.trim().is_empty()).unwrap_or(user.login)),
    })
}

/// Where a sign-in may return to: a local path into a page people sign in from (no open redirect).
pub fn safe_return(path: Option<&str>) -> String {
    const ALLOWED: &[&str] = &["", "gallery", "account", "photos", "admin"];
    let path = local_path(path);
    let first = path.trim_start_matches('/').split(['/', '?', '#']).next().unwrap_or("");
    if ALLOWED.contains(&first) {
        path
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
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = match accounts.providers.authorize(&id, challenge).await {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(provider = %id, %error, "provider unavailable");
            return failed("unavailable");
        }
    };
    let attempt = Attempt {
        provider: id,
        state,
        nonce,
        verifier: verifier.secret().clone(),
        return_to: safe_return(query.return_to.as_deref()),
        started_at: now(),
    };
    if let Err(error) = session.insert(ATTEMPT_KEY, attempt).await {
        tracing::error!(%error, "storing a sign-in attempt failed");
        return failed("internal");
    }
    Redirect::to(&url).into_response()
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
    client: Option<axum::Extension<ClientIp>>,
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
    let identity = match accounts.providers.identify(&id, code, attempt.verifier, attempt.nonce).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(provider = %id, %error, "sign-in through a provider failed");
            return failed("invalid");
        }
    };
    let user_agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ip = client.map(|axum::Extension(ClientIp(ip))| ip);
    match accounts.sign_in_with_identity(&session, identity, user_agent, ip).await {
        Ok(SignInStep::SignedIn(_)) => Redirect::to(&attempt.return_to).into_response(),
        // The account's two-factor setting holds whatever signed it in.
        Ok(SignInStep::CodeNeeded) => Redirect::to("/signin/code").into_response(),
        Err(_) => failed("internal"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_relative_paths_are_returned_to() {
        assert_eq!(safe_return(Some("/gallery")), "/gallery");
        assert_eq!(safe_return(Some("/photos/1234")), "/photos/1234");
        assert_eq!(safe_return(Some("/")), "/");
        for hostile in
            ["//evil.example", "https://evil.example/", "/\\evil.example", "/admin/../..//x", "/settings", "evil"]
        {
            assert_eq!(safe_return(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_return(None), "/");
    }
}
