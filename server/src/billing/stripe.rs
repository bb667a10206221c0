//! Stripe as the payment provider: Checkout Sessions, the Customer Portal and signed webhooks,
//! over Stripe's form-encoded REST API with the secret key as a bearer token. The base URL comes
//! from the settings, so tests point it at a loopback stand-in.
//!
//! Events are read field by field from their JSON, accepting the shapes of API versions before
//! and after 2025-03-31 (basil), which moved an invoice's subscription under
//! `parent.subscription_details` and a subscription's period end onto its items: the version a
//! webhook arrives in is the Stripe account's, not one this code can pin.

use std::time::Duration;

use async_trait::async_trait;
use axum::http::HeaderMap;
use hmac::Mac;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::payments::{
    Card, Checkout, CheckoutItem, CheckoutRequest, EventKind, PaymentEvent, PaymentProvider, ProviderError,
    WebhookError,
};
use crate::config::StripeSettings;
use crate::platform::crypto::{timestamped_mac, unhex};

pub const SIGNATURE_HEADER: &str = "stripe-signature";

pub struct Stripe {
    http: reqwest::Client,
    base: reqwest::Url,
    secret_key: SecretString,
    webhook_secret: SecretString,
    tolerance_secs: i64,
}

impl Stripe {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let secret_key =
            settings.secret_key.clone().filter(|key| !key.expose_secret().trim().is_empty()).ok_or_else(|| {
                anyhow::anyhow!("billing mode \"stripe\" needs billing.stripe.secret_key (ATELIER_STRIPE_SECRET_KEY)")
            })?;
        let webhook_secret =
            settings.webhook_secret.clone().filter(|key| !key.expose_secret().trim().is_empty()).ok_or_else(|| {
                anyhow::anyhow!(
                    "billing mode \"stripe\" needs billing.stripe.webhook_secret (ATELIER_STRIPE_WEBHOOK_SECRET)"
                )
            })?;
        let base = reqwest::Url::parse(settings.api_base.trim_end_matches('/'))
            .map_err(|error| anyhow::anyhow!("billing.stripe.api_base is not a URL ({error})"))?;
        if base.host_str().is_none() || !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("billing.stripe.api_base must be http(s) with a host");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            // Stripe answers in place; an answer that moves elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, base, secret_key, webhook_secret, tolerance_secs: settings.webhook_tolerance_secs.max(1) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// Sends a request with the secret key and reads Stripe's JSON answer; Stripe's error (its
    /// type and code, never the key) is logged and becomes `ProviderError`.
    async fn call(&self, request: reqwest::RequestBuilder, doing: &'static str) -> Result<Value, ProviderError> {
        let response = request.bearer_auth(self.secret_key.expose_secret()).send().await.map_err(|error| {
            tracing::error!(%error, doing, "Stripe could not be reached");
            ProviderError
        })?;
        self.read(response, doing).await
    }

    /// Stripe's JSON answer, or its error logged (type and code, never the key).
    async fn read(&self, response: reqwest::Response, doing: &'static str) -> Result<Value, ProviderError> {
        let status = response.status();
        let body: Value = response.json().await.map_err(|error| {
            tracing::error!(%error, %status, doing, "Stripe's answer was not JSON");
            ProviderError
        })?;
        if !status.is_success() {
            let error = &body["error"];
            tracing::error!(
                %status,
                doing,
                kind = error["type"].as_str().unwrap_or_default(),
                code = error["code"].as_str().unwrap_or_default(),
                message = error["message"].as_str().unwrap_or_default(),
                "Stripe refused a request"
            );
            return Err(ProviderError);
        }
        Ok(body)
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "Stripe"
    }

    fn destination(&self) -> String {
        host_of(&self.base)
    }

    async fn checkout(&self, request: CheckoutRequest) -> Result<Checkout, ProviderError> {
        let (mode, price, item) = match &request.item {
            CheckoutItem::Pack { id, price } => ("payment", price, format!("pack:{id}")),
            CheckoutItem::Plan { id, price } => ("subscription", price, format!("plan:{id}")),
        };
        let account = request.account.to_string();
        let mut form: Vec<(&str, String)> = vec![
            ("mode", mode.into()),
            ("line_items[0][price]", price.clone()),
            ("line_items[0][quantity]", "1".into()),
            ("success_url", request.success_url.clone()),
            ("cancel_url", request.cancel_url.clone()),
            // The workspace's account, read back from the completed session's event.
            ("client_reference_id", account.clone()),
            ("metadata[account]", account.clone()),
            ("metadata[item]", item.clone()),
        ];
        match &request.customer {
            Some(customer) => form.push(("customer", customer.clone())),
            None => {
                if let Some(email) = &request.email {
                    form.push(("customer_email", email.clone()));
                }
                // A pack's payment makes a customer too, so the portal can show its invoices.
                if mode == "payment" {
                    form.push(("customer_creation", "always".into()));
                }
            }
        }
        if let CheckoutItem::Plan { id, .. } = &request.item {
            // Copied onto each invoice (`parent.subscription_details.metadata`), so an invoice
            // names its account and plan even when it arrives before the completed checkout.
            form.push(("subscription_data[metadata][account]", account));
            form.push(("subscription_data[metadata][plan]", id.clone()));
        } else {
            form.push(("payment_intent_data[metadata][account]", account));
            form.push(("payment_intent_data[metadata][item]", item));
        }
        let body =
            self.call(self.http.post(self.url("/v1/checkout/sessions")).form(&form), "creating a checkout").await?;
        match (body["id"].as_str(), body["url"].as_str()) {
            (Some(id), Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(Checkout { id: id.to_string(), url: url.to_string() })
            }
            _ => {
                tracing::error!("Stripe's checkout session has no id or URL");
                Err(ProviderError)
            }
        }
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<String, ProviderError> {
        let form = [("customer", customer), ("return_url", return_url)];
        let body = self
            .call(self.http.post(self.url("/v1/billing_portal/sessions")).form(&form), "opening the portal")
            .await?;
        body["url"].as_str().map(str::to_string).ok_or_else(|| {
            tracing::error!("Stripe's portal session has no URL");
            ProviderError
        })
    }

    async fn delete_customer(&self, customer: &str) -> Result<(), ProviderError> {
        if !is_stripe_id(customer) {
            return Ok(());
        }
        let request = self.http.delete(self.url(&format!("/v1/customers/{customer}")));
        let response = request.bearer_auth(self.secret_key.expose_secret()).send().await.map_err(|error| {
            tracing::error!(%error, "Stripe could not be reached to delete a customer");
            ProviderError
        })?;
        // Deleted before (by the operator in Stripe's dashboard): nothing left to delete.
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        self.read(response, "deleting a customer").await.map(|_| ())
    }

    async fn card_of_checkout(&self, session: &str) -> Result<Option<Card>, ProviderError> {
        if !is_stripe_id(session) {
            return Ok(None);
        }
        let query =
            [("expand[]", "payment_intent.payment_method"), ("expand[]", "subscription.default_payment_method")];
        let request = self.http.get(self.url(&format!("/v1/checkout/sessions/{session}"))).query(&query);
        let body = self.call(request, "reading a checkout's card").await?;
        let methods = [&body["payment_intent"]["payment_method"], &body["subscription"]["default_payment_method"]];
        let found = methods.into_iter().find_map(|method| card(&method["card"]));
        Ok(found)
    }

    fn verify_event(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<PaymentEvent, WebhookError> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or(WebhookError::BadSignature("no Stripe-Signature header"))?;
        verify_signature(header, body, self.webhook_secret.expose_secret().as_bytes(), self.tolerance_secs, now)?;
        parse_event(body)
    }
}

/// Host and port, for the privacy page: never credentials or path.
fn host_of(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Where payments go, as the privacy page names it: ("Stripe", its API's host).
pub fn processor(settings: &StripeSettings) -> (String, String) {
    let host =
        reqwest::Url::parse(&settings.api_base).map(|url| host_of(&url)).unwrap_or_else(|_| "api.stripe.com".into());
    ("Stripe".into(), host)
}

/// Checks `Stripe-Signature` (`t=<unix time>,v1=<hex>[,v1=<hex>…]`, other schemes ignored) as
/// Stripe signs: HMAC-SHA256 with the endpoint's secret over `"<t>.<raw body>"`, compared in
/// constant time (`Mac::verify_slice`), and `t` within `tolerance_secs` of `now` either way.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &[u8],
    tolerance_secs: i64,
    now: i64,
) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::BadSignature("no timestamp"))?;
    let signed_at: i64 = timestamp.parse().map_err(|_| WebhookError::BadSignature("the timestamp is not a number"))?;
    if signatures.is_empty() {
        return Err(WebhookError::BadSignature("no v1 signature"));
    }
    let matches = signatures.iter().filter_map(|hex| unhex(hex)).any(|signature| {
        timestamped_mac(secret, timestamp, body).is_some_and(|mac| mac.verify_slice(&signature).is_ok())
    });
    if !matches {
        return Err(WebhookError::BadSignature("no signature matches"));
    }
    if (now - signed_at).abs() > tolerance_secs {
        return Err(WebhookError::TooOld);
    }
    Ok(())
}

/// Stripe's ids are short ASCII words (`cs_…`, `cus_…`); anything else is not put in a path.
fn is_stripe_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 255 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The card's brand and last four digits, and nothing else of it.
fn card(card: &Value) -> Option<Card> {
    let brand = card["brand"].as_str()?;
    let last4 = card["last4"].as_str()?;
    let brand_ok =
        !brand.is_empty() && brand.len() <= 32 && brand.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let last4_ok = last4.len() == 4 && last4.chars().all(|c| c.is_ascii_digit());
    (brand_ok && last4_ok).then(|| Card { brand: brand.to_string(), last4: last4.to_string() })
}

/// A field holding an id, or the expanded object carrying it.
fn id_of(value: &Value) -> Option<String> {
    value.as_str().or_else(|| value["id"].as_str()).filter(|id| is_stripe_id(id)).map(str::to_string)
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// An invoice's subscription and that subscription's metadata, in either API version's shape.
fn invoice_subscription(invoice: &Value) -> (Option<String>, &Value) {
    let parent = &invoice["parent"]["subscription_details"];
    if !parent.is_null() {
        return (id_of(&parent["subscription"]), &parent["metadata"]);
    }
    (id_of(&invoice["subscription"]), &invoice["subscription_details"]["metadata"])
}

/// The price of a subscription's or an invoice's first item, in either API version's shape.
fn first_price(lines: &Value) -> Option<String> {
    let line = &lines["data"][0];
    id_of(&line["price"]).or_else(|| id_of(&line["pricing"]["price_details"]["price"])).or_else(|| id_of(&line["plan"]))
}

/// The event in Stripe's JSON, as the provider-neutral `PaymentEvent`.
pub fn parse_event(body: &[u8]) -> Result<PaymentEvent, WebhookError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    let id = event["id"].as_str().filter(|id| is_stripe_id(id)).ok_or(WebhookError::Malformed)?.to_string();
    let name = event["type"].as_str().ok_or(WebhookError::Malformed)?.to_string();
    let object = &event["data"]["object"];
    let amount = |field: &str| object[field].as_i64().unwrap_or(0);
    let currency = || object["currency"].as_str().unwrap_or_default().to_string();
    let kind = match name.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => EventKind::CheckoutCompleted {
            session: id_of(&object["id"]).ok_or(WebhookError::Malformed)?,
            paid: matches!(object["payment_status"].as_str(), Some("paid" | "no_payment_required")),
            account: text(&object["metadata"]["account"]).or_else(|| text(&object["client_reference_id"])),
            item: text(&object["metadata"]["item"]),
            customer: id_of(&object["customer"]),
            payment_intent: id_of(&object["payment_intent"]),
            subscription: id_of(&object["subscription"]),
            amount: amount("amount_total"),
            currency: currency(),
        },
        "invoice.paid" | "invoice.payment_failed" => {
            let (subscription, metadata) = invoice_subscription(object);
            let invoice = id_of(&object["id"]).ok_or(WebhookError::Malformed)?;
            let (account, plan) = (text(&metadata["account"]), text(&metadata["plan"]));
            let customer = id_of(&object["customer"]);
            if name == "invoice.paid" {
                EventKind::InvoicePaid {
                    invoice,
                    customer,
                    subscription,
                    account,
                    plan,
                    price: first_price(&object["lines"]),
                    amount: amount("amount_paid"),
                    currency: currency(),
                    payment_intent: id_of(&object["payment_intent"]),
                    period_end: object["lines"]["data"][0]["period"]["end"].as_i64(),
                }
            } else {
                EventKind::InvoiceFailed { invoice, customer, account }
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let status = if name == "customer.subscription.deleted" {
                "canceled".to_string()
            } else {
                object["status"].as_str().unwrap_or("incomplete").to_string()
            };
            EventKind::SubscriptionChanged {
                subscription: id_of(&object["id"]).ok_or(WebhookError::Malformed)?,
                customer: id_of(&object["customer"]),
                account: text(&object["metadata"]["account"]),
                plan: text(&object["metadata"]["plan"]),
                price: first_price(&object["items"]),
                period_end: object["current_period_end"]
                    .as_i64()
                    .or_else(|| object["items"]["data"][0]["current_period_end"].as_i64()),
                ended: name == "customer.subscription.deleted",
                status,
            }
        }
        "charge.refunded" => EventKind::Refunded {
            charge: id_of(&object["id"]).ok_or(WebhookError::Malformed)?,
            payment_intent: id_of(&object["payment_intent"]),
            invoice: id_of(&object["invoice"]),
            amount: amount("amount"),
            amount_refunded: amount("amount_refunded"),
        },
        "charge.dispute.created" => EventKind::Disputed {
            dispute: id_of(&object["id"]).ok_or(WebhookError::Malformed)?,
            charge: id_of(&object["charge"]),
            payment_intent: id_of(&object["payment_intent"]),
        },
        _ => EventKind::Ignored,
    };
    Ok(PaymentEvent { id, name, event: kind })
}

#[cfg(test)]
mod tests {
    use hmac::Hmac;
    use sha2::Sha256;

    use super::*;

    fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        crate::platform::crypto::hex(&mac.finalize().into_bytes())
    }

    #[test]
    fn a_signature_is_checked_as_stripe_makes_it() {
        let (secret, body, now) = (b"whsec_test".as_slice(), br#"{"id":"evt_1"}"#.as_slice(), 1_700_000_000);
        let good = sign(secret, now, body);
        assert!(verify_signature(&format!("t={now},v1={good}"), body, secret, 300, now).is_ok());
        // Any one of several v1 signatures may match (Stripe sends two while a secret is rolled).
        let other = sign(b"whsec_old", now, body);
        assert!(verify_signature(&format!("t={now},v1={other},v1={good},v0=ignored"), body, secret, 300, now).is_ok());
        assert!(matches!(
            verify_signature(&format!("t={now},v1={other}"), body, secret, 300, now),
            Err(WebhookError::BadSignature(_))
        ));
        assert!(matches!(
            verify_signature(&format!("t={now},v1={good}"), b"{\"id\":\"evt_2\"}", secret, 300, now),
            Err(WebhookError::BadSignature(_))
        ));
        // Another timestamp changes what was signed.
        assert!(verify_signature(&format!("t={},v1={good}", now + 1), body, secret, 300, now).is_err());
        let old = now - 301;
        let late = sign(secret, old, body);
        assert!(matches!(
            verify_signature(&format!("t={old},v1={late}"), body, secret, 300, now),
            Err(WebhookError::TooOld)
        ));
        for broken in ["", "v1=00", &format!("t=soon,v1={good}"), &format!("t={now}"), &format!("t={now},v1=zz")] {
            assert!(verify_signature(broken, body, secret, 300, now).is_err(), "{broken}");
        }
    }

    #[test]
    fn invoices_name_their_subscription_in_either_api_version() {
        let new = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1","customer":"cus_1","amount_paid":900,"currency":"eur",
            "parent":{"subscription_details":{"subscription":"sub_1","metadata":{"account":"a","plan":"pro"}}},
            "lines":{"data":[{"pricing":{"price_details":{"price":"price_pro"}},"period":{"end":1800000000}}]}}}}"#;
        let old = br#"{"id":"evt_2","type":"invoice.paid","data":{"object":{"id":"in_1","customer":{"id":"cus_1"},"amount_paid":900,"currency":"eur",
            "subscription":"sub_1","subscription_details":{"metadata":{"account":"a","plan":"pro"}},
            "lines":{"data":[{"price":{"id":"price_pro"},"period":{"end":1800000000}}]}}}}"#;
        for body in [new.as_slice(), old.as_slice()] {
            match parse_event(body).unwrap().event {
                EventKind::InvoicePaid { subscription, account, plan, price, customer, period_end, .. } => {
                    assert_eq!(subscription.as_deref(), Some("sub_1"));
                    assert_eq!((account.as_deref(), plan.as_deref()), (Some("a"), Some("pro")));
                    assert_eq!((price.as_deref(), customer.as_deref()), (Some("price_pro"), Some("cus_1")));
                    assert_eq!(period_end, Some(1_800_000_000));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn only_a_cards_brand_and_last_four_digits_are_read() {
        let found = card(&serde_json::json!({"brand": "visa", "last4": "4242", "exp_month": 12, "fingerprint": "x"}));
        assert_eq!(found, Some(Card { brand: "visa".into(), last4: "4242".into() }));
        assert_eq!(card(&serde_json::json!({"brand": "visa", "last4": "4242424242424242"})), None);
    }
}
