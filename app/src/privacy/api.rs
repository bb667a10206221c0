//! Server functions for consent and the privacy pages.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::privacy::Privacy;
#[cfg(feature = "ssr")]
use crate::server_fn::{run, service};

use crate::error::AppError;
use crate::privacy::{ConsentRecord, ConsentView, PolicyFacts};

/// The consent cookie and the Global Privacy Control signal of this request.
#[cfg(feature = "ssr")]
async fn request_consent() -> (Option<crate::privacy::ConsentCookie>, bool) {
    use crate::privacy::{cookie_value, ConsentCookie, CONSENT_COOKIE};
    let headers = crate::server_fn::headers().await;
    let gpc = headers.get("sec-gpc").is_some_and(|v| v.as_bytes() == b"1");
    let cookie = headers
        .get(http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|cookies| cookie_value(cookies, CONSENT_COOKIE))
        .and_then(|value| ConsentCookie::parse(&value));
    (cookie, gpc)
}

#[server(endpoint = "consent/state")]
pub async fn consent_state() -> Result<ConsentView, AppError> {
    run(async {
        let policy_version = service::<Privacy>()?.policy_version();
        let (cookie, gpc) = request_consent().await;
        let choices = cookie.as_ref().map(|c| c.choices).unwrap_or_default().effective(gpc);
        Ok(ConsentView { ask: cookie.is_none_or(|c| c.policy_version < policy_version), choices, gpc, policy_version })
    })
    .await
}

/// This browser's records, and the signed-in account's from other browsers.
#[server(endpoint = "consent/history")]
pub async fn consent_history() -> Result<Vec<ConsentRecord>, AppError> {
    run(async {
        let (cookie, _) = request_consent().await;
        let account = crate::server_fn::signed_in().await.ok().map(|me| me.account);
        service::<Privacy>()?.consent_history(cookie.map(|c| c.consent_id), account).await
    })
    .await
}

#[server(endpoint = "privacy/facts")]
pub async fn privacy_facts() -> Result<PolicyFacts, AppError> {
    run(async { Ok(service::<Privacy>()?.facts()) }).await
}
