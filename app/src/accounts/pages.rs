//! The account pages: sign in, sign up, confirm an address, reset a password, account settings
//! (password, sessions, and the person's own data).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::accounts::api::{
    current_account, list_sessions, sign_in_providers, ChangePassword, EndSession, RequestPasswordReset, ResetPassword,
    SignIn, SignOut, SignOutEverywhere, SignUp, VerifyEmail,
};
use crate::accounts::SignInStep;
use crate::ids::Role;
use crate::ui::{action_error, reload_to, when, ErrorNote};

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
    Effect::new(move |_| match action.value().get() {
        Some(Ok(SignInStep::SignedIn(_))) => reload_to("/"),
        Some(Ok(SignInStep::CodeNeeded)) => reload_to("/signin/code"),
        _ => {}
    });
    let failed = move || query.with(|q| q.get("failed")).map(|reason| provider_failure(&reason));
    // A link followed in a browser that did not start its flow confirms but does not sign in.
    let done = move || {
        query.with(|q| {
            if q.get("confirmed").is_some() {
                Some("Your address is confirmed. Sign in to continue.")
            } else {
                q.get("reset").is_some().then_some("Your password is changed. Sign in with it.")
            }
        })
    };
    view! {
        <section class="auth">
            <h1>"Sign in"</h1>
            {move || failed().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || done().map(|message| view! { <p class="notice" role="status">{message}</p> })}
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
    // Without JavaScript the form posts itself and comes back with `?sent`.
    let query = use_query_map();
    let sent = move || query.with(|q| q.get("sent").is_some());
    view! {
        <section class="auth">
            <h1>"Create an account"</h1>
            <p class="hint">"Anything you have uploaded as a guest moves into your account when you confirm it in this browser."</p>
            {move || match action.value().get() {
                Some(Ok(())) => view! {
                    <p class="notice" role="status">"Check your inbox: we have sent you a link to confirm your address and sign in."</p>
                }.into_any(),
                None if sent() => view! {
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
        if let Some(Ok(Some(_))) = action.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="auth">
            <h1>"Confirm your address"</h1>
            {move || match action.value().get() {
                Some(Ok(None)) => view! {
                    <p class="notice" role="status">"Your address is confirmed. "<a href="/signin">"Sign in"</a>" to continue."</p>
                }.into_any(),
                _ => view! {
                    <ActionForm action=action attr:class="auth-form">
                        <input type="hidden" name="token" value=move || query.with(|q| q.get("token")).unwrap_or_default()/>
                        <button type="submit">"Confirm my address"</button>
                    </ActionForm>
                }.into_any(),
            }}
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
        if let Some(Ok(Some(_))) = reset.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="auth">
            <h1>"Reset your password"</h1>
            {move || match token() {
                Some(_) if matches!(reset.value().get(), Some(Ok(None))) => view! {
                    <p class="notice" role="status">"Your password is changed and every session was signed out. "<a href="/signin">"Sign in"</a>" with it."</p>
                }.into_any(),
                Some(token) => view! {
                    <ActionForm action=reset attr:class="auth-form">
                        <input type="hidden" name="token" value=token/>
                        <label>"New password (at least 10 characters)" <input type="password" name="new" autocomplete="new-password" minlength="10" required/></label>
                        <button type="submit">"Set password"</button>
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

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_account());
    let password = ServerAction::<ChangePassword>::new();
    let end = ServerAction::<EndSession>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let sessions = Resource::new(move || end.version().get(), |_| list_sessions());
    // Made here, not inside the Transition that shows them: see `ai_tools::AiPanelData`.
    let your_data = crate::data::YourDataResources::load();
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
                                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                                None => None,
                            }}
                        })}
                    }.into_any(),
                    Ok(None) => view! { <p>"Please "<a href="/signin">"sign in"</a>" to see your account."</p> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
            <crate::accounts::AccountSettings/>
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
            <crate::developer::ApiKeys/>
            <h2>"Cookie consent"</h2>
            <p class="hint"><a href="/cookies#settings">"Change your cookie choices"</a></p>
            <crate::privacy::ConsentHistoryList/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(me.await).map(|me| match me {
                    Ok(Some(account)) => Some(view! {
                        <crate::data::YourData confirm_with=account.email.clone().unwrap_or(account.display_name.clone()) data=your_data/>
                    }),
                    _ => None,
                }) })}
            </Transition>
        </section>
    }
}
