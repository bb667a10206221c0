//! The consent banner, the cookie settings, and the privacy and cookie policies, all rendered on
//! the server from the live configuration and the cookie registry (`consent.rs`). The choices are
//! plain HTML forms posting to `/consent`, so they work before (and without) hydration.

use leptos::prelude::*;

use crate::privacy::api::{consent_history, consent_state, privacy_facts};
use crate::privacy::{Category, Choices, COOKIES};
use crate::ui::{when, ErrorNote};

/// The current path, so a choice returns to the page it was made on.
fn here() -> String {
    leptos_router::hooks::use_location().pathname.get_untracked()
}

/// The three equally weighted first-layer buttons, and the per-category choices behind
/// "Customize" (a `<details>`, so it opens without JavaScript). Nothing is pre-ticked unless
/// the visitor ticked it before.
#[component]
fn ChoiceForm(choices: Choices, gpc: bool, #[prop(optional)] settings_page: bool) -> impl IntoView {
    let return_to = here();
    let category = move |category: Category, checked: bool| {
        let key = category.key();
        let locked = category == Category::Analytics && gpc;
        view! {
            <label class="consent-category">
                <input type="checkbox" name=key checked=checked && !locked disabled=locked/>
                <span><strong>{category.label()}</strong>" — "{category.purpose()}
                    {locked.then_some(" (Off: your browser sends Global Privacy Control.)")}</span>
            </label>
        }
    };
    view! {
        <form method="post" action="/consent" class="consent-form">
            <input type="hidden" name="return_to" value=return_to/>
            <div class="consent-buttons">
                <button type="submit" name="choice" value="accept_all">"Accept all"</button>
                <button type="submit" name="choice" value="reject_all">"Reject all"</button>
                {(!settings_page).then(|| view! {
                    <a class="button" href="/cookies#settings" role="button">"Customize"</a>
                })}
            </div>
            {settings_page.then(|| view! {
                <fieldset class="consent-categories">
                    <legend>"Choose what to allow"</legend>
                    <label class="consent-category">
                        <input type="checkbox" checked disabled/>
                        <span><strong>{Category::Necessary.label()}</strong>" — "{Category::Necessary.purpose()}</span>
                    </label>
                    {category(Category::Preferences, choices.preferences)}
                    {category(Category::Analytics, choices.analytics)}
                    {category(Category::Marketing, choices.marketing)}
                    <button type="submit" name="choice" value="save">"Save my choices"</button>
                </fieldset>
            })}
        </form>
    }
}

/// Shown until the visitor answers (and again when the policy version changes). The site works
/// fully whatever they choose, or if they ignore it.
#[component]
pub fn ConsentBanner() -> impl IntoView {
    let state = Resource::new(|| (), |_| consent_state());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(state.await).and_then(Result::ok).filter(|view| view.ask).map(|view| view! {
                <section class="consent-banner" role="region" aria-label="Cookie choices">
                    <p>
                        "Atelier uses the cookies it needs to work. With your permission it also remembers your preferences "
                        "and counts page views with its own statistics — nothing is shared with anyone. "
                        <a href="/cookies">"Cookie policy"</a>
                        {view.gpc.then_some(" Your browser's Global Privacy Control signal is honoured: analytics stay off.")}
                    </p>
                    <ChoiceForm choices=Choices::NONE gpc=view.gpc/>
                </section>
            }) })}
        </Transition>
    }
}

/// The cookie policy: the registry as a table, the visitor's current choices, and their history.
#[component]
pub fn CookiePolicyPage() -> impl IntoView {
    let state = Resource::new(|| (), |_| consent_state());
    view! {
        <section class="policy">
            <h1>"Cookie policy"</h1>
            <p>"Every cookie Atelier can set is listed here; no other cookie is ever set, and no third party sets any. "
               "Strictly necessary cookies are always on; every other category waits for your permission, which you can change or withdraw below at any time. "
               "Withdrawing deletes the cookies of that category at once."</p>
            <table class="cookie-table">
                <thead><tr><th>"Cookie"</th><th>"Category"</th><th>"Purpose"</th><th>"Lifetime"</th></tr></thead>
                <tbody>
                    {COOKIES.iter().map(|cookie| view! {
                        <tr>
                            <td><code>{cookie.name}</code></td>
                            <td>{cookie.category.label()}</td>
                            <td>{cookie.purpose}</td>
                            <td>{cookie.lifetime}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p>{Category::Marketing.label()}": "{Category::Marketing.purpose()}</p>
            <h2 id="settings">"Cookie settings"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(state.await).and_then(Result::ok).map(|view| view! {
                    <ChoiceForm choices=view.choices gpc=view.gpc settings_page=true/>
                }) })}
            </Transition>
            <h2 id="history">"Your consent history"</h2>
            <ConsentHistoryList/>
        </section>
    }
}

/// Every choice recorded for this browser's consent id and the signed-in account, newest first.
#[component]
pub fn ConsentHistoryList() -> impl IntoView {
    let history = Resource::new(|| (), |_| consent_history());
    view! {
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(history.await).map(|records| match records {
                    Ok(records) if records.is_empty() => view! { <p class="hint">"No choice recorded yet."</p> }.into_any(),
                    Ok(records) => view! {
                        <ul class="consent-history" aria-label="Consent history">
                            {records.into_iter().map(|record| {
                                let allowed: Vec<&str> = [Category::Preferences, Category::Analytics, Category::Marketing]
                                    .into_iter().filter(|c| record.choices.allows(*c)).map(Category::label).collect();
                                view! {
                                    <li data-action=record.action.clone()>
                                        {format!("{} · {} · allowed: {} · policy v{}", when(record.created_at), action_label(&record.action),
                                            if allowed.is_empty() { "only strictly necessary".to_string() } else { allowed.join(", ") },
                                            record.policy_version)}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
    }
}

fn action_label(action: &str) -> &'static str {
    match action {
        "accept_all" => "Accepted all",
        "reject_all" => "Rejected all",
        "withdraw" => "Withdrew consent",
        _ => "Saved choices",
    }
}

/// The privacy policy, written for this installation from its live configuration.
#[component]
pub fn PrivacyPage() -> impl IntoView {
    let facts = Resource::new(|| (), |_| privacy_facts());
    view! {
        <section class="policy">
            <h1>"Privacy policy"</h1>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(facts.await).and_then(Result::ok).map(|facts| view! {
                    <p class="hint">{format!("Policy version {}.", facts.policy_version)}</p>
                    <h2>"What this Atelier keeps"</h2>
                    <ul>
                        <li>"Photos you upload (up to "{facts.max_upload_mb}" MB each), their thumbnails, and the versions you save with their edit recipes. "
                            "They are stored on this server only, as the files you sent minus their location and every other metadata block (camera, software, comments), and shown to nobody but you: another visitor gets “not found”."</li>
                        <li>"If you create an account: your name, e-mail address and a salted Argon2id hash of your password (never the password), or the identifier of the provider you signed in with. "
                            "Access tokens from providers are used once to learn who you are and never kept."</li>
                        <li>"Your sessions: when and with which kind of browser you signed in, so you can see and end them in your account. "
                            {format!("A session ends after {} days without a visit, and {} days after signing in at most.", facts.session_idle_days, facts.session_absolute_days)}</li>
                        <li>"Your cookie choices, as consent records (a random consent id, what you allowed, when, and the policy version), so we can show you what you agreed to."</li>
                        <li>"With your permission only: page views counted by Atelier's own statistics (the page, the day and a hash of a random cookie; no IP address, no browser details, no account)."</li>
                        <li>"Usage records: which tool ran, how long it took, the image sizes it read and wrote, and the credits it cost. Never your pictures, file names or what you typed. You can see yours, by day and tool, in your account."</li>
                        <li>"Credits, when this server counts them: each credit given, bought or spent (held when a job is queued, spent when it succeeds, given back when it fails or is cancelled), with the job it was for and a short note. Your balance is their sum; you see the history in your account. After your account is deleted they are kept for the operator's accounts without anything that points to you."</li>
                        <li>"An audit log of security events: sign-ins, cookie choices, exports, deletions, and every time an administrator looks at your workspace (with the reason they gave). You can read your own entries in your account."</li>
                    </ul>
                    <h2>"How it protects them"</h2>
                    <ul>
                        <li>"Every stored file is encrypted (AES-256-GCM) with a key of its own, which is itself encrypted with a key kept apart from the data. A file that was changed, or moved to another place, is refused rather than shown."</li>
                        <li>{format!("Pictures are served only through signed links made for you, which stop working after {} minutes; pages ask for fresh ones each time.", facts.download_link_minutes)}</li>
                        <li>"Administrators can see someone's workspace only by stating a reason, which is written to that person's audit log first; they see names and sizes, not the pictures."</li>
                    </ul>
                    <h2>"AI tools"</h2>
                    <ul>
                        <li>"Every AI tool runs on this server, with models stored on it. Your photos are not sent anywhere else for them, except to a vision service named below when one is configured."</li>
                        {crate::ai_tools::ToolKind::ALL.iter().map(|tool| view! { <li>{tool.info().privacy}</li> }).collect_view()}
                        <li>{match &facts.vision_provider {
                            Some(host) => format!("Captions: when you ask for tags and alt-text, the photo, scaled down to 1024 pixels, is sent to {host}, the vision service this server's operator configured, which answers with one sentence."),
                            None => "No outside vision service is configured: tags and alt-text come from detectors running on this server.".to_string(),
                        }}</li>
                        {if facts.image_services.is_empty() {
                            view! { <li>"No image generation service is configured: the studio cannot generate images, and nothing is sent anywhere for it."</li> }.into_any()
                        } else {
                            view! {
                                <li>"Image generation: when you generate in the studio, your prompt, negative prompt and settings are sent to the image service you pick, one of those this server's operator configured:"
                                    <ul>{facts.image_services.iter().map(|(name, host)| view! { <li>{format!("{name}, at {host}")}</li> }).collect_view()}</ul>
                                    "When you give a reference photo, that photo (scaled to the size asked for) is sent too; for generative fill, the photo and the mask you painted. Nothing else about you or your workspace is sent. Each image that comes back is checked by the same moderation as uploads, and kept like an unsaved upload until you save it."</li>
                                <li>{format!("Your prompt history (prompts, settings, service, model, seed) is kept for you until you delete it — one run or all at once — and at most {} days; it is part of \"Download my data\" and goes with your account. Usage records count images and time, never the prompt.", facts.saved_retention_days)}</li>
                            }.into_any()
                        }}
                        <li>"When you upload a photo, its camera make and model, the date it was taken and its exposure settings are read from its metadata to suggest tags; its location is never read. The stored photo keeps no metadata."</li>
                        <li>{format!("An AI result is kept {} hours, then deleted with its files, unless you save it to your gallery: that makes a copy kept like any gallery item.", facts.unsaved_retention_hours)}</li>
                        <li>{format!("A batch and the results of it you did not save to the gallery are deleted {} hours after it started; results saved to the gallery are kept like any gallery item. Pipelines you save are yours until you delete them, are part of \"Download my data\" and go with your account.", facts.unsaved_retention_hours)}</li>
                        <li>{match facts.moderation_threshold {
                            Some(threshold) => format!("Each upload is checked on this server by an image classifier (open_nsfw). An upload it scores at {threshold:.2} or above is held: nobody can open it until an administrator releases it, and unless one does, it is deleted like any unsaved upload, {} hours after you uploaded it. The decision is written to your audit log.", facts.unsaved_retention_hours),
                            None => "Uploads are not checked automatically: no moderation model is installed on this server.".to_string(),
                        }}</li>
                    </ul>
                    <h2>"Search"</h2>
                    <ul>
                        <li>"To let you search your photos, each one is read on this server after you upload it: the objects, faces (counted, never recognised) and colours it shows and the text in it (OCR). "
                            "Its words (name, tags, alt-text, that text, camera, colours, month) and a search embedding — 384 numbers a language model on this server computes from its description and text, which say what the photo is about — are kept in a search index. "
                            "Nothing is sent anywhere for it. The index entry is deleted with its photo, is part of \"Download my data\" (the numbers included) and goes with your account."</li>
                        <li>"What you type in the search box is used for that search only and is not stored."</li>
                    </ul>
                    <crate::people::PeoplePolicy/>
                    <h2>"How long it keeps them"</h2>
                    <ul>
                        <li>{format!("An upload you have not saved a version of is deleted, with its files, {} hours after you uploaded it.", facts.unsaved_retention_hours)}</li>
                        <li>{format!("A version you saved to your gallery is kept for {} days, then deleted with its files; the original it was made from goes with the last version made from it. The gallery shows each item's date, and warns {} days before.", facts.saved_retention_days, facts.expiry_warning_days)}</li>
                        <li>{format!("A “Download my data” archive is deleted {} hours after it is ready.", facts.export_retention_hours)}</li>
                        <li>"Each of these is deleted at its own due time: the deletion runs when the oldest item falls due, so nothing outlives its time by more than a few seconds. What you delete yourself is removed at once, files included."</li>
                        <li>"Deleting your account erases at once your account, photos, edits, exports, sessions, sign-in links, consent records and audit entries. Only usage totals are kept, with nothing that points to you, and a log line saying that an account was erased."</li>
                    </ul>
                    <h2>"What this Atelier does not do"</h2>
                    <ul>
                        <li>"It does not sell, rent or share your data, and runs no third-party trackers, advertising or analytics services."</li>
                        <li>"It does not use your photos to train any AI model."</li>
                        <li>"It sets no cookie that is not listed in the "<a href="/cookies">"cookie policy"</a>", and no optional cookie before you allow it. Global Privacy Control is honoured as a refusal of analytics."</li>
                    </ul>
                    <h2>"Sign-in providers"</h2>
                    {if facts.providers.is_empty() {
                        view! { <p>"No outside sign-in provider is configured: accounts use e-mail and password only."</p> }.into_any()
                    } else {
                        view! { <p>{format!("You can sign in through: {}. They learn that you signed in to this Atelier; Atelier learns your name, e-mail address and an identifier from them.", facts.providers.join(", "))}</p> }.into_any()
                    }}
                    {facts.payment_processor.clone().map(|(name, host)| view! {
                        <h2>"Payments"</h2>
                        <p class="payment-processor">{format!(
                            "Payments are processed by {name} (at {host}), the payment service this server's operator chose. You pay for credits or a plan on {name}'s own page: your card number goes to {name} and never reaches Atelier. \
                             Atelier sends {name} your account's id, your e-mail address (for the receipt) and what you buy; {name} tells Atelier that you paid, your customer id there, and your card's brand and last four digits, which Atelier keeps only to show you which card is on file. \
                             What each payment bought, when, and its amount are kept for accounting, also after your account is deleted, but then without anything that points to you. {name}'s own privacy policy covers what {name} keeps."
                        )}</p>
                    })}
                    <h2>"E-mail"</h2>
                    <p>{if facts.smtp_configured {
                        "Atelier sends e-mail (address confirmation, password reset) through the mail server its operator configured."
                    } else {
                        "No mail server is configured: the messages Atelier would send (address confirmation, password reset) are kept as files on this server for its operator to pass on."
                    }}</p>
                    <p class="security-mail">"Besides those links, Atelier mails your confirmed address when something happens to your account's security: a sign-in from a browser it has not seen before (it keeps only a hash of each browser's description, keyed to your account, never the browser's details or your address), a changed password or e-mail address (the old address is told), a new API key, and two-factor sign-in turned on or off. \
                        Marketing and product-announcement e-mails are sent only if you opt in on your account page (both are off until you do); each one has a one-click unsubscribe link."</p>
                    <h2>"Age"</h2>
                    <p class="minimum-age">{format!("This Atelier is not meant for anyone under {}. If you are younger, please do not use it or create an account; if you learn that a child under {} has given us personal data, tell the operator and it will be deleted.", facts.minimum_age, facts.minimum_age)}</p>
                    <h2>"Your choices"</h2>
                    <ul>
                        <li>"Change or withdraw cookie consent at any time from “Cookie settings” at the bottom of every page."</li>
                        <li>"See and end your sessions, and change your password, in your "<a href="/account">"account"</a>"."</li>
                        <li>"Delete saved versions from your gallery at any time; they and their files are removed at once."</li>
                        <li>"Download everything Atelier holds about you, as a zip with a JSON manifest and your photos, from your "<a href="/account">"account"</a>"."</li>
                        <li>"Delete your account, with everything in it, from your "<a href="/account">"account"</a>"."</li>
                    </ul>
                }) })}
            </Transition>
        </section>
    }
}
