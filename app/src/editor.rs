//! The canvas editor. Every control produces an `EditOp`; the recipe (plus the op a slider is
//! still dragging) is applied to the original in WASM on each change, so undo and redo are just
//! moving steps between two lists, and saving sends the recipe for the server to replay.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::save_to_gallery;
use crate::model::PhotoSummary;
use crate::recipe::{EditOp, EditRecipe, Filter};

/// Photos larger than this (longest side) are edited on a scaled copy; the server replays the
/// recipe on the full-resolution original when saving.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const PREVIEW_MAX_SIDE: u32 = 2048;
/// The longest side of the filter thumbnails.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const THUMBNAIL_SIDE: u32 = 72;

// Only the browser moves past the first state.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq)]
enum CanvasState {
    Loading,
    Ready,
    Failed(String),
}

/// Aspect presets for the crop: label and width:height (None = free).
const ASPECTS: &[(&str, Option<(u32, u32)>)] = &[
    ("Free", None),
    ("1:1 · Amazon, Shopify", Some((1, 1))),
    ("4:3 · Etsy", Some((4, 3))),
    ("3:2", Some((3, 2))),
    ("16:9", Some((16, 9))),
    ("4:5 · Instagram", Some((4, 5))),
];

/// The largest centred rectangle of `aspect` inside `width` × `height`.
fn centred_crop(width: u32, height: u32, (aw, ah): (u32, u32)) -> (u32, u32, u32, u32) {
    let (w, h) = if u64::from(width) * u64::from(ah) > u64::from(height) * u64::from(aw) {
        ((u64::from(height) * u64::from(aw) / u64::from(ah)) as u32, height)
    } else {
        (width, (u64::from(width) * u64::from(ah) / u64::from(aw)) as u32)
    };
    ((width - w) / 2, (height - h) / 2, w.max(1), h.max(1))
}

/// A slider that previews its op while dragged and commits it on release.
struct Slider {
    label: &'static str,
    min: i32,
    max: i32,
    neutral: i32,
    op: fn(i32) -> EditOp,
}

const SLIDERS: &[Slider] = &[
    Slider { label: "Brightness", min: -100, max: 100, neutral: 0, op: |v| EditOp::Brightness { amount: v as i16 } },
    Slider { label: "Contrast", min: -100, max: 100, neutral: 0, op: |v| EditOp::Contrast { amount: v as i16 } },
    Slider { label: "Saturation", min: -100, max: 100, neutral: 0, op: |v| EditOp::Saturation { amount: v as i16 } },
    Slider { label: "Hue", min: -180, max: 180, neutral: 0, op: |v| EditOp::Hue { degrees: v as i16 } },
    Slider {
        label: "Exposure (gamma ×100)",
        min: 20,
        max: 300,
        neutral: 100,
        op: |v| EditOp::Gamma { value: v as f32 / 100.0 },
    },
    Slider { label: "Blur", min: 0, max: 30, neutral: 0, op: |v| EditOp::Blur { radius: v as u16 } },
    Slider { label: "Vignette", min: 0, max: 100, neutral: 0, op: |v| EditOp::Vignette { strength: v as u8 } },
    Slider {
        label: "Straighten (°)", min: -45, max: 45, neutral: 0, op: |v| EditOp::Straighten { degrees: v as f32 }
    },
];

#[component]
pub fn Editor(photo: PhotoSummary, #[prop(default = EditRecipe::default())] initial: EditRecipe) -> impl IntoView {
    let recipe = RwSignal::new(initial);
    let redo = RwSignal::new(Vec::<EditOp>::new());
    let pending = RwSignal::new(None::<EditOp>);
    let canvas_state = RwSignal::new(CanvasState::Loading);
    let edit_error = RwSignal::new(None::<String>);
    let size = RwSignal::new((photo.width, photo.height));
    let crop = RwSignal::new((0u32, 0u32, photo.width, photo.height));
    let aspect = RwSignal::new(None::<(u32, u32)>);
    let resize = RwSignal::new((photo.width, photo.height));
    let keep_aspect = RwSignal::new(true);
    let compare = RwSignal::new(0u32);
    let filter_previews = RwSignal::new(Vec::<(Filter, String)>::new());
    // How many steps the canvas shows (None before the first render), and whether the worker is
    // busy: the page can tell a finished preview from one still on its way.
    let drawn_steps = RwSignal::new(None::<usize>);
    let rendering = RwSignal::new(false);
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    #[cfg(feature = "hydrate")]
    let original_size = (photo.width, photo.height);

    let commit = move |op: EditOp| {
        pending.set(None);
        redo.set(Vec::new());
        recipe.update(|recipe| recipe.ops.push(op));
    };
    let undo = move || {
        let mut step = None;
        recipe.update(|recipe| step = recipe.ops.pop());
        if let Some(step) = step {
            redo.update(|redo| redo.push(step));
        }
    };
    let redo_step = move || {
        let mut step = None;
        redo.update(|redo| step = redo.pop());
        if let Some(step) = step {
            recipe.update(|recipe| recipe.ops.push(step));
        }
    };

    #[cfg(feature = "hydrate")]
    {
        use crate::browser::{EditorWorker, Rendered, Source};

        /// A render to ask the worker for: the full-resolution recipe, and whether it is a
        /// committed state (then the filter thumbnails and crop/resize fields follow it).
        #[derive(Clone)]
        struct Job {
            recipe: EditRecipe,
            committed: bool,
        }
        let source = StoredValue::new_local(None::<Source>);
        // Preview pixels per original pixel.
        let scale = StoredValue::new(1.0f64);
        let worker = StoredValue::new_local(None::<EditorWorker>);
        let loaded = RwSignal::new(false);
        // One render at a time: while one runs, only the newest wish waits (a dragged slider
        // never builds a backlog).
        let next_id = StoredValue::new(0u32);
        let in_flight = StoredValue::new(None::<(u32, Job)>);
        let queued = StoredValue::new(None::<Job>);

        let send = move |job: Job| {
            let id = next_id.get_value().wrapping_add(1).max(1);
            next_id.set_value(id);
            let preview = job.recipe.scaled(scale.get_value());
            let thumbnails = if job.committed { THUMBNAIL_SIDE } else { 0 };
            let sent = worker.with_value(|worker| {
                source.with_value(|source| match (worker, source) {
                    (Some(worker), Some(source)) => worker.render(id, source, &preview, thumbnails),
                    _ => Err("The editor is still loading.".to_string()),
                })
            });
            match sent {
                Ok(()) => {
                    in_flight.set_value(Some((id, job)));
                    rendering.set(true);
                }
                Err(message) => edit_error.set(Some(message)),
            }
        };
        let show = move |job: &Job, rendered: Rendered| {
            let Some(canvas) = canvas.get_untracked() else { return };
            let factor = scale.get_value();
            // Sizes and crop coordinates are always in full-resolution pixels.
            let full = |preview: u32| (f64::from(preview) / factor).round() as u32;
            let (width, height) = job
                .recipe
                .output_size(original_size)
                .unwrap_or((full(rendered.image.width()), full(rendered.image.height())));
            size.set((width, height));
            edit_error.set(crate::browser::draw(&canvas, &rendered.image).err());
            drawn_steps.set(Some(job.recipe.ops.len()));
            if job.committed {
                crop.set((0, 0, width, height));
                resize.set((width, height));
                aspect.set(None);
                filter_previews.set(rendered.thumbnails);
            }
            canvas_state.set(CanvasState::Ready);
        };
        let on_reply = move |reply: Result<Rendered, (u32, String)>| {
            let answered = in_flight.get_value().filter(|(id, _)| match &reply {
                Ok(rendered) => rendered.id == *id,
                Err((reply_id, _)) => *reply_id == *id || *reply_id == 0,
            });
            match reply {
                Err((0, message)) => canvas_state.set(CanvasState::Failed(message)),
                Err((_, message)) => edit_error.set(Some(message)),
                Ok(rendered) => {
                    if let Some((_, job)) = &answered {
                        show(job, rendered);
                    }
                }
            }
            if answered.is_some() {
                in_flight.set_value(None);
                match queued.try_update_value(Option::take).flatten() {
                    Some(next) => send(next),
                    None => rendering.set(false),
                }
            }
        };

        let url = photo.original_url.clone();
        leptos::task::spawn_local(async move {
            match EditorWorker::start(on_reply) {
                Ok(started) => worker.set_value(Some(started)),
                Err(message) => return canvas_state.set(CanvasState::Failed(message)),
            }
            match crate::browser::load_preview(&url, PREVIEW_MAX_SIDE).await {
                Ok((preview, factor)) => {
                    scale.set_value(factor);
                    source.set_value(Some(preview));
                    loaded.set(true);
                }
                Err(message) => canvas_state.set(CanvasState::Failed(message)),
            }
        });
        // Re-render whenever the recipe or the dragged slider changes.
        Effect::new(move |_| {
            let mut wanted = recipe.get();
            let dragging = pending.get();
            let committed = dragging.is_none();
            wanted.ops.extend(dragging);
            if !loaded.get() {
                return;
            }
            let job = Job { recipe: wanted, committed };
            if in_flight.with_value(Option::is_some) {
                queued.set_value(Some(job));
            } else {
                send(job);
            }
        });
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
                "z" | "Z" if command && event.shift_key() => redo_step(),
                "z" if command => undo(),
                "y" if command => redo_step(),
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
            let (width, height) = size.get_untracked();
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
        if let Some((aw, ah)) = aspect.get_untracked() {
            height = (u64::from(width) * u64::from(ah) / u64::from(aw)).max(1) as u32;
            let (_, image_height) = size.get_untracked();
            if y0.min(y) + height > image_height {
                height = image_height - y0.min(y);
                width = (u64::from(height) * u64::from(aw) / u64::from(ah)).max(1) as u32;
            }
        }
        crop.set((x0.min(x), y0.min(y), width, height));
    };

    let photo_id = photo.id;
    let save = Action::new(move |recipe: &EditRecipe| save_to_gallery(photo_id, recipe.clone()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            navigate("/gallery", Default::default());
        }
    });

    let number = move |label: &'static str, value: Signal<u32>, set: Callback<u32>| {
        view! {
            <label>
                {label}
                <input
                    type="number"
                    min="0"
                    prop:value=move || value.get()
                    on:change=move |event| {
                        if let Ok(value) = event_target_value(&event).parse::<u32>() {
                            set.run(value);
                        }
                    }
                />
            </label>
        }
    };
    let crop_field = move |label, read: fn(&(u32, u32, u32, u32)) -> u32, write: fn(&mut (u32, u32, u32, u32), u32)| {
        number(label, Signal::derive(move || crop.with(read)), Callback::new(move |v| crop.update(|r| write(r, v))))
    };
    let set_resize = move |width: Option<u32>, height: Option<u32>| {
        let (current_w, current_h) = size.get_untracked();
        resize.update(|(w, h)| match (width, height, keep_aspect.get_untracked()) {
            (Some(new_w), _, true) => {
                *w = new_w;
                *h = (u64::from(new_w) * u64::from(current_h) / u64::from(current_w.max(1))).max(1) as u32;
            }
            (_, Some(new_h), true) => {
                *h = new_h;
                *w = (u64::from(new_h) * u64::from(current_w) / u64::from(current_h.max(1))).max(1) as u32;
            }
            (width, height, _) => {
                *w = width.unwrap_or(*w);
                *h = height.unwrap_or(*h);
            }
        });
    };

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
                        <button on:click=move |_| commit(EditOp::Rotate { quarter_turns: 3 })>"Rotate left"</button>
                        <button on:click=move |_| commit(EditOp::Rotate { quarter_turns: 1 })>"Rotate 90°"</button>
                        <button on:click=move |_| commit(EditOp::Rotate { quarter_turns: 2 })>"Rotate 180°"</button>
                        <button on:click=move |_| commit(EditOp::FlipHorizontal)>"Flip ↔"</button>
                        <button on:click=move |_| commit(EditOp::FlipVertical)>"Flip ↕"</button>
                        <button on:click=move |_| commit(EditOp::Grayscale)>"Grayscale"</button>
                        <button on:click=move |_| commit(EditOp::Sharpen)>"Sharpen"</button>
                    </div>
                    {view! {
                    <details open>
                        <summary>"Adjust"</summary>
                        {SLIDERS.iter().map(|slider| {
                            let value = RwSignal::new(slider.neutral);
                            let preview = move |v: i32| (v != slider.neutral).then(|| (slider.op)(v));
                            view! {
                                <label class="slider">
                                    <span>{slider.label} " " {move || value.get().to_string()}</span>
                                    <input
                                        type="range"
                                        min=slider.min
                                        max=slider.max
                                        aria-label=slider.label
                                        prop:value=move || value.get().to_string()
                                        on:input=move |event| {
                                            let v = event_target_value(&event).parse().unwrap_or(slider.neutral);
                                            value.set(v);
                                            pending.set(preview(v));
                                        }
                                        on:change=move |event| {
                                            let v = event_target_value(&event).parse().unwrap_or(slider.neutral);
                                            value.set(slider.neutral);
                                            match preview(v) {
                                                Some(op) => commit(op),
                                                None => pending.set(None),
                                            }
                                        }
                                    />
                                </label>
                            }
                        }).collect_view()}
                    </details>
                    }.into_any()}
                    {view! {
                    <details open>
                        <summary>"Crop"</summary>
                        <fieldset class="crop">
                            <legend class="visually-hidden">"Crop"</legend>
                            <label class="wide">
                                "Aspect"
                                <select
                                    aria-label="Crop aspect"
                                    on:change=move |event| {
                                        let choice = event_target_value(&event).parse::<usize>().ok().and_then(|i| ASPECTS.get(i)).and_then(|a| a.1);
                                        aspect.set(choice);
                                        let (w, h) = size.get_untracked();
                                        crop.set(choice.map_or((0, 0, w, h), |ratio| centred_crop(w, h, ratio)));
                                    }
                                >
                                    {ASPECTS.iter().enumerate().map(|(i, (label, _))| view! { <option value=i.to_string()>{*label}</option> }).collect_view()}
                                </select>
                            </label>
                            {crop_field("Left", |r| r.0, |r, v| r.0 = v)}
                            {crop_field("Top", |r| r.1, |r, v| r.1 = v)}
                            {crop_field("Width", |r| r.2, |r, v| r.2 = v)}
                            {crop_field("Height", |r| r.3, |r, v| r.3 = v)}
                            <p class="hint wide">"Or drag on the photo."</p>
                            <button class="wide" on:click=move |_| {
                                let (x, y, width, height) = crop.get_untracked();
                                commit(EditOp::Crop { x, y, width, height });
                            }>"Crop"</button>
                        </fieldset>
                    </details>
                    }.into_any()}
                    {view! {
                    <details>
                        <summary>"Resize"</summary>
                        <fieldset class="crop">
                            <legend class="visually-hidden">"Resize"</legend>
                            {number("Width", Signal::derive(move || resize.get().0), Callback::new(move |v| set_resize(Some(v), None)))}
                            {number("Height", Signal::derive(move || resize.get().1), Callback::new(move |v| set_resize(None, Some(v))))}
                            {number("Percent", Signal::derive(move || {
                                let ((w, _), (current, _)) = (resize.get(), size.get());
                                (u64::from(w) * 100 / u64::from(current.max(1))) as u32
                            }), Callback::new(move |percent: u32| {
                                let (w, h) = size.get_untracked();
                                resize.set((
                                    (u64::from(w) * u64::from(percent) / 100).max(1) as u32,
                                    (u64::from(h) * u64::from(percent) / 100).max(1) as u32,
                                ));
                            }))}
                            <label class="check">
                                <input type="checkbox" prop:checked=move || keep_aspect.get() on:change=move |event| keep_aspect.set(event_target_checked(&event))/>
                                "Keep aspect"
                            </label>
                            <button class="wide" on:click=move |_| {
                                let (width, height) = resize.get_untracked();
                                commit(EditOp::Resize { width, height });
                            }>"Resize"</button>
                        </fieldset>
                    </details>
                    }.into_any()}
                    {view! {
                    <details open>
                        <summary>"Filters"</summary>
                        <div class="filters">
                            {Filter::ALL.iter().map(|&name| view! {
                                <button class="filter" on:click=move |_| commit(EditOp::Filter { name }) title=name.label()>
                                    <img
                                        alt=""
                                        src=move || filter_previews.with(|previews| previews.iter().find(|(f, _)| *f == name).map(|(_, url)| url.clone()).unwrap_or_default())
                                    />
                                    <span>{name.label()}</span>
                                </button>
                            }).collect_view()}
                        </div>
                    </details>
                    }.into_any()}
                    <ol class="history" aria-label="Edit history">
                        {move || recipe.with(|steps| steps.ops.iter().enumerate().map(|(index, op)| view! {
                            <li>
                                {op.label()}
                                <button
                                    class="remove-step"
                                    aria-label=format!("Remove step {}: {}", index + 1, op.label())
                                    on:click=move |_| {
                                        redo.set(Vec::new());
                                        recipe.update(|recipe| { recipe.ops.remove(index); });
                                    }
                                >"×"</button>
                            </li>
                        }).collect_view())}
                    </ol>
                    <div class="tool-row">
                        <button
                            title="Ctrl/Cmd+Z"
                            disabled=move || recipe.with(|recipe| recipe.ops.is_empty())
                            on:click=move |_| undo()
                        >"Undo"</button>
                        <button
                            title="Shift+Ctrl/Cmd+Z"
                            disabled=move || redo.with(Vec::is_empty)
                            on:click=move |_| redo_step()
                        >"Redo"</button>
                        <button on:click=move |_| { redo.set(Vec::new()); recipe.set(EditRecipe::default()); }>"Reset"</button>
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
                }.into_any()}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::centred_crop;

    #[test]
    fn aspect_presets_take_the_largest_centred_rectangle() {
        assert_eq!(centred_crop(400, 300, (1, 1)), (50, 0, 300, 300));
        assert_eq!(centred_crop(300, 400, (1, 1)), (0, 50, 300, 300));
        assert_eq!(centred_crop(1600, 900, (16, 9)), (0, 0, 1600, 900));
        assert_eq!(centred_crop(400, 400, (4, 5)), (40, 0, 320, 400));
    }
}
