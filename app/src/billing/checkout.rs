//! Buying credits: the packs and plans the operator sells through its payment provider, the card
//! on file (brand and last four digits only) and the plan's state, and the page a checkout returns
//! to. Buying and "Manage cards and invoices" are plain forms posting to the server's
//! `/billing/checkout` and `/billing/portal`, which answer with a redirect to the provider's
//! page: they work with and without JavaScript. Shown only when billing mode is "stripe".

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::billing::api::my_credit_account;
use crate::billing::credits_label;
use crate::error::AppError;
use crate::ui::{day, ErrorNote};

/// A credit pack on sale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackOffer {
    pub id: String,
    pub name: String,
    pub credits: u64,
    /// As the operator wrote it ("€5").
    pub price: String,
}

/// A plan on sale: credits every month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOffer {
    pub id: String,
    pub name: String,
    pub monthly_credits: u64,
    pub price: String,
}

/// The card a payment was made with, as shown: never more than this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardOnFile {
    pub brand: String,
    pub last4: String,
}

/// The account's plan, as the provider last said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanState {
    pub name: String,
    /// The provider's word: active, trialing, past_due, canceled…
    pub status: String,
    /// Whether it still brings its monthly credits.
    pub live: bool,
    pub period_end: Option<i64>,
}

/// What can be bought here, and what this account has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentOffer {
    /// False unless billing mode is "stripe".
    pub enabled: bool,
    pub provider: String,
    pub signed_in: bool,
    pub packs: Vec<PackOffer>,
    pub plans: Vec<PlanOffer>,
    /// Whether the account has paid before (the portal has something to show).
    pub has_customer: bool,
    pub card: Option<CardOnFile>,
    pub plan: Option<PlanState>,
}

#[cfg(feature = "ssr")]
mod service {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::PaymentOffer;
    use crate::error::AppError;
    use crate::ids::SignedIn;

    /// The payments contract the server keeps (checkout and portal are its plain-form routes).
    #[async_trait]
    pub trait PaymentService: Send + Sync + 'static {
        /// The packs and plans on sale, and the account's card and plan when signed in.
        async fn payment_offer(&self, me: Option<SignedIn>) -> Result<PaymentOffer, AppError>;
    }

    pub type Payments = Arc<dyn PaymentService>;
}
#[cfg(feature = "ssr")]
pub use service::{PaymentService, Payments};

#[server(endpoint = "billing/payment-offer")]
pub async fn load_payment_offer() -> Result<PaymentOffer, AppError> {
    use crate::server_fn::{run, service, signed_in};
    run(async { service::<Payments>()?.payment_offer(signed_in().await.ok()).await }).await
}

/// The current path, so a cancelled checkout or the portal comes back to this page.
fn here() -> String {
    leptos_router::hooks::use_location().pathname.get_untracked()
}

/// The note for `?payment=…`, set when a form came back without reaching the provider.
fn payment_note(what: &str) -> Option<&'static str> {
    match what {
        "failed" => {
            Some("The payment service could not be reached. Nothing was charged; please try again in a moment.")
        }
        "refused" => Some("That cannot be bought now (it may no longer be offered, or you already have a plan)."),
        "nothing" => Some("There is nothing to manage yet: cards and invoices appear after a first payment."),
        _ => None,
    }
}

fn brand_label(brand: &str) -> String {
    match brand {
        "amex" => "American Express".into(),
        "diners" => "Diners Club".into(),
        "jcb" => "JCB".into(),
        "unionpay" => "UnionPay".into(),
        "mastercard" => "Mastercard".into(),
        other => {
            let mut chars = other.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_else(|| "Card".into())
        }
    }
}

/// Buy buttons for each pack and plan, the card and plan on file and the portal: for the credits
/// section of the account page. Nothing at all unless billing mode is "stripe".
#[component]
pub fn PaymentOptions(offer: Resource<Result<PaymentOffer, AppError>>) -> impl IntoView {
    let query = use_query_map();
    let note = move || query.read().get("payment").and_then(|what| payment_note(&what));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match offer.await {
                    Ok(offer) if offer.enabled => view! { <PaymentPanel offer note=note()/> }.into_any(),
                    Ok(_) => ().into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PaymentPanel(offer: PaymentOffer, note: Option<&'static str>) -> impl IntoView {
    let return_to = here();
    let buy = {
        let return_to = return_to.clone();
        move |item: String, label: String| {
            view! {
                <form method="post" action="/billing/checkout" class="buy-form">
                    <input type="hidden" name="item" value=item/>
                    <input type="hidden" name="return_to" value=return_to.clone()/>
                    <button type="submit">{label}</button>
                </form>
            }
        }
    };
    let live_plan = offer.plan.as_ref().is_some_and(|plan| plan.live);
    view! {
        <section class="payments" aria-labelledby="buy-credits">
            <h3 id="buy-credits">"Buy credits"</h3>
            {note.map(|text| view! { <p class="error" role="alert">{text}</p> })}
            {if offer.signed_in {
                view! {
                    <p class="hint">{format!("Payments are made on {}'s page; Atelier never sees your card number.", offer.provider)}</p>
                    <ul class="offers" aria-label="Credit packs">
                        {offer.packs.iter().map(|pack| {
                            let label = format!("Buy {} — {} for {}", pack.name, credits_label(i64::try_from(pack.credits).unwrap_or(i64::MAX)), pack.price);
                            view! { <li>{buy(format!("pack:{}", pack.id), label)}</li> }
                        }).collect_view()}
                    </ul>
                    {(!offer.plans.is_empty() && !live_plan).then(|| view! {
                        <ul class="offers" aria-label="Plans">
                            {offer.plans.iter().map(|plan| {
                                let label = format!("Subscribe to {} — {} a month for {}", plan.name, credits_label(i64::try_from(plan.monthly_credits).unwrap_or(i64::MAX)), plan.price);
                                view! { <li>{buy(format!("plan:{}", plan.id), label)}</li> }
                            }).collect_view()}
                        </ul>
                    })}
                    {offer.plan.map(|plan| view! {
                        <p class="plan-state">{format!("Plan: {} — {}{}", plan.name, plan.status.replace('_', " "),
                            plan.period_end.map(|end| format!(", current period until {}", day(end))).unwrap_or_default())}</p>
                    })}
                    {offer.card.map(|card| view! {
                        <p class="card-on-file">{format!("Card on file: {} ending in {}", brand_label(&card.brand), card.last4)}</p>
                    })}
                    {offer.has_customer.then(|| view! {
                        <form method="post" action="/billing/portal" class="portal-form">
                            <input type="hidden" name="return_to" value=return_to.clone()/>
                            <button type="submit">"Manage cards and invoices"</button>
                        </form>
                    })}
                }.into_any()
            } else {
                view! { <p><a href="/signin">"Sign in"</a>" to buy credits."</p> }.into_any()
            }}
        </section>
    }
}

/// Where a checkout returns: the payment is confirmed by the provider's webhook, which may come
/// a moment after the person; the balance shown is the one now.
#[component]
pub fn PurchaseSuccessPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| my_credit_account());
    view! {
        <section class="purchase-success">
            <h1>"Thank you"</h1>
            <p>"Your purchase is being confirmed with the payment service. The credits are added as soon as it confirms the payment, usually within seconds, and a receipt is e-mailed to you."</p>
            <Transition fallback=|| view! { <p class="hint">"Reading your balance…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(account) => view! {
                            <p class="balance">"Your balance: "<strong data-balance=account.balance>{credits_label(account.balance)}</strong></p>
                        }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Transition>
            <p><a href="/billing/success">"Check again"</a>" · "<a href="/account">"Back to your account"</a></p>
        </section>
    }
}
