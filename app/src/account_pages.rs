//! The account pages: sign in, sign up, confirm an address, reset a password, account settings
//! (password, sessions) and the admin page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::{
    admin_accounts, current_account, list_sessions, sign_in_providers, ChangePassword, EndSession,
    RequestPasswordReset, ResetPassword, SignIn, SignOut, SignOutEverywhere, SignUp, VerifyEmail,
};
use crate::error::AppError;
use crate::model::Role;
use crate::pages::NotFound;

/// After signing in or out every part of the page must see it: load `path` afresh.
pub(crate) fn reload_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Shows an action's error, if its last run failed.
fn action_error<S>(action: ServerAction<S>) -> impl IntoView
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }),
        _ => None,
    }
}

/// The header's corner: who is signed in, or a way to sign in.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_account());
    let signing_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = signing_out.value().get() {
            reload_to("/");
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(me.await).map(|me| match me {
                Ok(Some(account)) => view! {
                    <span class="account-menu">
                        <a href="/account" class="account-name">{account.display_name}</a>
                        <ActionForm action=signing_out attr:class="inline">
                            <button type="submit" class="link">"Sign out"</button>
                        </ActionForm>
                    </span>
                }.into_any(),
                _ => view! { <a href="/signin" class="account-name">"Sign in"</a> }.into_any(),
            }) })}
        </Transition>
    }
}

fn provider_failure(reason: &str) -> &'static str {
    match reason {
        "denied" => "The sign-in was cancelled at the provider.",
        "expired" => "That sign-in took too long or was already used. Please try again.",
        "unavailable" => "That provider cannot be reached right now. Please try again later.",
        _ => "The sign-in could not be completed. Please try again.",
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let providers = Resource::new(|| (), |_| sign_in_providers());
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            reload_to("/");
        }
    });
    let failed = move || query.with(|q| q.get("failed")).map(|reason| provider_failure(&reason));
    view! {
        <section class="auth">
            <h1>"Sign in"</h1>
            {move || failed().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(providers.await).map(|list| {
                    let list = list.unwrap_or_default();
                    (!list.is_empty()).then(|| view! {
                        <ul class="providers">
                            {list.into_iter().map(|provider| view! {
                                <li>
                                    <a class="button" rel="external" href=format!("/auth/{}/start?return_to=/", provider.id)>
                                        {format!("Continue with {}", provider.name)}
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                        <p class="hint">"or with your e-mail address"</p>
                    })
                }) })}
            </Transition>
            <ActionForm action=action attr:class="auth-form">
                <label>"E-mail" <input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            {action_error(action)}
            <p class="hint"><a href="/signup">"Create an account"</a>" · "<a href="/reset">"Forgot your password?"</a></p>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    view! {
        <section class="auth">
            <h1>"Create an account"</h1>
            <p class="hint">"Anything you have uploaded as a guest moves into your account."</p>
            {move || match action.value().get() {
                Some(Ok(())) => view! {
                    <p class="notice" role="status">"Check your inbox: we have sent you a link to confirm your address and sign in."</p>
                }.into_any(),
                _ => view! {
                    <ActionForm action=action attr:class="auth-form">
                        <label>"Your name" <input type="text" name="display_name" autocomplete="name" maxlength="80"/></label>
                        <label>"E-mail" <input type="email" name="email" autocomplete="username" required/></label>
                        <label>"Password (at least 10 characters)" <input type="password" name="password" autocomplete="new-password" minlength="10" required/></label>
                        <button type="submit">"Create account"</button>
                    </ActionForm>
                }.into_any(),
            }}
            {action_error(action)}
            <p class="hint">"Have an account? "<a href="/signin">"Sign in"</a></p>
        </section>
    }
}

/// The link from the confirmation e-mail lands here; a button (not the visit itself) confirms,
/// so mail scanners that open links do not use up the token.
#[component]
pub fn VerifyPage() -> impl IntoView {
    let query = use_query_map();
    let action = ServerAction::<VerifyEmail>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="auth">
            <h1>"Confirm your address"</h1>
            <ActionForm action=action attr:class="auth-form">
                <input type="hidden" name="token" value=move || query.with(|q| q.get("token")).unwrap_or_default()/>
                <button type="submit">"Confirm and sign in"</button>
            </ActionForm>
            {action_error(action)}
        </section>
    }
}

#[component]
pub fn ResetPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token"));
    let ask = ServerAction::<RequestPasswordReset>::new();
    let reset = ServerAction::<ResetPassword>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = reset.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="auth">
            <h1>"Reset your password"</h1>
            {move || match token() {
                Some(token) => view! {
                    <ActionForm action=reset attr:class="auth-form">
                        <input type="hidden" name="token" value=token/>
                        <label>"New password (at least 10 characters)" <input type="password" name="new" autocomplete="new-password" minlength="10" required/></label>
                        <button type="submit">"Set password and sign in"</button>
                    </ActionForm>
                    {action_error(reset)}
                }.into_any(),
                None => view! {
                    {move || match ask.value().get() {
                        Some(Ok(())) => Some(view! {
                            <p class="notice" role="status">"If that address has an account, a link to reset its password is on its way."</p>
                        }),
                        _ => None,
                    }}
                    <ActionForm action=ask attr:class="auth-form">
                        <label>"E-mail" <input type="email" name="email" autocomplete="username" required/></label>
                        <button type="submit">"Send me a link"</button>
                    </ActionForm>
                    {action_error(ask)}
                }.into_any(),
            }}
        </section>
    }
}

pub fn when(unix: i64) -> String {
    // Shown as UTC date and time; the browser's zone would differ between server and client render.
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// The UTC date alone, "YYYY-MM-DD".
pub fn day(unix: i64) -> String {
    when(unix).chars().take(10).collect()
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_account());
    let password = ServerAction::<ChangePassword>::new();
    let end = ServerAction::<EndSession>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let sessions = Resource::new(move || end.version().get(), |_| list_sessions());
    // Made here, not inside the Transition that shows them: see `ai_panel::AiPanelData`.
    let your_data = crate::data_pages::YourDataResources::load();
    Effect::new(move |_| {
        if let Some(Ok(())) = everywhere.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="account">
            <h1>"Account"</h1>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || Suspend::new(async move { Some(me.await).map(|me| match me {
                    Ok(Some(account)) => view! {
                        <dl class="profile">
                            <dt>"Name"</dt><dd>{account.display_name.clone()}</dd>
                            <dt>"E-mail"</dt>
                            <dd>{account.email.clone().unwrap_or_else(|| "none shared".into())}
                                {(account.email.is_some() && !account.email_verified).then_some(" (not confirmed)")}</dd>
                            <dt>"Role"</dt><dd>{if account.role == Role::Admin { "Administrator" } else { "Member" }}</dd>
                        </dl>
                        {account.has_password.then(|| view! {
                            <h2>"Change password"</h2>
                            <ActionForm action=password attr:class="auth-form">
                                <label>"Current password" <input type="password" name="current" autocomplete="current-password" required/></label>
                                <label>"New password (at least 10 characters)" <input type="password" name="new" autocomplete="new-password" minlength="10" required/></label>
                                <button type="submit">"Change password"</button>
                            </ActionForm>
                            {move || match password.value().get() {
                                Some(Ok(())) => Some(view! { <p class="notice" role="status">"Password changed. Other sessions were signed out."</p> }.into_any()),
                                Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()),
                                None => None,
                            }}
                        })}
                    }.into_any(),
                    Ok(None) => view! { <p>"Please "<a href="/signin">"sign in"</a>" to see your account."</p> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }) })}
            </Transition>
            <h2>"Where you are signed in"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(sessions.await).map(|list| match list {
                    Ok(list) => view! {
                        <ul class="sessions" aria-label="Sessions">
                            {list.into_iter().map(|info| view! {
                                <li data-current=info.current.to_string()>
                                    <span>{info.device.clone()}{info.current.then_some(" · this browser")}</span>
                                    <span class="card-meta">{format!("signed in {}", when(info.signed_in_at))}</span>
                                    <ActionForm action=end attr:class="inline">
                                        <input type="hidden" name="handle" value=info.handle.clone()/>
                                        <button type="submit" class="link">"Sign out"</button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(_) => ().into_any(),
                }) })}
            </Transition>
            <ActionForm action=everywhere>
                <button type="submit" class="danger">"Sign out everywhere"</button>
            </ActionForm>
            <h2>"Cookie consent"</h2>
            <p class="hint"><a href="/cookies#settings">"Change your cookie choices"</a></p>
            <crate::privacy::ConsentHistoryList/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(me.await).map(|me| match me {
                    Ok(Some(account)) => Some(view! {
                        <crate::data_pages::YourData confirm_with=account.email.clone().unwrap_or(account.display_name.clone()) data=your_data/>
                    }),
                    _ => None,
                }) })}
            </Transition>
        </section>
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| admin_accounts());
    // Made here, not inside the Suspense that shows them: see `ai_panel::AiPanelData`.
    let held = crate::ai_panel::HeldData::load();
    let audit = crate::data_pages::admin_audit_entries();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move { Some(overview.await).map(|overview| match overview {
                Ok(overview) => view! {
                    <section class="admin">
                        <h1>"Administration"</h1>
                        <table>
                            <thead><tr><th>"Name"</th><th>"E-mail"</th><th>"Role"</th><th>"Photos"</th><th>"Joined"</th><th>"Data"</th></tr></thead>
                            <tbody>
                                {overview.accounts.into_iter().map(|row| view! {
                                    <tr>
                                        <td>{row.display_name}</td>
                                        <td>{row.email.unwrap_or_default()}</td>
                                        <td>{if row.role == Role::Admin { "admin" } else { "user" }}</td>
                                        <td>{row.photos}</td>
                                        <td>{when(row.created_at)}</td>
                                        <td><crate::data_pages::AdminWorkspaceForm account=row.id/></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>"Page views (with analytics consent only)"</h2>
                        <table aria-label="Page views">
                            <thead><tr><th>"Page"</th><th>"Views"</th><th>"Visitors"</th></tr></thead>
                            <tbody>
                                {overview.page_views.into_iter().map(|row| view! {
                                    <tr><td>{row.path}</td><td>{row.views}</td><td>{row.visitors}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>"Consent records"</h2>
                        <p><a href="/admin/consent-records.csv" rel="external" download>"Export all consent records (CSV)"</a></p>
                        <crate::ai_panel::HeldUploads data=held/>
                        <crate::data_pages::AdminAuditLog entries=audit/>
                    </section>
                }.into_any(),
                Err(_) => view! { <NotFound/> }.into_any(),
            }) })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rendered_in_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
