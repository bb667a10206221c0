//! The workspace's "Duplicates" section: each group with its thumbnails, the best marked, and a
//! confirmed "Keep the best, delete the others" (or keep another one) that works without
//! JavaScript too (a plain form inside a `<details>`).

use leptos::prelude::*;

use crate::duplicates::api::{list_duplicates, KeepPhoto};
use crate::duplicates::{DuplicateGroup, DuplicatePhoto, DuplicateReport};
use crate::ui::ErrorNote;

/// Shown on the workspace page when it has look-alike photos; `refresh` is the page's photo list
/// counter: bumped by an upload (the groups are asked for again) and by a keep (the list is).
#[component]
pub fn DuplicatesSection(refresh: RwSignal<u32>) -> impl IntoView {
    let keep = ServerAction::<KeepPhoto>::new();
    // Created here, outside any Suspense (see `AiPanelData` for why).
    let report = Resource::new(move || refresh.get(), |_| list_duplicates());
    Effect::new(move |_| {
        if let Some(Ok(_)) = keep.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { match report.await {
                Ok(report) if report.groups.is_empty() && report.unchecked == 0 => None,
                Ok(report) => Some(view! { <Report report keep/> }.into_any()),
                Err(error) => Some(view! { <ErrorNote error/> }.into_any()),
            } })}
        </Transition>
        {move || match keep.value().get() {
            Some(Err(error)) => Some(view! { <ErrorNote error/> }),
            _ => None,
        }}
    }
    // Type-erased: the workspace page's view type is deep enough already.
    .into_any()
}

#[component]
fn Report(report: DuplicateReport, keep: ServerAction<KeepPhoto>) -> impl IntoView {
    let summary = match report.groups.len() {
        0 => "No look-alike photos so far.".to_string(),
        1 => "One group of look-alike photos: keep the best, delete the others.".to_string(),
        n => format!("{n} groups of look-alike photos: keep the best of each, delete the others."),
    };
    view! {
        <section class="duplicates" aria-labelledby="duplicates-title">
            <h2 id="duplicates-title">"Duplicates"</h2>
            <p class="hint">{summary}</p>
            {(report.unchecked > 0).then(|| view! {
                <p class="hint" role="status">{format!(
                    "{} older {} still to be compared; look again in a moment.",
                    report.unchecked,
                    if report.unchecked == 1 { "photo is" } else { "photos are" }
                )}</p>
            })}
            <ul class="duplicate-groups">
                {report.groups.into_iter().map(|group| view! { <Group group keep/> }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Group(group: DuplicateGroup, keep: ServerAction<KeepPhoto>) -> impl IntoView {
    let Some(best) = group.photos.first().map(|p| p.photo.clone()) else { return ().into_any() };
    let others = group.others_than(&best);
    let count = group.photos.len() - 1;
    let total_versions = group.photos.iter().fold(0u32, |sum, p| sum.saturating_add(p.saved_versions));
    let versions = total_versions.saturating_sub(group.photos.first().map_or(0, |p| p.saved_versions));
    let question = format!(
        "Delete {count} {} and keep “{}”?{}",
        if count == 1 { "photo" } else { "photos" },
        best.name,
        gallery_warning(versions)
    );
    let members: Vec<_> = group
        .photos
        .iter()
        .enumerate()
        .map(|(i, photo)| {
            (
                photo.clone(),
                i == 0,
                group.others_than(&photo.photo),
                total_versions.saturating_sub(photo.saved_versions),
            )
        })
        .collect();
    view! {
        <li class="duplicate-group">
            <p class="why">{group.why.clone()}</p>
            <ul class="grid duplicate-photos">
                {members.into_iter().map(|(photo, best, others, versions)| view! { <Member photo best others count versions keep/> }).collect_view()}
            </ul>
            <details class="keep-best">
                <summary>"Keep the best, delete the others"</summary>
                <p>{question}</p>
                <ActionForm action=keep>
                    <input type="hidden" name="keep" value=best.id.to_string()/>
                    <input type="hidden" name="others" value=others/>
                    <button type="submit" class="danger">{format!("Delete {count}, keep the best")}</button>
                </ActionForm>
            </details>
        </li>
    }
    .into_any()
}

#[component]
fn Member(
    photo: DuplicatePhoto,
    best: bool,
    /// The other photos' ids (what keeping this one deletes), how many, and their saved versions.
    others: String,
    count: usize,
    versions: u32,
    keep: ServerAction<KeepPhoto>,
) -> impl IntoView {
    let DuplicatePhoto { photo, note, .. } = photo;
    view! {
        <li class=if best { "card duplicate best" } else { "card duplicate" }>
            <a href=format!("/photos/{}", photo.id)>
                <img src=photo.thumbnail_url.clone() alt=photo.name.clone() loading="lazy"/>
                <span class="card-title">{photo.name.clone()}</span>
            </a>
            {best.then(|| view! { <span class="badge best-badge">"Best"</span> })}
            <span class="card-meta">{note}</span>
            {(!best).then(|| view! {
                <details class="keep-this">
                    <summary>"Keep this one instead…"</summary>
                    <p>{format!(
                        "Delete the other {} and keep “{}”?{}",
                        if count == 1 { "photo".to_string() } else { format!("{count} photos") },
                        photo.name,
                        gallery_warning(versions)
                    )}</p>
                    <ActionForm action=keep>
                        <input type="hidden" name="keep" value=photo.id.to_string()/>
                        <input type="hidden" name="others" value=others.clone()/>
                        <button type="submit" class="danger">"Keep this one, delete the others"</button>
                    </ActionForm>
                </details>
            })}
        </li>
    }
}

/// Said before deleting photos that have saved versions: those go with them.
fn gallery_warning(versions: u32) -> String {
    match versions {
        0 => String::new(),
        1 => " Their one saved version in the gallery goes with them.".into(),
        n => format!(" Their {n} saved versions in the gallery go with them."),
    }
}
