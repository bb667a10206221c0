//! Credits in the pages: the balance and its history on the account page, a tool's price beside
//! its button, and the administrator's grant form.

use leptos::prelude::*;

use crate::billing::api::{my_credit_account, AdminGrantCredits};
use crate::billing::{BillingMode, CreditAccount, CreditPrices};
use crate::error::AppError;
use crate::ids::AccountId;
use crate::ui::{when, ErrorNote};

/// The prices, loaded once by a page outside its `Suspense`s (see `ai_tools::AiPanelData`).
pub type Prices = Resource<Result<CreditPrices, AppError>>;

pub fn load_prices() -> Prices {
    Resource::new(|| (), |_| crate::billing::api::tool_credit_prices())
}

/// What the credits section loads, made by the account page outside its `Suspense`s.
#[derive(Clone, Copy)]
pub struct CreditsData {
    pub account: Resource<Result<CreditAccount, AppError>>,
    /// The packs and plans on sale (nothing unless billing mode is "stripe").
    pub offer: Resource<Result<crate::billing::checkout::PaymentOffer, AppError>>,
}

impl CreditsData {
    pub fn load() -> Self {
        Self {
            account: Resource::new(|| (), |_| my_credit_account()),
            offer: Resource::new(|| (), |_| crate::billing::checkout::load_payment_offer()),
        }
    }
}

/// "Costs N credits" (or that it is free) for `times` runs of `tool`, once the prices are known.
#[component]
pub fn CostNote(#[prop(into)] tool: String, prices: Prices, #[prop(default = 1)] times: i64) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {
                let tool = tool.clone();
                move || {
                    let tool = tool.clone();
                    Suspend::new(async move {
                        prices.await.ok().map(|prices| {
                            let label = if prices.mode.enforced() {
                                format!("Costs {}", prices.label(prices.cost(&tool) * times))
                            } else {
                                "Free on this server".to_string()
                            };
                            view! { <span class="credit-cost" data-tool=tool.clone()>{label}</span> }
                        })
                    })
                }
            }
        </Transition>
    }
    .into_any()
}

/// A batch pipeline's price per photo: the sum of its AI steps' costs.
#[component]
pub fn PipelineCost(tools: Vec<String>, prices: Prices) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {
                let tools = tools.clone();
                move || {
                    let tools = tools.clone();
                    Suspend::new(async move {
                        prices.await.ok().filter(|prices| prices.mode.enforced()).map(|prices| {
                            let credits: i64 = tools.iter().map(|tool| prices.cost(tool)).sum();
                            view! { <span class="credit-cost">{format!("{} a photo", prices.label(credits))}</span> }
                        })
                    })
                }
            }
        </Transition>
    }
    .into_any()
}

/// The account page's "Credits": the balance, what jobs hold, the allowance and the history.
#[component]
pub fn CreditsSection(data: CreditsData) -> impl IntoView {
    let CreditsData { account, offer } = data;
    view! {
        <section class="credits" aria-labelledby="credits-title">
            <h2 id="credits-title">"Credits"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(account.await).map(|account| match account {
                    Ok(account) => credits_view(account).into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
            <crate::billing::checkout::PaymentOptions offer/>
        </section>
    }
    .into_any()
}

fn credits_view(account: CreditAccount) -> impl IntoView {
    if account.mode == BillingMode::Off {
        return view! { <p class="hint" data-mode="off">"AI tools are free on this server: nothing is counted."</p> }
            .into_any();
    }
    let allowance = (account.monthly_allowance > 0)
        .then(|| format!("You get {} free credits each month.", account.monthly_allowance));
    view! {
        <p class="credit-balance">
            "Balance: " <strong data-balance=account.balance>{account.balance}</strong>" credits"
            {(account.held > 0).then(|| format!(" ({} held by jobs that are queued or running)", account.held))}
        </p>
        {allowance.map(|text| view! { <p class="hint">{text}</p> })}
        <p class="hint">"A job holds its credits when it is queued; they are spent when it succeeds and come back if it fails or is cancelled."</p>
        <table class="credit-ledger" aria-label="Credit history">
            <thead><tr><th>"When"</th><th>"What"</th><th>"Credits"</th><th>"Note"</th></tr></thead>
            <tbody>
                {account.entries.into_iter().map(|entry| view! {
                    <tr data-kind=entry.kind.name()>
                        <td>{when(entry.created_at)}</td>
                        <td>{entry.kind.label()}</td>
                        <td>{if entry.credits > 0 { format!("+{}", entry.credits) } else { entry.credits.to_string() }}</td>
                        // An empty text node is not in the server's HTML, so hydration would miss it.
                        <td>{if entry.note.is_empty() { "—".to_string() } else { entry.note }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// On the admin page, per account: grant credits (audited). The hidden reference makes a form
/// sent twice grant once.
#[component]
pub fn GrantCredits(account: AccountId) -> impl IntoView {
    let grant = ServerAction::<AdminGrantCredits>::new();
    // New with each rendering and each completed grant; the same while a grant is on its way.
    let base = format!("{account}-{}", render_time());
    let reference = move || format!("{base}-{}", grant.version().get());
    view! {
        <details class="admin-grant">
            <summary>"Grant credits (audited)"</summary>
            <ActionForm action=grant attr:class="inline">
                <input type="hidden" name="grant[account]" value=account.to_string()/>
                <input type="hidden" name="grant[reference]" value=reference/>
                <label>"Credits" <input type="number" name="grant[credits]" min="1" max="1000000" required/></label>
                <label>"Note" <input type="text" name="grant[note]" maxlength="200"/></label>
                <button type="submit">"Grant"</button>
            </ActionForm>
            {move || grant.value().get().map(|result| match result {
                Ok(true) => view! { <p role="status">"Granted."</p> }.into_any(),
                Ok(false) => view! { <p role="status">"This grant was already made."</p> }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            })}
        </details>
    }
    .into_any()
}

/// A number that differs between renderings: the time in microseconds where the page is drawn.
fn render_time() -> u128 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() * 1000.0) as u128
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros())
    }
}
