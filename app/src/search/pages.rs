//! The search box with its filters and results, on the workspace and the gallery. It is a plain
//! GET form, so it works without JavaScript; with it, results follow the typing.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::search::api::search_photos;
use crate::search::{Saved, SearchHit, SearchQuery, MAX_QUERY_CHARS};
use crate::ui::ErrorNote;

/// How long typing pauses before the search runs.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// While new photos are still being read, the search runs again this often, so they appear.
const PENDING_RETRY: Duration = Duration::from_secs(2);

/// `gallery`: only photos with a saved version are searched (the gallery's items).
#[component]
pub fn SearchBox(#[prop(optional)] gallery: bool) -> impl IntoView {
    let params = use_query_map();
    let from_url = move || {
        params.with_untracked(|p| {
            let get = |key: &str| p.get(key).unwrap_or_default();
            SearchQuery {
                text: get("q").chars().take(MAX_QUERY_CHARS).collect(),
                from: get("from"),
                to: get("to"),
                saved: if gallery { Saved::Saved } else { Saved::from_param(&get("saved")) },
                has_faces: get("faces") == "on",
                has_text: get("text") == "on",
            }
        })
    };
    let query = RwSignal::new(from_url());
    let again = RwSignal::new(0u32);
    let results = Resource::new(
        move || (query.get(), again.get()),
        |(query, _)| async move {
            if query.is_empty() {
                Ok(None)
            } else {
                search_photos(query).await.map(Some)
            }
        },
    );
    // Photos uploaded a moment ago are found once the index job has read them: ask again until
    // none is pending (in the browser only; effects do not run on the server).
    Effect::new(move || {
        if results.with(|found| matches!(found, Some(Ok(Some(found))) if found.pending > 0)) {
            set_timeout(move || again.update(|n| *n += 1), PENDING_RETRY);
        }
    });
    // Each keystroke bumps the counter; only the last one's timer runs the search.
    let typed = RwSignal::new(0u64);
    let on_text = move |ev: leptos::ev::Event| {
        let text: String = event_target_value(&ev).chars().take(MAX_QUERY_CHARS).collect();
        let mine = typed.get_untracked() + 1;
        typed.set(mine);
        set_timeout(
            move || {
                if typed.get_untracked() == mine {
                    query.update(|q| q.text = text);
                }
            },
            DEBOUNCE,
        );
    };
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let initial = query.get_untracked();
    let filters_open = !initial.from.is_empty()
        || !initial.to.is_empty()
        || initial.has_faces
        || initial.has_text
        || initial.saved != Saved::Any && !gallery;
    view! {
        <form class="search" role="search" method="get" on:submit=move |ev| {
            // With JavaScript the results follow the typing and Enter runs it at once; without,
            // the GET reloads the page with the results.
            ev.prevent_default();
            if let Some(input) = input.get_untracked() {
                typed.update(|n| *n += 1);
                let text: String = input.value().chars().take(MAX_QUERY_CHARS).collect();
                query.update(|q| q.text = text);
            }
        }>
            <input type="search" name="q" class="search-input" aria-label="Search photos" autocomplete="off"
                maxlength=MAX_QUERY_CHARS.to_string()
                placeholder="Search names, tags, text in photos, colours, dates…"
                node_ref=input prop:value=initial.text.clone() on:input=on_text/>
            <button type="submit">"Search"</button>
            <details class="search-filters" open=filters_open>
                <summary>"Filters"</summary>
                <label>"From "<input type="date" name="from" value=initial.from.clone()
                    on:change=move |ev| query.update(|q| q.from = event_target_value(&ev))/></label>
                <label>"To "<input type="date" name="to" value=initial.to.clone()
                    on:change=move |ev| query.update(|q| q.to = event_target_value(&ev))/></label>
                {(!gallery).then(|| view! {
                    <label>"Show "
                        <select name="saved" on:change=move |ev| {
                            let saved = Saved::from_param(&event_target_value(&ev));
                            query.update(|q| q.saved = saved);
                        }>
                            <option value="" selected=initial.saved == Saved::Any>"all photos"</option>
                            <option value="saved" selected=initial.saved == Saved::Saved>"saved to the gallery"</option>
                            <option value="unsaved" selected=initial.saved == Saved::Unsaved>"not saved yet"</option>
                        </select>
                    </label>
                })}
                <label><input type="checkbox" name="faces" checked=initial.has_faces
                    on:change=move |ev| query.update(|q| q.has_faces = event_target_checked(&ev))/>" has faces"</label>
                <label><input type="checkbox" name="text" checked=initial.has_text
                    on:change=move |ev| query.update(|q| q.has_text = event_target_checked(&ev))/>" has text"</label>
            </details>
        </form>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(found)) => view! { <Results hits=found.hits pending=found.pending/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn Results(hits: Vec<SearchHit>, pending: u64) -> impl IntoView {
    let count = match hits.len() {
        0 => "Nothing found.".to_string(),
        1 => "1 photo found.".to_string(),
        n => format!("{n} photos found."),
    };
    view! {
        <section class="search-results" aria-label="Search results">
            <p class="search-count" role="status">{count}
                {(pending > 0).then(|| format!(
                    " {pending} new photo{} still being read; search again in a moment to include {}.",
                    if pending == 1 { " is" } else { "s are" },
                    if pending == 1 { "it" } else { "them" },
                ))}
            </p>
            <ul class="grid search-hits">
                {hits.into_iter().map(|hit| {
                    let photo = hit.photo;
                    let alt = photo.alt_text.clone().unwrap_or_else(|| photo.name.clone());
                    let why = hit.reasons.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
                    view! {
                        <li class="card search-hit">
                            <a href=format!("/photos/{}", photo.id)>
                                <img src=photo.thumbnail_url.clone() alt=alt loading="lazy"/>
                                <span class="card-title">{photo.name.clone()}</span>
                                <span class="card-meta">
                                    {format!("Found by {why}")}{hit.saved.then_some(" · saved")}
                                </span>
                            </a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
