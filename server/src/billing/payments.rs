//! Payments: people buy credit packs and plans through a payment provider (Stripe, `stripe.rs`)
//! behind `PaymentProvider`, and the provider's signed webhooks turn paid checkouts and invoices
//! into ledger credits, and refunds and disputes into negative entries. Each webhook event is
//! applied once (`payment_events`, by the provider's event id), and each ledger entry is unique
//! by its reference as well (the checkout session, the invoice, the charge or the dispute), so
//! neither a redelivered event nor two deliveries racing grant twice.
//!
//! Kept, as the seed policies promise and no more: the provider's customer id, the card's brand
//! and last four digits for display, the plan's state, and what each payment granted.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde_json::json;
use sqlx::Row;

use app::billing::checkout::{CardOnFile, PackOffer, PaymentOffer, PaymentService, PlanOffer, PlanState};
use app::billing::{BillingMode, EntryKind};
use app::error::AppError;
use app::ids::{AccountId, OwnerId, SignedIn};

use crate::accounts::AccountStore;
use crate::billing::{CreditPolicy, CreditStore};
use crate::config::{CreditPackSettings, PlanSettings, Settings};
use crate::platform::db::{now, Db};
use crate::platform::error::OrInternal;

/// What a checkout sells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckoutItem {
    Pack { id: String, price: String },
    Plan { id: String, price: String },
}

pub struct CheckoutRequest {
    pub account: AccountId,
    /// Prefilled at the provider when it has no customer for this account yet.
    pub email: Option<String>,
    pub customer: Option<String>,
    pub item: CheckoutItem,
    pub success_url: String,
    pub cancel_url: String,
}

/// A checkout the provider opened: its id and the page to send the person to.
pub struct Checkout {
    pub id: String,
    pub url: String,
}

/// The card on file, as shown: never more than its brand and last four digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub brand: String,
    pub last4: String,
}

/// The provider failed or refused; the cause is logged where it happened.
#[derive(Debug)]
pub struct ProviderError;

impl From<ProviderError> for AppError {
    fn from(_: ProviderError) -> Self {
        AppError::Transport("the payment service did not answer as expected. Please try again in a moment.".into())
    }
}

/// Why a webhook was refused (answered 400, so the provider shows it and retries).
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookError {
    BadSignature(&'static str),
    /// Signed longer ago (or further ahead) than the tolerance: a replay, or a clock gone wrong.
    TooOld,
    Malformed,
}

/// A verified event, in the provider's words (`name`) and as Atelier reads it (`event`).
#[derive(Debug)]
pub struct PaymentEvent {
    pub id: String,
    pub name: String,
    pub event: EventKind,
}

#[derive(Debug)]
pub enum EventKind {
    /// A checkout finished; `paid` is false while a delayed payment method is still pending.
    CheckoutCompleted {
        session: String,
        paid: bool,
        account: Option<String>,
        /// `pack:<id>` or `plan:<id>`, as the checkout was opened.
        item: Option<String>,
        customer: Option<String>,
        payment_intent: Option<String>,
        subscription: Option<String>,
        amount: i64,
        currency: String,
    },
    InvoicePaid {
        invoice: String,
        customer: Option<String>,
        subscription: Option<String>,
        account: Option<String>,
        plan: Option<String>,
        price: Option<String>,
        amount: i64,
        currency: String,
        payment_intent: Option<String>,
        period_end: Option<i64>,
    },
    InvoiceFailed {
        invoice: String,
        customer: Option<String>,
        account: Option<String>,
    },
    SubscriptionChanged {
        subscription: String,
        customer: Option<String>,
        account: Option<String>,
        plan: Option<String>,
        price: Option<String>,
        period_end: Option<i64>,
        status: String,
        ended: bool,
    },
    Refunded {
        charge: String,
        payment_intent: Option<String>,
        invoice: Option<String>,
        amount: i64,
        amount_refunded: i64,
    },
    Disputed {
        dispute: String,
        charge: Option<String>,
        payment_intent: Option<String>,
    },
    /// Any other event: acknowledged, nothing to do.
    Ignored,
}

/// A payment service: checkout, portal, webhooks.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// As the privacy page names it.
    fn name(&self) -> &'static str;
    /// The host its API is reached at, for the privacy page.
    fn destination(&self) -> String;
    /// Opens a hosted checkout for a pack (one payment) or a plan (a subscription).
    async fn checkout(&self, request: CheckoutRequest) -> Result<Checkout, ProviderError>;
    /// A customer-portal session (cards, invoices, the plan), returning to `return_url`.
    async fn portal(&self, customer: &str, return_url: &str) -> Result<String, ProviderError>;
    /// Deletes the customer (its cards, and its subscriptions at once); one already gone is fine.
    async fn delete_customer(&self, customer: &str) -> Result<(), ProviderError>;
    /// The brand and last four digits of the card a completed checkout was paid with.
    async fn card_of_checkout(&self, session: &str) -> Result<Option<Card>, ProviderError>;
    /// Checks a webhook's signature over its raw body and reads its event.
    fn verify_event(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<PaymentEvent, WebhookError>;
}

/// Payments as configured: the provider, the ledger, the packs and plans on sale.
pub struct PaymentStore {
    pub db: Db,
    pub provider: Arc<dyn PaymentProvider>,
    pub billing: Arc<CreditStore>,
    pub accounts: Arc<AccountStore>,
    pub public_url: String,
    pub packs: Vec<CreditPackSettings>,
    pub plans: Vec<PlanSettings>,
}

/// The account's row in `billing_customers`.
#[derive(Clone, Debug, Default)]
pub struct CustomerRow {
    pub customer: String,
    pub card: Option<Card>,
    pub plan: Option<String>,
    pub subscription: Option<String>,
    pub status: Option<String>,
    pub period_end: Option<i64>,
}

/// A payment that granted credits.
struct PaymentRow {
    id: String,
    account: Option<AccountId>,
    credits: i64,
    refunded_credits: i64,
}

/// Statuses in which a subscription still brings its credits.
fn is_live(status: &str) -> bool {
    matches!(status, "active" | "trialing" | "past_due")
}

impl Db {
    pub async fn billing_customer(&self, account: AccountId) -> Result<Option<CustomerRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT customer_id, card_brand, card_last4, plan, subscription_id, subscription_status, period_end
             FROM billing_customers WHERE account_id = $1",
        )
        .bind(account.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            let brand: Option<String> = row.try_get("card_brand")?;
            let last4: Option<String> = row.try_get("card_last4")?;
            Ok(CustomerRow {
                customer: row.try_get("customer_id")?,
                card: brand.zip(last4).map(|(brand, last4)| Card { brand, last4 }),
                plan: row.try_get("plan")?,
                subscription: row.try_get("subscription_id")?,
                status: row.try_get("subscription_status")?,
                period_end: row.try_get("period_end")?,
            })
        })
        .transpose()
    }

    async fn account_of_customer(&self, customer: &str) -> Result<Option<AccountId>, sqlx::Error> {
        let row = sqlx::query("SELECT account_id FROM billing_customers WHERE customer_id = $1")
            .bind(customer)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.and_then(|row| row.try_get::<String, _>("account_id").ok()).and_then(|id| id.parse().ok()))
    }

    /// Links the account to its customer at the provider (a later checkout names another one
    /// when the first was deleted there).
    async fn link_customer(&self, account: AccountId, customer: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO billing_customers (account_id, customer_id, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (account_id) DO UPDATE SET customer_id = excluded.customer_id, updated_at = excluded.updated_at",
        )
        .bind(account.to_string())
        .bind(customer)
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    async fn set_card(&self, account: AccountId, card: &Card) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE billing_customers SET card_brand = $1, card_last4 = $2, updated_at = $3 WHERE account_id = $4",
        )
        .bind(&card.brand)
        .bind(&card.last4)
        .bind(now())
        .bind(account.to_string())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Records a subscription's state. A late update never revives a subscription already
    /// recorded as cancelled (the provider does not promise to deliver events in order).
    async fn set_subscription(
        &self,
        account: AccountId,
        plan: Option<&str>,
        subscription: &str,
        status: &str,
        period_end: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE billing_customers SET plan = COALESCE($1, plan), subscription_id = $2, subscription_status = $3,
                 period_end = COALESCE($4, period_end), updated_at = $5
             WHERE account_id = $6
               AND NOT (subscription_id IS NOT NULL AND subscription_id = $2 AND subscription_status = 'canceled')",
        )
        .bind(plan)
        .bind(subscription)
        .bind(status)
        .bind(period_end)
        .bind(now())
        .bind(account.to_string())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_payment(
        &self,
        id: &str,
        account: AccountId,
        kind: &str,
        item: &str,
        credits: i64,
        amount: i64,
        currency: &str,
        payment_intent: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO billing_payments (id, account_id, kind, item, credits, amount, currency, payment_intent, refunded_credits, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(account.to_string())
        .bind(kind)
        .bind(item)
        .bind(credits)
        .bind(amount)
        .bind(currency)
        .bind(payment_intent)
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The payment a charge paid: by its payment intent, or the invoice it paid.
    async fn payment_of_charge(
        &self,
        payment_intent: Option<&str>,
        invoice: Option<&str>,
    ) -> Result<Option<(PaymentRow, i64)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, account_id, credits, refunded_credits, amount FROM billing_payments
             WHERE (payment_intent IS NOT NULL AND payment_intent = $1) OR id = $2",
        )
        .bind(payment_intent.unwrap_or_default())
        .bind(invoice.unwrap_or_default())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            let account: Option<String> = row.try_get("account_id")?;
            Ok((
                PaymentRow {
                    id: row.try_get("id")?,
                    account: account.and_then(|id| id.parse().ok()),
                    credits: row.try_get("credits")?,
                    refunded_credits: row.try_get("refunded_credits")?,
                },
                row.try_get("amount")?,
            ))
        })
        .transpose()
    }

    async fn set_refunded(&self, payment: &str, refunded_credits: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE billing_payments SET refunded_credits = $1 WHERE id = $2 AND refunded_credits < $1")
            .bind(refunded_credits)
            .bind(payment)
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Claims a webhook event; false when it was applied (or is being applied) already.
    async fn claim_payment_event(&self, id: &str, kind: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO payment_events (id, kind, received_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_payment_event(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM payment_events WHERE id = $1").bind(id).execute(self.pool()).await.map(|_| ())
    }

    /// "Download my data": the customer link, card and plan (a list of at most one), and each
    /// payment.
    pub async fn payment_records(&self, account: AccountId) -> Result<serde_json::Value, sqlx::Error> {
        let customers: Vec<_> = self
            .billing_customer(account)
            .await?
            .into_iter()
            .map(|row| {
                json!({
                    "customer_id": row.customer,
                    "card": row.card.map(|card| json!({ "brand": card.brand, "last4": card.last4 })),
                    "plan": row.plan, "subscription_id": row.subscription, "subscription_status": row.status,
                    "period_end": row.period_end,
                })
            })
            .collect();
        let payments = sqlx::query(
            "SELECT id, kind, item, credits, amount, currency, refunded_credits, created_at FROM billing_payments
             WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok::<_, sqlx::Error>(json!({
                "id": row.try_get::<String, _>("id")?, "kind": row.try_get::<String, _>("kind")?,
                "item": row.try_get::<String, _>("item")?, "credits": row.try_get::<i64, _>("credits")?,
                "amount": row.try_get::<i64, _>("amount")?, "currency": row.try_get::<String, _>("currency")?,
                "refunded_credits": row.try_get::<i64, _>("refunded_credits")?,
                "paid_at": row.try_get::<i64, _>("created_at")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({ "customers": customers, "payments": payments }))
    }
}

/// A billing notice, by e-mail.
enum Notice<'a> {
    PaymentReceived { what: &'a str, credits: i64 },
    PaymentFailed { plan: &'a str },
    SubscriptionEnded { plan: &'a str },
}

impl PaymentStore {
    /// Payments through Stripe when `billing.mode` is "stripe" (its keys then required, and the
    /// server refuses to start without them); `None` in the other modes.
    pub fn from_settings(
        settings: &Settings,
        db: Db,
        accounts: Arc<AccountStore>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        if settings.billing.mode != BillingMode::Stripe {
            return Ok(None);
        }
        let stripe = &settings.billing.stripe;
        let ids =
            stripe.packs.iter().map(|pack| pack.id.as_str()).chain(stripe.plans.iter().map(|plan| plan.id.as_str()));
        for id in ids {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                anyhow::bail!("billing.stripe: the pack or plan id “{id}” must be letters, digits, - or _");
            }
        }
        // The ledger as the rest of the server keeps it (the store holds no state of its own).
        let billing = Arc::new(CreditStore { db: db.clone(), policy: CreditPolicy::from_settings(&settings.billing) });
        Ok(Some(Arc::new(Self {
            db,
            provider: Arc::new(super::stripe::Stripe::new(stripe)?),
            billing,
            accounts,
            public_url: settings.server.public_url.clone(),
            packs: stripe.packs.clone(),
            plans: stripe.plans.clone(),
        })))
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    fn pack(&self, id: &str) -> Option<&CreditPackSettings> {
        self.packs.iter().find(|pack| pack.id == id)
    }

    fn plan(&self, id: &str) -> Option<&PlanSettings> {
        self.plans.iter().find(|plan| plan.id == id)
    }

    fn plan_of_price(&self, price: &str) -> Option<&PlanSettings> {
        self.plans.iter().find(|plan| plan.price_id == price)
    }

    /// Opens a checkout for `item` (`pack:<id>` or `plan:<id>`); returns the page to go to.
    /// `return_to` is the local page a cancelled checkout comes back to.
    pub async fn start_checkout(&self, me: SignedIn, item: &str, return_to: &str) -> Result<String, AppError> {
        let unknown = || AppError::BadRequest("That pack or plan is not offered.".into());
        let customer = self.db.billing_customer(me.account).await?;
        let item = match item.split_once(':') {
            Some(("pack", id)) => {
                let pack = self.pack(id).ok_or_else(unknown)?;
                CheckoutItem::Pack { id: pack.id.clone(), price: pack.price_id.clone() }
            }
            Some(("plan", id)) => {
                let plan = self.plan(id).ok_or_else(unknown)?;
                if customer.as_ref().and_then(|c| c.status.as_deref()).is_some_and(is_live) {
                    return Err(AppError::BadRequest(
                        "You already have a plan: change or cancel it under “Manage cards and invoices”.".into(),
                    ));
                }
                CheckoutItem::Plan { id: plan.id.clone(), price: plan.price_id.clone() }
            }
            _ => return Err(unknown()),
        };
        let account = self.db.account_by_id(me.account).await?.ok_or(AppError::Unauthorized)?;
        let checkout = self
            .provider
            .checkout(CheckoutRequest {
                account: me.account,
                email: account.email.filter(|_| account.email_verified),
                customer: customer.map(|c| c.customer),
                item,
                // Stripe puts the session's id in place of the placeholder.
                success_url: self.link("/billing/success?session_id={CHECKOUT_SESSION_ID}"),
                cancel_url: self.link(return_to),
            })
            .await?;
        tracing::info!(checkout = %checkout.id, "a checkout was opened");
        Ok(checkout.url)
    }

    /// The provider's portal for the account's customer.
    pub async fn open_portal(&self, me: SignedIn, return_to: &str) -> Result<String, AppError> {
        let customer = self.db.billing_customer(me.account).await?.ok_or_else(|| {
            AppError::BadRequest(
                "There is nothing to manage yet: cards and invoices appear after a first payment.".into(),
            )
        })?;
        Ok(self.provider.portal(&customer.customer, &self.link(return_to)).await?)
    }

    /// Before an account is erased: its customer at the provider is deleted, which ends any plan
    /// at once (it would otherwise go on charging a person who is gone) and removes the cards
    /// kept there. Fails while the provider cannot be reached, so the erasure waits for it.
    pub async fn forget_customer(&self, account: AccountId) -> Result<(), AppError> {
        if let Some(customer) = self.db.billing_customer(account).await? {
            self.provider.delete_customer(&customer.customer).await?;
        }
        Ok(())
    }

    /// Verifies and applies a webhook; `Ok(false)` when the event had been applied before.
    pub async fn receive_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Result<bool, AppError>, WebhookError> {
        let event = self.provider.verify_event(headers, body, now())?;
        Ok(self.apply(event).await)
    }

    /// Applies an event once: claimed by its id first, released again when applying fails, so
    /// the provider's retry applies it then.
    pub async fn apply(&self, event: PaymentEvent) -> Result<bool, AppError> {
        if !self.db.claim_payment_event(&event.id, &event.name).await? {
            tracing::info!(event = %event.id, kind = %event.name, "a payment event came again and was not applied twice");
            return Ok(false);
        }
        if let Err(error) = self.handle(event.event).await {
            if let Err(release) = self.db.release_payment_event(&event.id).await {
                tracing::error!(%release, event = %event.id, "releasing a failed payment event failed");
            }
            return Err(error);
        }
        Ok(true)
    }

    /// The account an event names, by its own metadata or by the customer it concerns.
    async fn account_for(&self, account: Option<&str>, customer: Option<&str>) -> Result<Option<AccountId>, AppError> {
        if let Some(account) = account.and_then(|id| id.parse::<AccountId>().ok()) {
            return Ok(Some(account));
        }
        match customer {
            Some(customer) => Ok(self.db.account_of_customer(customer).await?),
            None => Ok(None),
        }
    }

    /// The workspace and address of an account that still exists.
    async fn holder(&self, account: AccountId) -> Result<Option<(OwnerId, Option<String>)>, AppError> {
        Ok(self.db.account_by_id(account).await?.map(|row| (row.owner, row.email)))
    }

    async fn handle(&self, event: EventKind) -> Result<(), AppError> {
        match event {
            EventKind::CheckoutCompleted {
                session,
                paid,
                account,
                item,
                customer,
                payment_intent,
                subscription,
                amount,
                currency,
            } => {
                let Some(account) = self.account_for(account.as_deref(), customer.as_deref()).await? else {
                    tracing::warn!(%session, "a completed checkout names no account of this server");
                    return Ok(());
                };
                let Some((owner, email)) = self.holder(account).await? else {
                    tracing::warn!(%session, "a completed checkout's account no longer exists");
                    return Ok(());
                };
                if let Some(customer) = &customer {
                    self.db.link_customer(account, customer).await?;
                    // The card is for display only: a provider that cannot say does not stop the
                    // credits.
                    match self.provider.card_of_checkout(&session).await {
                        Ok(Some(card)) => self.db.set_card(account, &card).await?,
                        Ok(None) => {}
                        Err(ProviderError) => tracing::warn!(%session, "the card of a checkout could not be read"),
                    }
                }
                match item.as_deref().and_then(|item| item.split_once(':')) {
                    Some(("pack", id)) => {
                        if !paid {
                            // A delayed payment method: credits come with its success event.
                            return Ok(());
                        }
                        let Some(pack) = self.pack(id) else {
                            tracing::error!(%session, pack = id, "a paid checkout names a pack the settings no longer have");
                            return Ok(());
                        };
                        let credits = i64::try_from(pack.credits).unwrap_or(i64::MAX);
                        self.db
                            .record_payment(
                                &session,
                                account,
                                "pack",
                                id,
                                credits,
                                amount,
                                &currency,
                                payment_intent.as_deref(),
                            )
                            .await?;
                        let note = format!("{} ({})", pack.name, pack.shown_price);
                        if self.billing.credit(owner, EntryKind::Purchase, credits, &session, &note).await? {
                            self.notify(email, Notice::PaymentReceived { what: &note, credits });
                        }
                    }
                    Some(("plan", id)) => {
                        if let Some(subscription) = &subscription {
                            let plan = self.plan(id).map(|plan| plan.id.as_str());
                            self.db.set_subscription(account, plan, subscription, "active", None).await?;
                        }
                    }
                    _ => tracing::warn!(%session, "a completed checkout names nothing this server sells"),
                }
                Ok(())
            }
            EventKind::InvoicePaid {
                invoice,
                customer,
                subscription,
                account,
                plan,
                price,
                amount,
                currency,
                payment_intent,
                period_end,
            } => {
                // One-off invoices are not ours: packs are paid through checkout.
                let Some(subscription) = subscription else { return Ok(()) };
                let Some(account) = self.account_for(account.as_deref(), customer.as_deref()).await? else {
                    tracing::warn!(%invoice, "a paid invoice names no account of this server");
                    return Ok(());
                };
                let Some((owner, email)) = self.holder(account).await? else {
                    tracing::warn!(%invoice, "a paid invoice's account no longer exists");
                    return Ok(());
                };
                let recorded = self.db.billing_customer(account).await?;
                let plan = plan
                    .as_deref()
                    .and_then(|id| self.plan(id))
                    .or_else(|| price.as_deref().and_then(|price| self.plan_of_price(price)))
                    .or_else(|| recorded.as_ref().and_then(|row| row.plan.as_deref()).and_then(|id| self.plan(id)));
                let Some(plan) = plan else {
                    tracing::error!(%invoice, "a paid invoice is for a plan the settings do not have");
                    return Ok(());
                };
                if let Some(customer) = &customer {
                    self.db.link_customer(account, customer).await?;
                }
                self.db.set_subscription(account, Some(&plan.id), &subscription, "active", period_end).await?;
                let credits = i64::try_from(plan.monthly_credits).unwrap_or(i64::MAX);
                self.db
                    .record_payment(
                        &invoice,
                        account,
                        "plan",
                        &plan.id,
                        credits,
                        amount,
                        &currency,
                        payment_intent.as_deref(),
                    )
                    .await?;
                let note = format!("{} plan ({})", plan.name, plan.shown_price);
                if self.billing.credit(owner, EntryKind::Subscription, credits, &invoice, &note).await? {
                    self.notify(email, Notice::PaymentReceived { what: &note, credits });
                }
                Ok(())
            }
            EventKind::InvoiceFailed { invoice, customer, account } => {
                let Some(account) = self.account_for(account.as_deref(), customer.as_deref()).await? else {
                    tracing::warn!(%invoice, "a failed invoice names no account of this server");
                    return Ok(());
                };
                let Some((_, email)) = self.holder(account).await? else { return Ok(()) };
                let plan = self.db.billing_customer(account).await?.and_then(|row| row.plan);
                let name = plan
                    .as_deref()
                    .and_then(|id| self.plan(id))
                    .map_or_else(|| "your plan".to_string(), |plan| format!("your {} plan", plan.name));
                self.notify(email, Notice::PaymentFailed { plan: &name });
                Ok(())
            }
            EventKind::SubscriptionChanged {
                subscription,
                customer,
                account,
                plan,
                price,
                period_end,
                status,
                ended,
            } => {
                let Some(account) = self.account_for(account.as_deref(), customer.as_deref()).await? else {
                    tracing::warn!(%subscription, "a subscription names no account of this server");
                    return Ok(());
                };
                let Some((_, email)) = self.holder(account).await? else { return Ok(()) };
                if let Some(customer) = &customer {
                    self.db.link_customer(account, customer).await?;
                }
                let plan = plan
                    .as_deref()
                    .and_then(|id| self.plan(id))
                    .or_else(|| price.as_deref().and_then(|price| self.plan_of_price(price)));
                let before = self.db.billing_customer(account).await?;
                self.db
                    .set_subscription(account, plan.map(|p| p.id.as_str()), &subscription, &status, period_end)
                    .await?;
                let was_ended = before.as_ref().is_some_and(|row| {
                    row.subscription.as_deref() == Some(subscription.as_str())
                        && row.status.as_deref() == Some("canceled")
                });
                if ended && !was_ended {
                    let recorded = before.and_then(|row| row.plan);
                    let name = plan
                        .or_else(|| recorded.as_deref().and_then(|id| self.plan(id)))
                        .map_or("Your", |plan| plan.name.as_str());
                    self.notify(email, Notice::SubscriptionEnded { plan: name });
                }
                Ok(())
            }
            EventKind::Refunded { charge, payment_intent, invoice, amount, amount_refunded } => {
                let Some((payment, paid)) =
                    self.db.payment_of_charge(payment_intent.as_deref(), invoice.as_deref()).await?
                else {
                    tracing::warn!(%charge, "a refunded charge paid nothing that granted credits here");
                    return Ok(());
                };
                // In proportion to what was refunded of what was paid (partial refunds add up).
                let paid = if paid > 0 { paid } else { amount };
                let target = if paid > 0 {
                    i64::try_from(i128::from(payment.credits) * i128::from(amount_refunded.max(0)) / i128::from(paid))
                        .unwrap_or(payment.credits)
                        .min(payment.credits)
                } else {
                    payment.credits
                };
                let reference = format!("{charge}:{amount_refunded}");
                self.take_back(&payment, target, &reference, "Payment refunded").await
            }
            EventKind::Disputed { dispute, charge, payment_intent } => {
                let Some((payment, _)) = self.db.payment_of_charge(payment_intent.as_deref(), None).await? else {
                    tracing::warn!(%dispute, charge = charge.as_deref().unwrap_or_default(), "a disputed charge paid nothing that granted credits here");
                    return Ok(());
                };
                // A disputed payment's credits are held back whole, whatever the outcome.
                self.take_back(&payment, payment.credits, &dispute, "Payment disputed").await
            }
            EventKind::Ignored => Ok(()),
        }
    }

    /// Takes back what `payment` granted beyond `refunded` credits already taken, as a negative
    /// ledger entry under `reference`.
    async fn take_back(
        &self,
        payment: &PaymentRow,
        refunded: i64,
        reference: &str,
        note: &str,
    ) -> Result<(), AppError> {
        let more = refunded - payment.refunded_credits;
        if more <= 0 {
            return Ok(());
        }
        // An erased account's payment is kept for accounting only: nobody's balance to change.
        if let Some((owner, _)) = match payment.account {
            Some(account) => self.holder(account).await?,
            None => None,
        } {
            self.billing.credit(owner, EntryKind::Refund, more, reference, note).await?;
        }
        self.db.set_refunded(&payment.id, refunded).await?;
        Ok(())
    }

    /// Mails a billing notice in the background: the webhook's answer does not wait for mail,
    /// and a mail that cannot be sent is logged, never retried by redelivering the event.
    fn notify(&self, email: Option<String>, notice: Notice<'_>) {
        let Some(email) = email else { return };
        let account = self.link("/account");
        let (subject, body) = match notice {
            Notice::PaymentReceived { what, credits } => (
                "Atelier: payment received",
                format!(
                    "Thank you: your payment for {what} was received, and {credits} credits were added to your workspace.\n\n\
                     Your balance, cards and invoices are on your account page: {account}\n"
                ),
            ),
            Notice::PaymentFailed { plan } => (
                "Atelier: a payment did not go through",
                format!(
                    "The payment for {plan} did not go through. The payment service will try again in the next days.\n\n\
                     To use another card, open “Manage cards and invoices” on your account page: {account}\n"
                ),
            ),
            Notice::SubscriptionEnded { plan } => (
                "Atelier: your plan has ended",
                format!(
                    "{plan} plan has ended: no more monthly credits will be added. The credits you have are yours to use.\n\n\
                     You can choose a plan again on your account page: {account}\n"
                ),
            ),
        };
        let mailer = self.accounts.mailer.clone();
        tokio::spawn(async move {
            let _ = mailer.send(&email, subject, body).await;
        });
    }

    fn offers(&self) -> (Vec<PackOffer>, Vec<PlanOffer>) {
        let packs = self
            .packs
            .iter()
            .map(|pack| PackOffer {
                id: pack.id.clone(),
                name: pack.name.clone(),
                credits: pack.credits,
                price: pack.shown_price.clone(),
            })
            .collect();
        let plans = self
            .plans
            .iter()
            .map(|plan| PlanOffer {
                id: plan.id.clone(),
                name: plan.name.clone(),
                monthly_credits: plan.monthly_credits,
                price: plan.shown_price.clone(),
            })
            .collect();
        (packs, plans)
    }
}

#[async_trait]
impl PaymentService for PaymentStore {
    async fn payment_offer(&self, me: Option<SignedIn>) -> Result<PaymentOffer, AppError> {
        let (packs, plans) = self.offers();
        let customer = match me {
            Some(me) => self.db.billing_customer(me.account).await.or_internal("reading a billing customer")?,
            None => None,
        };
        let plan = customer.as_ref().and_then(|row| {
            let status = row.status.clone()?;
            let name = row
                .plan
                .as_deref()
                .and_then(|id| self.plan(id))
                .map_or_else(|| "A plan".to_string(), |p| p.name.clone());
            Some(PlanState { name, status: status.clone(), live: is_live(&status), period_end: row.period_end })
        });
        Ok(PaymentOffer {
            enabled: true,
            provider: self.provider.name().to_string(),
            signed_in: me.is_some(),
            packs,
            plans,
            has_customer: customer.is_some(),
            card: customer.and_then(|row| row.card).map(|card| CardOnFile { brand: card.brand, last4: card.last4 }),
            plan,
        })
    }
}

/// Billing without a payment provider (modes off and allowance): nothing on sale.
pub struct NoPayments;

#[async_trait]
impl PaymentService for NoPayments {
    async fn payment_offer(&self, _me: Option<SignedIn>) -> Result<PaymentOffer, AppError> {
        Ok(PaymentOffer::default())
    }
}
