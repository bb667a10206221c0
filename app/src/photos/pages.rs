//! The workspace (upload and list), the gallery, and the editor page around `Editor`.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::error::AppError;
use crate::ids::{PhotoId, VersionId};
use crate::photos::api::{get_photo, get_version, list_gallery, list_photos};
use crate::photos::dropzone::Dropzone;
use crate::photos::editor::Editor;
use crate::recipe::EditRecipe;
use crate::shell::NotFound;
use crate::ui::ErrorNote;

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let photos = Resource::new(move || refresh.get(), |_| list_photos());
    let retention = Resource::new(|| (), |_| crate::privacy::api::privacy_facts());
    view! {
        <section class="workspace">
            <h1>"Workspace"</h1>
            <crate::search::SearchBox/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { Some(retention.await).and_then(Result::ok).map(|facts| view! {
                    <p class="hint retention">{format!(
                        "Uploads you have not saved a version of are deleted {} hours after upload: save to the gallery to keep them.",
                        facts.unsaved_retention_hours
                    )}</p>
                }) })}
            </Transition>
            <Dropzone on_uploaded=move |_| refresh.update(|n| *n += 1)/>
            <crate::duplicates::DuplicatesSection refresh/>
            <Transition fallback=|| view! { <p>"Loading photos…"</p> }>
                {move || Suspend::new(async move { Some(photos.await).map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No photos yet. Drop some above to start."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="grid photos">
                            {list.into_iter().map(|photo| view! {
                                <li class="card">
                                    <a href=format!("/photos/{}", photo.id)>
                                        <img src=photo.thumbnail_url.clone() alt=photo.name.clone() loading="lazy"/>
                                        <span class="card-title">{photo.name.clone()}</span>
                                        <span class="card-meta">{format!("{}×{}", photo.width, photo.height)}</span>
                                    </a>
                                    {(!photo.export_url.is_empty()).then(|| view! {
                                        <crate::optimize::ExportForm export_url=photo.export_url.clone()/>
                                    })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
        </section>
    }
}

#[component]
pub fn EditorPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let photo_id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<PhotoId>().ok()));
    let version = move || query.read().get("version").map(|id| id.parse::<VersionId>().ok());
    // The photo, and the recipe to start from: a saved version's when one is named.
    let photo = Resource::new(
        move || (photo_id.get(), version()),
        |(photo, version)| async move {
            let photo = get_photo(photo.ok_or(AppError::NotFound)?).await?;
            let recipe = match version {
                None => EditRecipe::default(),
                Some(Some(version)) => {
                    let item = get_version(version).await?;
                    if item.photo_id != photo.id {
                        return Err(AppError::NotFound);
                    }
                    item.recipe
                }
                Some(None) => return Err(AppError::NotFound),
            };
            Ok((photo, recipe))
        },
    );
    // Made here, not inside the Suspense below: see `AiPanelData`.
    let ai = crate::ai_tools::AiPanelData::load(photo_id);
    view! {
        <Suspense fallback=|| view! { <p>"Opening the photo…"</p> }>
            {move || Suspend::new(async move { match photo.await {
                Ok((photo, _)) if photo.held => view! {
                    <p class="notice" role="status">"This upload is held for review by an administrator, so it cannot be opened or edited yet."</p>
                }.into_any(),
                Ok((photo, recipe)) => view! {
                    <Editor photo=photo.clone() initial=recipe/>
                    <crate::ai_tools::AiTools photo data=ai/>
                }.into_any(),
                Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            } })}
        </Suspense>
    }
}

/// Opens the batch page with the originals of the ticked gallery items chosen.
#[component]
fn BatchTicked(pairs: Vec<(String, PhotoId)>) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let _ = &pairs;
    view! {
        <button type="button" class="batch-ticked" on:click=move |_| {
            #[cfg(feature = "hydrate")]
            {
                let ticked = crate::browser::checked_values("input[name=version]");
                let mut photos: Vec<String> = Vec::new();
                for (version, photo) in &pairs {
                    if ticked.contains(version) && !photos.contains(&photo.to_string()) {
                        photos.push(photo.to_string());
                    }
                }
                navigate(&format!("/batch?photos={}", photos.join(",")), Default::default());
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &navigate;
        }>"Run a batch on the ticked items…"</button>
    }
}

#[component]
pub fn GalleryPage() -> impl IntoView {
    let delete = ServerAction::<crate::photos::api::DeleteGalleryItem>::new();
    let items = Resource::new(move || delete.version().get(), |_| list_gallery());
    let zip_link = Resource::new(|| (), |_| crate::photos::api::gallery_export_link());
    view! {
        <section class="gallery">
            <h1>"Gallery"</h1>
            <crate::search::SearchBox gallery=true/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { zip_link.await.ok().map(|link| view! {
                    <crate::optimize::ExportForm export_url=link form_id="gallery-export"
                        summary="Export the ticked items as one zip…" button="Download the zip" progress=true/>
                }) })}
            </Transition>
            <Transition fallback=|| view! { <p>"Loading the gallery…"</p> }>
                {move || Suspend::new(async move { Some(items.await).map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"Nothing saved yet. Open a photo in the workspace and save an edit."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <BatchTicked pairs=list.iter().map(|item| (item.id.to_string(), item.photo_id)).collect()/>
                        <ul class="grid gallery-items">
                            {list.into_iter().map(|item| view! {
                                <li class="card gallery-item">
                                    <a href=item.image_url.clone() target="_blank" rel="external">
                                        <img src=item.thumbnail_url.clone() alt=format!("Edited {}", item.name) loading="lazy"/>
                                    </a>
                                    <label class="card-title">
                                        <input type="checkbox" name="version" value=item.id.to_string() form="gallery-export"/>
                                        " "{item.name.clone()}
                                    </label>
                                    <span class="card-meta">{match &item.pipeline {
                                        Some(pipeline) => format!("{}×{} · made by “{pipeline}”", item.width, item.height),
                                        None => format!("{}×{} · {} edits", item.width, item.height, item.recipe.ops.len()),
                                    }}</span>
                                    <span class=if item.expires_soon { "expiry expiry-soon" } else { "expiry" }
                                        role=item.expires_soon.then_some("status")>
                                        {if item.expires_soon {
                                            format!("Deleted on {} — download it or save it again to keep it", crate::ui::day(item.expires_at))
                                        } else {
                                            format!("Kept until {}", crate::ui::day(item.expires_at))
                                        }}
                                    </span>
                                    <a class="edit-link" href=item.edit_url()>"Edit again"</a>
                                    <crate::optimize::ExportForm export_url=item.export_url.clone()/>
                                    <ActionForm action=delete>
                                        <input type="hidden" name="id" value=item.id.to_string()/>
                                        <button type="submit" class="danger">"Delete"</button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }) })}
            </Transition>
            {move || match delete.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNote error/> }),
                _ => None,
            }}
        </section>
    }
}
