//! "API keys" on the account page (make, list, revoke), the page that shows a new key once to a
//! browser without JavaScript, and the API call log. Every form is a plain form underneath.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::developer::api::{my_api_calls, my_api_keys, take_new_api_key, CreateApiKey, RevokeApiKey};
use crate::developer::{ApiCall, ApiKeyInfo, CreatedApiKey, Scope};
use crate::error::AppError;
use crate::ui::{copy_to_clipboard, when, ErrorNote};

fn scope_hint(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "list and fetch photos, versions, jobs and usage",
        Scope::Write => "upload, save versions, delete, export, run batches",
        Scope::Ai => "start AI tools",
        Scope::Generate => "generate images",
        Scope::Billing => "see the balance, buy credits",
    }
}

fn scope_names(scopes: &[Scope]) -> String {
    scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(", ")
}

/// A secret shown once: selectable text (works without JavaScript) and a copy button.
#[component]
fn ShownOnce(label: &'static str, value: String, test_id: &'static str) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let text = value.clone();
    view! {
        <div class="shown-once">
            <label>{label}
                <input type="text" readonly value=value data-testid=test_id class="secret" size="72" autocomplete="off"/>
            </label>
            <button type="button" on:click=move |_| copy_to_clipboard(text.clone(), copied)>"Copy"</button>
            {move || match copied.get() {
                Some(true) => Some(view! { <span class="notice" role="status">" Copied."</span> }.into_any()),
                Some(false) => Some(view! { <span class="hint" role="status">" Select the text and copy it."</span> }.into_any()),
                None => None,
            }}
        </div>
    }
}

/// The token (and webhook secret) of a key just made.
#[component]
fn NewKeyNotice(created: CreatedApiKey) -> impl IntoView {
    view! {
        <div class="notice new-api-key" role="status">
            <p>{format!("Key \"{}\" created. Copy it now: it is shown only this once, and Atelier keeps only a hash of it.", created.key.name)}</p>
            <ShownOnce label="API key" value=created.token test_id="api-token"/>
            {created.webhook_secret.map(|secret| view! {
                <p class="hint">"Completion webhooks to this key's URL carry an HMAC-SHA256 signature made with this secret:"</p>
                <ShownOnce label="Webhook signing secret" value=secret test_id="webhook-secret"/>
            })}
            <p class="hint">"Send it as "<code>"Authorization: Bearer <key>"</code>" to "<code>"/api/v1"</code>"."</p>
        </div>
    }
}

fn key_row(key: ApiKeyInfo, revoke: ServerAction<RevokeApiKey>, now: i64) -> impl IntoView {
    let state = if key.revoked_at.is_some() {
        "revoked"
    } else if key.active(now) {
        "active"
    } else {
        "expired"
    };
    let last_used = match (key.last_used_at, key.last_used_ip.clone()) {
        (Some(at), Some(ip)) => format!("{} from {ip}", when(at)),
        (Some(at), None) => when(at),
        _ => "never".to_string(),
    };
    let expires = match (key.revoked_at, key.expires_at) {
        (Some(at), _) => format!("revoked {}", when(at)),
        (None, Some(at)) => when(at),
        (None, None) => "never".to_string(),
    };
    view! {
        <tr data-prefix=key.prefix.clone() data-state=state>
            <td>{key.name.clone()}</td>
            <td><code>{key.prefix.clone()}"…"</code></td>
            <td>{scope_names(&key.scopes)}</td>
            <td>{when(key.created_at)}</td>
            <td>{expires}</td>
            <td>{last_used}</td>
            <td>
                {(state != "revoked").then(|| view! {
                    // A second, explicit step without needing a script: the button sits inside a
                    // closed disclosure.
                    <details class="confirm">
                        <summary>"Revoke…"</summary>
                        <ActionForm action=revoke attr:class="inline">
                            <input type="hidden" name="id" value=key.id.to_string()/>
                            <button type="submit" class="danger">{format!("Revoke \"{}\" now", key.name)}</button>
                        </ActionForm>
                    </details>
                })}
            </td>
        </tr>
    }
}

/// The account page's "API keys" section.
#[component]
pub fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| my_api_keys());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(keys.await).map(|keys| match keys {
                // Not signed in: the account page says so already.
                Err(AppError::Unauthorized) => ().into_any(),
                Err(error) => view! { <h2>"API keys"</h2><ErrorNote error/> }.into_any(),
                Ok(keys) => {
                    let now = unix_now();
                    view! {
                        <section class="api-keys" aria-labelledby="api-keys-title">
                            <h2 id="api-keys-title">"API keys"</h2>
                            <p class="hint">"A key lets a script use Atelier's API ("<code>"/api/v1"</code>") as you, with only the scopes you tick. It never signs in to these pages. "
                                <a href="/account/api-calls">"See the API call log"</a>"."</p>
                            {move || match create.value().get() {
                                Some(Ok(created)) => Some(view! { <NewKeyNotice created/> }.into_any()),
                                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                                None => None,
                            }}
                            {move || match revoke.value().get() {
                                Some(Ok(())) => Some(view! { <p class="notice" role="status">"Key revoked: it stopped working at once."</p> }.into_any()),
                                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                                None => None,
                            }}
                            {if keys.is_empty() {
                                view! { <p class="hint">"No API keys yet."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="api-key-list" aria-label="API keys">
                                        <thead><tr><th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                                        <tbody>{keys.into_iter().map(|key| key_row(key, revoke, now)).collect_view()}</tbody>
                                    </table>
                                }.into_any()
                            }}
                            <h3>"Create a key"</h3>
                            <ActionForm action=create attr:class="auth-form api-key-form">
                                <label>"Name" <input type="text" name="name" maxlength="100" required placeholder="e.g. nightly export script"/></label>
                                <fieldset>
                                    <legend>"Scopes"</legend>
                                    {Scope::ALL.into_iter().map(|scope| view! {
                                        <label><input type="checkbox" name=scope.as_str() value="on" checked=scope == Scope::Read/>
                                            " "<strong>{scope.as_str()}</strong>" — "{scope_hint(scope)}</label>
                                    }).collect_view()}
                                </fieldset>
                                <label>"Expires after (days; empty: never)" <input type="number" name="expires_in_days" min="1" max="3650" inputmode="numeric"/></label>
                                <label>"Completion webhook URL (optional)" <input type="url" name="webhook_url" placeholder="https://example.com/atelier-hook"/></label>
                                <button type="submit">"Create key"</button>
                            </ActionForm>
                        </section>
                    }.into_any()
                }
            }) })}
        </Transition>
    }
}

/// Where a browser without JavaScript lands after making a key: the key, once.
#[component]
pub fn NewApiKeyPage() -> impl IntoView {
    let created = Resource::new(|| (), |_| take_new_api_key());
    view! {
        <section class="account">
            <h1>"New API key"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { Some(created.await).map(|created| match created {
                    Ok(Some(created)) => view! { <NewKeyNotice created/> }.into_any(),
                    Ok(None) => view! { <p class="hint">"This key was shown already: Atelier cannot show it again. Revoke it and make a new one if it was not copied."</p> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Suspense>
            <p><a href="/account">"Back to your account"</a></p>
        </section>
    }
}

fn call_row(call: ApiCall) -> impl IntoView {
    view! {
        <tr data-status=call.status.to_string()>
            <td>{when(call.created_at)}</td>
            <td>{call.key_name}" "<code>{call.key_prefix}</code></td>
            <td>{call.method}</td>
            <td><code>{call.path}</code></td>
            <td>{call.status}</td>
            <td>{format!("{} ms", call.duration_ms)}</td>
        </tr>
    }
}

/// `/account/api-calls`: every call made with the account's keys, newest first, a page at a time.
#[component]
pub fn ApiCallsPage() -> impl IntoView {
    let query = use_query_map();
    let calls = Resource::new(move || query.with(|q| q.get("before")), my_api_calls);
    view! {
        <section class="account">
            <h1>"API call log"</h1>
            <p class="hint">"Calls made with your API keys: when, with which key, what was asked and how it went. Bodies and query strings are never kept; entries are deleted after a while."</p>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || Suspend::new(async move { Some(calls.await).map(|page| match page {
                    Ok(page) if page.calls.is_empty() => view! { <p class="hint">"No calls yet."</p> }.into_any(),
                    Ok(page) => view! {
                        <table class="api-calls" aria-label="API calls">
                            <thead><tr><th>"When"</th><th>"Key"</th><th>"Method"</th><th>"Path"</th><th>"Status"</th><th>"Took"</th></tr></thead>
                            <tbody>{page.calls.into_iter().map(call_row).collect_view()}</tbody>
                        </table>
                        {page.next.map(|next| view! { <p><a href=format!("/account/api-calls?before={next}")>"Older calls"</a></p> })}
                    }.into_any(),
                    Err(AppError::Unauthorized) => view! { <p>"Please "<a href="/signin">"sign in"</a>" to see your API calls."</p> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
            <p><a href="/account">"Back to your account"</a></p>
        </section>
    }
}

fn unix_now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
    }
}
