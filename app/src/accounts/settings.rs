//! The account page's settings (display name, e-mail address, two-factor sign-in, opt-in
//! mailings), the second step of signing in, the page the e-mail-change link opens, and the
//! admin's announcement form. Every form is a plain form first: all of it works without
//! JavaScript, and what a form changed is read back from the server, not from the action.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::accounts::api::{
    current_account, load_mail_preferences, load_two_factor_status, ChangeDisplayName, ConfirmEmailChange,
    ConfirmTwoFactor, RenewRecoveryCodes, RequestEmailChange, SendAnnouncement, SetMailPreferences, SignInCode,
    StartTwoFactor, TurnOffTwoFactor,
};
use crate::accounts::{MailPreferences, TwoFactorStatus};
use crate::error::AppError;
use crate::ui::{action_error, reload_to, ErrorNote};

/// The second step of signing in, when the account has two-factor sign-in on.
#[component]
pub fn SignInCodePage() -> impl IntoView {
    let action = ServerAction::<SignInCode>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            reload_to("/");
        }
    });
    view! {
        <section class="auth">
            <h1>"Two-factor sign-in"</h1>
            <p class="hint">"Enter the 6-digit code your authenticator app shows for Atelier, or one of your recovery codes."</p>
            <ActionForm action=action attr:class="auth-form">
                <label>"Code" <input type="text" name="code" autocomplete="one-time-code" autocapitalize="off" spellcheck="false" required/></label>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            {action_error(action)}
            <p class="hint"><a href="/signin">"Start again"</a></p>
        </section>
    }
}

/// Where the link sent to a new address lands; a button (not the visit) confirms, so mail
/// scanners that open links do not use it up.
#[component]
pub fn EmailChangePage() -> impl IntoView {
    let query = use_query_map();
    let action = ServerAction::<ConfirmEmailChange>::new();
    let done = move || query.with(|q| q.get("done").is_some()) || matches!(action.value().get(), Some(Ok(())));
    view! {
        <section class="auth">
            <h1>"Confirm your new address"</h1>
            {move || if done() {
                view! { <p class="notice" role="status">"Your e-mail address is changed. "<a href="/account">"Back to your account"</a></p> }.into_any()
            } else {
                view! {
                    <ActionForm action=action attr:class="auth-form">
                        <input type="hidden" name="token" value=move || query.with(|q| q.get("token")).unwrap_or_default()/>
                        <button type="submit">"Use this address"</button>
                    </ActionForm>
                }.into_any()
            }}
            {action_error(action)}
        </section>
    }
}

/// Name, address, two-factor sign-in and mailings, for the signed-in person's account page.
#[component]
pub fn AccountSettings() -> impl IntoView {
    let query = use_query_map();
    let rename = ServerAction::<ChangeDisplayName>::new();
    let email = ServerAction::<RequestEmailChange>::new();
    let me = Resource::new(|| (), |_| current_account());
    // Made here, not inside the Transition that shows them: see `ai_tools::AiPanelData`.
    let two_factor = TwoFactorData::load();
    let mailings = MailingsData::load();
    Effect::new(move |_| {
        // The name shows in the header too: the page is read afresh.
        if let Some(Ok(_)) = rename.value().get() {
            reload_to("/account");
        }
    });
    let email_sent = move || query.with(|q| q.get("email").is_some()) || matches!(email.value().get(), Some(Ok(())));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(me.await).map(|me| match me {
                Ok(Some(account)) => view! {
                    <h2>"Profile"</h2>
                    <ActionForm action=rename attr:class="auth-form">
                        <label>"Display name" <input type="text" name="display_name" value=account.display_name.clone() maxlength="80" autocomplete="name" required/></label>
                        <button type="submit">"Save name"</button>
                    </ActionForm>
                    {action_error(rename)}
                    <h2>"E-mail address"</h2>
                    <p class="hint">"We send a link to the new address; the account keeps its current one until you open it, and the current one is told about the change."</p>
                    <ActionForm action=email attr:class="auth-form">
                        <label>"New e-mail address" <input type="email" name="new_email" autocomplete="email" required/></label>
                        {account.has_password.then(|| view! {
                            <label>"Your password" <input type="password" name="password" autocomplete="current-password" required/></label>
                        })}
                        <button type="submit">"Send a confirmation link"</button>
                    </ActionForm>
                    {move || email_sent().then(|| view! {
                        <p class="notice" role="status">"If that address can be used, a confirmation link is on its way to it."</p>
                    })}
                    {action_error(email)}
                    <TwoFactorSection data=two_factor/>
                    <MailingsSection data=mailings/>
                }.into_any(),
                _ => ().into_any(),
            }) })}
        </Transition>
    }
}

/// The two-factor section's actions and the status they refresh.
#[derive(Clone, Copy)]
struct TwoFactorData {
    start: ServerAction<StartTwoFactor>,
    confirm: ServerAction<ConfirmTwoFactor>,
    off: ServerAction<TurnOffTwoFactor>,
    renew: ServerAction<RenewRecoveryCodes>,
    status: Resource<Result<TwoFactorStatus, AppError>>,
}

impl TwoFactorData {
    fn load() -> Self {
        let start = ServerAction::<StartTwoFactor>::new();
        let confirm = ServerAction::<ConfirmTwoFactor>::new();
        let off = ServerAction::<TurnOffTwoFactor>::new();
        let renew = ServerAction::<RenewRecoveryCodes>::new();
        let status = Resource::new(
            move || (start.version().get(), confirm.version().get(), off.version().get(), renew.version().get()),
            |_| load_two_factor_status(),
        );
        Self { start, confirm, off, renew, status }
    }
}

#[component]
fn TwoFactorSection(data: TwoFactorData) -> impl IntoView {
    let TwoFactorData { start, confirm, off, renew, status } = data;
    view! {
        <h2 id="two-factor">"Two-factor sign-in"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(status.await).map(|status| match status {
                Ok(status) if status.enabled => view! {
                    <p data-two-factor="on">{format!(
                        "On: signing in asks for a code from your authenticator app. {} unused recovery code(s) left.",
                        status.recovery_codes_left
                    )}</p>
                    {(!status.new_recovery_codes.is_empty()).then(|| view! {
                        <div class="recovery-codes" role="status">
                            <h3>"Your recovery codes"</h3>
                            <p class="hint">"Keep them somewhere safe: each one signs you in once if you lose your phone. They are shown only this once."</p>
                            <ul aria-label="Recovery codes">
                                {status.new_recovery_codes.iter().map(|code| view! { <li><code>{code.clone()}</code></li> }).collect_view()}
                            </ul>
                        </div>
                    })}
                    <ActionForm action=off attr:class="auth-form">
                        <label>"A code from your app, a recovery code, or your password"
                            <input type="password" name="proof" autocomplete="off" required/></label>
                        <button type="submit" class="danger">"Turn off two-factor sign-in"</button>
                    </ActionForm>
                    <ActionForm action=renew attr:class="auth-form">
                        <label>"To make new recovery codes: a code from your app, or your password"
                            <input type="password" name="proof" autocomplete="off" required/></label>
                        <button type="submit">"Make new recovery codes"</button>
                    </ActionForm>
                }.into_any(),
                Ok(TwoFactorStatus { setup: Some(setup), .. }) => view! {
                    <p>"Scan this QR code with an authenticator app, or type the key into it. Then enter the 6-digit code it shows."</p>
                    {(!setup.qr_svg.is_empty()).then(|| view! { <div class="qr" aria-hidden="true" inner_html=setup.qr_svg.clone()></div> })}
                    <p>"Key: "<code id="two-factor-secret">{setup.secret.clone()}</code></p>
                    <p class="hint">"Setup link: "<code class="uri">{setup.uri.clone()}</code></p>
                    <ActionForm action=confirm attr:class="auth-form">
                        <label>"Code from the app" <input type="text" name="code" autocomplete="one-time-code" inputmode="numeric" required/></label>
                        <button type="submit">"Turn on two-factor sign-in"</button>
                    </ActionForm>
                }.into_any(),
                Ok(_) => view! {
                    <p>"Off. With it on, signing in also asks for a code from an authenticator app on your phone."</p>
                    <ActionForm action=start>
                        <button type="submit">"Set up two-factor sign-in"</button>
                    </ActionForm>
                }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            }) })}
        </Transition>
        {action_error(start)}
        {action_error(confirm)}
        {action_error(off)}
        {action_error(renew)}
    }
}

/// The mailings form's action and the choices it refreshes.
#[derive(Clone, Copy)]
struct MailingsData {
    save: ServerAction<SetMailPreferences>,
    choices: Resource<Result<MailPreferences, AppError>>,
}

impl MailingsData {
    fn load() -> Self {
        let save = ServerAction::<SetMailPreferences>::new();
        Self { save, choices: Resource::new(move || save.version().get(), |_| load_mail_preferences()) }
    }
}

#[component]
fn MailingsSection(data: MailingsData) -> impl IntoView {
    let MailingsData { save, choices } = data;
    view! {
        <h2 id="mail">"E-mails from Atelier"</h2>
        <p class="hint">"Messages about your account's security are always sent. These only if you tick them, and each carries a one-click unsubscribe link."</p>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(choices.await).map(|choices| match choices {
                Ok(choices) => view! {
                    <ActionForm action=save attr:class="auth-form">
                        <label class="check"><input type="checkbox" name="marketing" value="on" checked=choices.marketing/>" Offers and news (marketing)"</label>
                        <label class="check"><input type="checkbox" name="announcements" value="on" checked=choices.announcements/>" Product announcements"</label>
                        <button type="submit">"Save e-mail choices"</button>
                    </ActionForm>
                    {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <p class="notice" role="status">"Saved."</p> })}
                }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            }) })}
        </Transition>
        {action_error(save)}
    }
}

/// The admin's "send announcement": reaches only those who opted in to the chosen mailing.
#[component]
pub fn AnnouncementForm() -> impl IntoView {
    let send = ServerAction::<SendAnnouncement>::new();
    view! {
        <h2>"Send an announcement"</h2>
        <p class="hint">"Only accounts that opted in to the chosen kind receive it, each copy with a one-click unsubscribe link. Sending is audited."</p>
        <ActionForm action=send attr:class="auth-form">
            <label>"Kind"
                <select name="kind">
                    <option value="announcements">"Product announcement"</option>
                    <option value="marketing">"Marketing"</option>
                </select>
            </label>
            <label>"Subject" <input type="text" name="subject" maxlength="200" required/></label>
            <label>"Message" <textarea name="body" rows="8" required></textarea></label>
            <button type="submit">"Send"</button>
        </ActionForm>
        {move || match send.value().get() {
            Some(Ok(count)) => Some(view! { <p class="notice" role="status">{format!("Sending to {count} people who opted in.")}</p> }.into_any()),
            Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
            None => None,
        }}
    }
}
