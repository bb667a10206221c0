//! The canvas editor. Every control produces an `EditOp`; the recipe (plus the op a slider is
//! still dragging) is applied to the original in WASM on each change, so undo and redo are just
//! moving steps between two lists, and saving sends the recipe for the server to replay.
//!
//! `Editor` lays out the canvas and the panels; each panel is a file of its own over the shared
//! `EditorState`, and `worker::use_render_worker` keeps the canvas in step with the recipe.

mod adjust;
mod crop;
mod filters;
mod history;
mod resize;
mod retro;
mod state;
#[cfg(feature = "hydrate")]
mod worker;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use self::adjust::Adjustments;
use self::crop::CropPanel;
use self::filters::Filters;
use self::history::History;
use self::resize::ResizePanel;
use self::retro::RetroLooks;
use self::state::{CanvasState, EditorState};
use crate::optimize::ExportPanel;
use crate::photos::api::save_to_gallery;
use crate::photos::PhotoSummary;
use crate::recipe::{EditOp, EditRecipe};
use crate::ui::ErrorNote;

/// Photos larger than this (longest side) are edited on a scaled copy; the server replays the
/// recipe on the full-resolution original when saving.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const PREVIEW_MAX_SIDE: u32 = 2048;
/// The longest side of the filter thumbnails.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const THUMBNAIL_SIDE: u32 = 72;

#[component]
pub fn Editor(photo: PhotoSummary, #[prop(default = EditRecipe::default())] initial: EditRecipe) -> impl IntoView {
    let state = EditorState::new(&photo, initial);
    let compare = RwSignal::new(0u32);
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    {
        worker::use_render_worker(state, canvas, &photo);
        let keys = window_event_listener(leptos::ev::keydown, move |event| {
            use wasm_bindgen::JsCast;
            // Inside a number field, Ctrl+Z undoes the typing, not the photo.
            let typing = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
                .is_some_and(|input| input.type_() != "range" && input.type_() != "checkbox");
            if typing {
                return;
            }
            let command = event.ctrl_key() || event.meta_key();
            match event.key().as_str() {
                "z" | "Z" if command && event.shift_key() => state.redo_step(),
                "z" if command => state.undo(),
                "y" if command => state.redo_step(),
                _ => return,
            }
            event.prevent_default();
        });
        on_cleanup(move || keys.remove());
    }

    // Dragging on the canvas selects a crop rectangle (in image pixels).
    let drag_from = RwSignal::new(None::<(u32, u32)>);
    let to_image = move |_event: &leptos::ev::PointerEvent| -> Option<(u32, u32)> {
        #[cfg(feature = "hydrate")]
        {
            let canvas = canvas.get_untracked()?;
            let bounds = canvas.get_bounding_client_rect();
            if bounds.width() <= 0.0 || bounds.height() <= 0.0 {
                return None;
            }
            let (width, height) = state.size.get_untracked();
            let x = (f64::from(_event.client_x()) - bounds.left()) / bounds.width() * f64::from(width);
            let y = (f64::from(_event.client_y()) - bounds.top()) / bounds.height() * f64::from(height);
            Some((x.clamp(0.0, f64::from(width)) as u32, y.clamp(0.0, f64::from(height)) as u32))
        }
        #[cfg(not(feature = "hydrate"))]
        None
    };
    let drag_to = move |(x, y): (u32, u32)| {
        let Some((x0, y0)) = drag_from.get_untracked() else { return };
        let (mut width, mut height) = (x.abs_diff(x0).max(1), y.abs_diff(y0).max(1));
        if let Some((aw, ah)) = state.aspect.get_untracked() {
            height = (u64::from(width) * u64::from(ah) / u64::from(aw)).max(1) as u32;
            let (_, image_height) = state.size.get_untracked();
            if y0.min(y) + height > image_height {
                height = image_height - y0.min(y);
                width = (u64::from(height) * u64::from(aw) / u64::from(ah)).max(1) as u32;
            }
        }
        state.crop.set((x0.min(x), y0.min(y), width, height));
    };

    let photo_id = photo.id;
    let save = Action::new(move |recipe: &EditRecipe| save_to_gallery(photo_id, recipe.clone()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            navigate("/gallery", Default::default());
        }
    });
    let EditorState { recipe, canvas_state, edit_error, size, crop, drawn_steps, rendering, .. } = state;

    view! {
        <section class="editor">
            <div class="editor-header">
                <h1>{photo.name.clone()}</h1>
                <span class="card-meta">{move || { let (w, h) = size.get(); format!("{w}×{h}") }}</span>
            </div>
            <div class="editor-body">
                {view! {
                <div class="canvas-wrap">
                    <div class="stage">
                        <canvas
                            node_ref=canvas
                            class="editor-canvas"
                            data-state=move || match canvas_state.get() {
                                CanvasState::Loading => "loading",
                                CanvasState::Ready => "ready",
                                CanvasState::Failed(_) => "failed",
                            }
                            data-steps=move || recipe.with(|recipe| recipe.ops.len())
                            data-drawn-steps=move || drawn_steps.get().map(|steps| steps.to_string())
                            aria-busy=move || rendering.get().to_string()
                            on:pointerdown=move |event| {
                                if let Some(point) = to_image(&event) {
                                    drag_from.set(Some(point));
                                    crop.set((point.0, point.1, 1, 1));
                                }
                            }
                            on:pointermove=move |event| {
                                if let Some(point) = to_image(&event) {
                                    drag_to(point);
                                }
                            }
                            on:pointerup=move |_| drag_from.set(None)
                        ></canvas>
                        <img
                            class="before"
                            alt="Before the edits"
                            src=photo.original_url.clone()
                            style:display=move || if compare.get() == 0 { "none" } else { "block" }
                            style:clip-path=move || format!("inset(0 {}% 0 0)", 100 - compare.get().min(100))
                        />
                        <div
                            class="crop-box"
                            style:display=move || {
                                let (w, h) = size.get();
                                let (_, _, cw, ch) = crop.get();
                                if (cw, ch) == (w, h) { "none" } else { "block" }
                            }
                            style:left=move || { let (x, _, _, _) = crop.get(); format!("{}%", f64::from(x) * 100.0 / f64::from(size.get().0.max(1))) }
                            style:top=move || { let (_, y, _, _) = crop.get(); format!("{}%", f64::from(y) * 100.0 / f64::from(size.get().1.max(1))) }
                            style:width=move || { let (_, _, w, _) = crop.get(); format!("{}%", f64::from(w) * 100.0 / f64::from(size.get().0.max(1))) }
                            style:height=move || { let (_, _, _, h) = crop.get(); format!("{}%", f64::from(h) * 100.0 / f64::from(size.get().1.max(1))) }
                        ></div>
                    </div>
                    {move || match canvas_state.get() {
                        CanvasState::Loading => Some(view! { <p class="hint">"Loading the editor…"</p> }.into_any()),
                        CanvasState::Failed(message) => Some(view! { <p class="error" role="alert">{message}</p> }.into_any()),
                        CanvasState::Ready => None,
                    }}
                    <progress class="rendering" aria-label="Applying edits" hidden=move || !rendering.get()></progress>
                    <label class="slider compare">
                        "Compare with the original"
                        <input
                            type="range"
                            min="0"
                            max="100"
                            aria-label="Before/after"
                            prop:value=move || compare.get().to_string()
                            on:input=move |event| compare.set(event_target_value(&event).parse().unwrap_or(0))
                        />
                    </label>
                </div>
                }.into_any()}
                {view! {
                <aside class="tools" aria-label="Edit tools">
                    <div class="tool-row">
                        <button on:click=move |_| state.commit(EditOp::Rotate { quarter_turns: 3 })>"Rotate left"</button>
                        <button on:click=move |_| state.commit(EditOp::Rotate { quarter_turns: 1 })>"Rotate 90°"</button>
                        <button on:click=move |_| state.commit(EditOp::Rotate { quarter_turns: 2 })>"Rotate 180°"</button>
                        <button on:click=move |_| state.commit(EditOp::FlipHorizontal)>"Flip ↔"</button>
                        <button on:click=move |_| state.commit(EditOp::FlipVertical)>"Flip ↕"</button>
                        <button on:click=move |_| state.commit(EditOp::Grayscale)>"Grayscale"</button>
                        <button on:click=move |_| state.commit(EditOp::Sharpen)>"Sharpen"</button>
                    </div>
                    {view! { <Adjustments state/> }.into_any()}
                    {view! { <CropPanel state photo=photo.id/> }.into_any()}
                    {view! { <ResizePanel state/> }.into_any()}
                    {view! { <Filters state/> }.into_any()}
                    {view! { <RetroLooks state/> }.into_any()}
                    <History state/>
                    {view! {
                        <ExportPanel export_url=photo.export_url.clone() original_url=photo.original_url.clone() recipe/>
                    }.into_any()}
                    {move || edit_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    <button
                        class="primary"
                        disabled=move || save.pending().get()
                        on:click=move |_| { save.dispatch(recipe.get_untracked()); }
                    >{move || if save.pending().get() { "Saving…" } else { "Save to gallery" }}</button>
                    {move || match save.value().get() {
                        Some(Err(error)) => Some(view! { <ErrorNote error/> }),
                        _ => None,
                    }}
                </aside>
                }.into_any()}
            </div>
        </section>
    }
}
