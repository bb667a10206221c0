//! One component per page.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{get_photo, list_gallery, list_photos, save_to_gallery};
use crate::components::Dropzone;
use crate::error::AppError;
use crate::model::{PhotoId, PhotoSummary};
use crate::recipe::{EditOp, EditRecipe};

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http_not_found());
    }
    view! {
        <section class="not-found">
            <h1>"Not found"</h1>
            <p>"There is nothing here, or it is not yours to see."</p>
            <a href="/">"Back to the workspace"</a>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let photos = Resource::new(move || refresh.get(), |_| list_photos());
    view! {
        <section class="workspace">
            <h1>"Workspace"</h1>
            <Dropzone on_uploaded=move || refresh.update(|n| *n += 1)/>
            <Transition fallback=|| view! { <p>"Loading photos…"</p> }>
                {move || photos.get().map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No photos yet. Drop some above to start."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="grid photos">
                            {list.into_iter().map(|photo| view! {
                                <li class="card">
                                    <a href=format!("/photos/{}", photo.id)>
                                        <img src=photo.thumbnail_url() alt=photo.name.clone() loading="lazy"/>
                                        <span class="card-title">{photo.name.clone()}</span>
                                        <span class="card-meta">{format!("{}×{}", photo.width, photo.height)}</span>
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn EditorPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<PhotoId>().ok());
    let photo = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_photo(id).await,
            None => Err(AppError::NotFound),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p>"Opening the photo…"</p> }>
            {move || photo.get().map(|result| match result {
                Ok(photo) => view! { <Editor photo/> }.into_any(),
                Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[derive(Clone, Debug, PartialEq)]
// Only the browser moves past the first state.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum CanvasState {
    Loading,
    Ready,
    Failed(String),
}

/// The canvas editor: every button appends a step to the recipe, and the recipe is applied to
/// the original in WASM on each change, so undo is simply dropping the last step.
#[component]
fn Editor(photo: PhotoSummary) -> impl IntoView {
    let recipe = RwSignal::new(EditRecipe::default());
    let canvas_state = RwSignal::new(CanvasState::Loading);
    let edit_error = RwSignal::new(None::<String>);
    let size = RwSignal::new((photo.width, photo.height));
    let brightness = RwSignal::new(0i16);
    let crop = RwSignal::new((0u32, 0u32, photo.width, photo.height));
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    {
        let original = StoredValue::new(None::<crate::recipe::PhotonImage>);
        let url = photo.original_url();
        leptos::task::spawn_local(async move {
            match crate::browser::load_image(&url).await {
                Ok(image) => {
                    original.set_value(Some(image));
                    canvas_state.set(CanvasState::Ready);
                }
                Err(message) => canvas_state.set(CanvasState::Failed(message)),
            }
        });
        Effect::new(move |_| {
            let recipe = recipe.get();
            if canvas_state.get() != CanvasState::Ready {
                return;
            }
            let (Some(canvas), Some(image)) = (canvas.get(), original.get_value()) else { return };
            match recipe.apply(image) {
                Ok(edited) => {
                    size.set((edited.get_width(), edited.get_height()));
                    crop.set((0, 0, edited.get_width(), edited.get_height()));
                    edit_error.set(crate::browser::draw(&canvas, &edited).err());
                }
                Err(error) => edit_error.set(Some(error.to_string())),
            }
        });
    }

    let push = move |op: EditOp| recipe.update(|recipe| recipe.ops.push(op));
    let photo_id = photo.id;
    let save = Action::new(move |recipe: &EditRecipe| save_to_gallery(photo_id, recipe.clone()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            navigate("/gallery", Default::default());
        }
    });
    let crop_field = move |label: &'static str, read: fn(&(u32, u32, u32, u32)) -> u32, write: fn(&mut (u32, u32, u32, u32), u32)| {
        view! {
            <label>
                {label}
                <input
                    type="number"
                    min="0"
                    prop:value=move || crop.with(read)
                    on:change=move |event| {
                        if let Ok(value) = event_target_value(&event).parse::<u32>() {
                            crop.update(|rect| write(rect, value));
                        }
                    }
                />
            </label>
        }
    };

    view! {
        <section class="editor">
            <div class="editor-header">
                <h1>{photo.name.clone()}</h1>
                <span class="card-meta">{move || { let (w, h) = size.get(); format!("{w}×{h}") }}</span>
            </div>
            <div class="editor-body">
                <div class="canvas-wrap">
                    <canvas
                        node_ref=canvas
                        class="editor-canvas"
                        data-state=move || match canvas_state.get() {
                            CanvasState::Loading => "loading",
                            CanvasState::Ready => "ready",
                            CanvasState::Failed(_) => "failed",
                        }
                        data-steps=move || recipe.with(|recipe| recipe.ops.len())
                    ></canvas>
                    {move || match canvas_state.get() {
                        CanvasState::Loading => Some(view! { <p class="hint">"Loading the editor…"</p> }.into_any()),
                        CanvasState::Failed(message) => Some(view! { <p class="error" role="alert">{message}</p> }.into_any()),
                        CanvasState::Ready => None,
                    }}
                </div>
                <aside class="tools" aria-label="Edit tools">
                    <div class="tool-row">
                        <button on:click=move |_| push(EditOp::Rotate { quarter_turns: 1 })>"Rotate 90°"</button>
                        <button on:click=move |_| push(EditOp::FlipHorizontal)>"Flip ↔"</button>
                        <button on:click=move |_| push(EditOp::FlipVertical)>"Flip ↕"</button>
                        <button on:click=move |_| push(EditOp::Grayscale)>"Grayscale"</button>
                    </div>
                    <label class="slider">
                        "Brightness " {move || format!("{:+}", brightness.get())}
                        <input
                            type="range"
                            min="-100"
                            max="100"
                            prop:value=move || brightness.get().to_string()
                            on:input=move |event| brightness.set(event_target_value(&event).parse().unwrap_or(0))
                        />
                    </label>
                    <button
                        disabled=move || brightness.get() == 0
                        on:click=move |_| {
                            push(EditOp::Brightness { amount: brightness.get_untracked() });
                            brightness.set(0);
                        }
                    >"Apply brightness"</button>
                    <fieldset class="crop">
                        <legend>"Crop"</legend>
                        {crop_field("Left", |r| r.0, |r, v| r.0 = v)}
                        {crop_field("Top", |r| r.1, |r, v| r.1 = v)}
                        {crop_field("Width", |r| r.2, |r, v| r.2 = v)}
                        {crop_field("Height", |r| r.3, |r, v| r.3 = v)}
                        <button on:click=move |_| {
                            let (x, y, width, height) = crop.get_untracked();
                            push(EditOp::Crop { x, y, width, height });
                        }>"Crop"</button>
                    </fieldset>
                    <ol class="history" aria-label="Edit history">
                        {move || recipe.with(|recipe| recipe.ops.iter().map(|op| view! { <li>{op.label()}</li> }).collect_view())}
                    </ol>
                    <div class="tool-row">
                        <button
                            disabled=move || recipe.with(|recipe| recipe.ops.is_empty())
                            on:click=move |_| recipe.update(|recipe| { recipe.ops.pop(); })
                        >"Undo"</button>
                        <button on:click=move |_| recipe.set(EditRecipe::default())>"Reset"</button>
                    </div>
                    {move || edit_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    <button
                        class="primary"
                        disabled=move || save.pending().get()
                        on:click=move |_| { save.dispatch(recipe.get_untracked()); }
                    >{move || if save.pending().get() { "Saving…" } else { "Save to gallery" }}</button>
                    {move || match save.value().get() {
                        Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }),
                        _ => None,
                    }}
                </aside>
            </div>
        </section>
    }
}

#[component]
pub fn GalleryPage() -> impl IntoView {
    let delete = ServerAction::<crate::api::DeleteGalleryItem>::new();
    let items = Resource::new(move || delete.version().get(), |_| list_gallery());
    view! {
        <section class="gallery">
            <h1>"Gallery"</h1>
            <Transition fallback=|| view! { <p>"Loading the gallery…"</p> }>
                {move || items.get().map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"Nothing saved yet. Open a photo in the workspace and save an edit."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="grid gallery-items">
                            {list.into_iter().map(|item| view! {
                                <li class="card gallery-item">
                                    <a href=item.image_url() target="_blank">
                                        <img src=item.thumbnail_url() alt=format!("Edited {}", item.name) loading="lazy"/>
                                    </a>
                                    <span class="card-title">{item.name.clone()}</span>
                                    <span class="card-meta">{format!("{}×{} · {} edits", item.width, item.height, item.steps)}</span>
                                    <ActionForm action=delete>
                                        <input type="hidden" name="id" value=item.id.to_string()/>
                                        <button type="submit" class="danger">"Delete"</button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                })}
            </Transition>
            {move || match delete.value().get() {
                Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }),
                _ => None,
            }}
        </section>
    }
}
