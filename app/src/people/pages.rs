//! The People page (switch on with consent, the people found, rename, merge, search by name,
//! switch off), a person's photos, and the privacy page's People section. Every form is a plain
//! HTML form too, so each works before (and without) hydration.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::error::AppError;
use crate::ids::PersonId;
use crate::people::api::{get_people, get_person, photos_of, DisablePeople, EnablePeople, MergePeople, RenamePerson};
use crate::people::{PeopleOverview, PersonSummary, CONSENT_TEXT, CONSENT_VERSION, MAX_NAME_CHARS};
use crate::photos::PhotoSummary;
use crate::shell::NotFound;
use crate::ui::{action_error, when, ErrorNote};

#[component]
pub fn PeoplePage() -> impl IntoView {
    let enable = ServerAction::<EnablePeople>::new();
    let disable = ServerAction::<DisablePeople>::new();
    let rename = ServerAction::<RenamePerson>::new();
    let merge = ServerAction::<MergePeople>::new();
    let tick = RwSignal::new(0u32);
    let overview = Resource::new(
        move || {
            (tick.get(), enable.version().get(), disable.version().get(), rename.version().get(), merge.version().get())
        },
        |_| get_people(),
    );
    // While faces are still being looked for, ask again every two seconds.
    Effect::new(move |_| {
        let wait = match overview.get() {
            Some(Ok(view)) if view.enabled && view.pending > 0 => Some(2000),
            _ => None,
        };
        crate::ui::ask_again(tick, wait);
    });
    view! {
        <section class="people">
            <h1>"People"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match overview.await {
                    Ok(view) => view! { <Overview view enable disable rename merge/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
            {action_error(enable)}
            {action_error(disable)}
            {action_error(rename)}
            {action_error(merge)}
        </section>
    }
}

#[component]
fn Overview(
    view: PeopleOverview,
    enable: ServerAction<EnablePeople>,
    disable: ServerAction<DisablePeople>,
    rename: ServerAction<RenamePerson>,
    merge: ServerAction<MergePeople>,
) -> impl IntoView {
    if !view.signed_in {
        return view! {
            <p>"People groups the faces in your photos by person, so you can name them and find their photos. "
               "Because it keeps face descriptors, which are biometric data, it is only for accounts, and only when you switch it on."</p>
            <p><a href="/signin">"Sign in"</a>" or "<a href="/signup">"create an account"</a>" to use it."</p>
        }
        .into_any();
    }
    if !view.enabled {
        return view! {
            <p>"People is off. Nothing about the faces in your photos is computed or kept while it is off."</p>
            {(!view.available).then(|| view! {
                <p class="hint">"This server does not have the face models installed; an administrator can install them with scripts/install-models."</p>
            })}
            <ActionForm action=enable attr:class="people-consent">
                <input type="hidden" name="text_version" value=CONSENT_VERSION.to_string()/>
                <label class="consent-category">
                    <input type="checkbox" name="agree" required/>
                    <span>{CONSENT_TEXT}</span>
                </label>
                <p class="hint">"Faces never leave this server, are never sent to any provider, and are shown to nobody but you. "
                   <a href="/privacy#people">"How People handles your data"</a></p>
                <button type="submit">"Switch People on"</button>
            </ActionForm>
        }
        .into_any();
    }
    let since = view.enabled_at.map(|at| format!("People is on since {}.", when(at))).unwrap_or_default();
    let others: Vec<PersonSummary> = view.people.clone();
    view! {
        <p>{since}" "{match view.people.len() {
            0 => "No faces found so far.".to_string(),
            1 => "One person found.".to_string(),
            n => format!("{n} people found."),
        }}</p>
        {(view.pending > 0).then(|| view! {
            <p class="hint" role="status">{format!("Looking for faces in {} more {}…", view.pending, if view.pending == 1 { "photo" } else { "photos" })}</p>
        })}
        <SearchByName/>
        <ul class="grid people-list">
            {view.people.into_iter().map(|person| view! { <PersonCard person others=others.clone() rename merge/> }).collect_view()}
        </ul>
        <details class="people-off">
            <summary>"Switch People off"</summary>
            <p>"Every face and person found, with their names, is deleted at once. You can switch People on again later; faces are then looked for anew."</p>
            <ActionForm action=disable>
                <button type="submit" class="danger">"Switch off and delete all faces"</button>
            </ActionForm>
        </details>
    }
    .into_any()
}

#[component]
fn PersonCard(
    person: PersonSummary,
    others: Vec<PersonSummary>,
    rename: ServerAction<RenamePerson>,
    merge: ServerAction<MergePeople>,
) -> impl IntoView {
    let id = person.id.to_string();
    let label = person.label();
    let others: Vec<PersonSummary> = others.into_iter().filter(|other| other.id != person.id).collect();
    let into = id.clone();
    let (link, renamed) = (format!("/people/{id}"), id.clone());
    let merge_form = (!others.is_empty()).then(move || view! {
                <ActionForm action=merge attr:class="merge-person">
                    <input type="hidden" name="into" value=into/>
                    <label>
                        "Same person as "
                        <select name="from">
                            {others.into_iter().map(|other| view! {
                                <option value=other.id.to_string()>{format!("{} ({} faces)", other.label(), other.faces)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button type="submit">"Merge into this one"</button>
                </ActionForm>
    });
    view! {
        <li class="card person" data-person=id>
            <a href=link>
                <img src=person.face_url.clone() alt=format!("A face of {label}") loading="lazy" width="128" height="128"/>
                <span class="card-title">{label.clone()}</span>
            </a>
            <span class="card-meta">{format!(
                "{} {} in {} {}",
                person.faces,
                if person.faces == 1 { "face" } else { "faces" },
                person.photos,
                if person.photos == 1 { "photo" } else { "photos" }
            )}</span>
            <ActionForm action=rename attr:class="rename-person">
                <input type="hidden" name="id" value=renamed/>
                <label>
                    "Name "
                    <input type="text" name="name" value=person.name.clone().unwrap_or_default() maxlength=MAX_NAME_CHARS.to_string()/>
                </label>
                <button type="submit">"Save name"</button>
            </ActionForm>
            {merge_form}
        </li>
    }
}

/// "Photos of Anna": the photos of every person whose name contains what is typed.
#[component]
fn SearchByName() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let results = Resource::new(
        move || query.get(),
        |name| async move {
            if name.trim().is_empty() {
                Ok(Vec::new())
            } else {
                photos_of(name).await
            }
        },
    );
    view! {
        <label class="people-search">
            "Photos of "
            <input type="search" placeholder="a name" maxlength=MAX_NAME_CHARS.to_string()
                on:input=move |ev| query.set(event_target_value(&ev))/>
        </label>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { match results.await {
                Ok(photos) if photos.is_empty() => None,
                Ok(photos) => Some(view! { <PhotoGrid photos/> }.into_any()),
                Err(error) => Some(view! { <ErrorNote error/> }.into_any()),
            } })}
        </Transition>
    }
}

#[component]
fn PhotoGrid(photos: Vec<PhotoSummary>) -> impl IntoView {
    view! {
        <ul class="grid photos">
            {photos.into_iter().map(|photo| view! {
                <li class="card">
                    <a href=format!("/photos/{}", photo.id)>
                        <img src=photo.thumbnail_url.clone() alt=photo.alt_text.clone().unwrap_or_else(|| photo.name.clone()) loading="lazy"/>
                        <span class="card-title">{photo.name.clone()}</span>
                    </a>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// One person's photos.
#[component]
pub fn PersonPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<PersonId>().ok());
    view! {
        {move || match id() {
            Some(id) => view! { <PersonPhotosView id/> }.into_any(),
            None => view! { <NotFound/> }.into_any(),
        }}
    }
}

#[component]
fn PersonPhotosView(id: PersonId) -> impl IntoView {
    let detail = Resource::new(move || id, get_person);
    view! {
        <section class="people person-photos">
            <p><a href="/people">"← People"</a></p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match detail.await {
                    Ok(detail) => view! {
                        <h1>{detail.person.label()}</h1>
                        <img class="person-face" src=detail.person.face_url.clone() alt=format!("A face of {}", detail.person.label()) width="128" height="128"/>
                        <PhotoGrid photos=detail.photos/>
                    }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
        </section>
    }
}

/// The privacy page's People section.
#[component]
pub fn PeoplePolicy() -> impl IntoView {
    view! {
        <h2 id="people">"People (faces)"</h2>
        <ul>
            <li>"People is off by default, and only an account can switch it on (a guest cannot), by ticking a consent that says what it does. "
                "Each switch on and off is recorded with the time and the version of that text, as proof of your consent."</li>
            <li>"While it is on, Atelier looks for the faces in your photos, on this server: for each face it keeps where it is in the photo and a face descriptor, "
                "1024 numbers from the FaceRes model that tell faces apart. That is biometric data. It groups similar faces into people, which you can name and merge. "
                "It does not guess age, gender or anything else about a face."</li>
            <li>"Faces and descriptors never leave this server: they are not sent to any vision or image service, are not used to train anything, and nobody but you sees them."</li>
            <li>"Switching People off deletes every face, descriptor, person and name at once; new photos are then not looked at. "
                "Deleting a photo deletes its faces; deleting your account deletes all of them. \"Download my data\" includes them."</li>
        </ul>
    }
}
