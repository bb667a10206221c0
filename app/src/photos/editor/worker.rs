//! The render worker, as a hook: loads a scaled preview of the original, then asks the editor
//! worker (WASM in a Web Worker) to render the recipe whenever it changes, one render at a time.

use leptos::prelude::*;

use super::state::{CanvasState, EditorState};
use super::{PREVIEW_MAX_SIDE, THUMBNAIL_SIDE};
use crate::browser::{EditorWorker, Rendered, Source};
use crate::photos::PhotoSummary;
use crate::recipe::EditRecipe;

/// Starts the worker for `photo` and keeps `canvas` showing `state.recipe`.
pub fn use_render_worker(state: EditorState, canvas: NodeRef<leptos::html::Canvas>, photo: &PhotoSummary) {
    let original_size = (photo.width, photo.height);
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
                state.rendering.set(true);
            }
            Err(message) => state.edit_error.set(Some(message)),
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
        state.size.set((width, height));
        state.edit_error.set(crate::browser::draw(&canvas, &rendered.image).err());
        state.drawn_steps.set(Some(job.recipe.ops.len()));
        if job.committed {
            state.crop.set((0, 0, width, height));
            state.resize.set((width, height));
            state.aspect.set(None);
            state.filter_previews.set(rendered.thumbnails);
        }
        state.canvas_state.set(CanvasState::Ready);
    };
    let on_reply = move |reply: Result<Rendered, (u32, String)>| {
        let answered = in_flight.get_value().filter(|(id, _)| match &reply {
            Ok(rendered) => rendered.id == *id,
            Err((reply_id, _)) => *reply_id == *id || *reply_id == 0,
        });
        match reply {
            Err((0, message)) => state.canvas_state.set(CanvasState::Failed(message)),
            Err((_, message)) => state.edit_error.set(Some(message)),
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
                None => state.rendering.set(false),
            }
        }
    };

    let url = photo.original_url.clone();
    leptos::task::spawn_local(async move {
        match EditorWorker::start(on_reply) {
            Ok(started) => worker.set_value(Some(started)),
            Err(message) => return state.canvas_state.set(CanvasState::Failed(message)),
        }
        match crate::browser::load_preview(&url, PREVIEW_MAX_SIDE).await {
            Ok((preview, factor)) => {
                scale.set_value(factor);
                source.set_value(Some(preview));
                loaded.set(true);
            }
            Err(message) => state.canvas_state.set(CanvasState::Failed(message)),
        }
    });
    // Re-render whenever the recipe or the dragged slider changes.
    Effect::new(move |_| {
        let mut wanted = state.recipe.get();
        let dragging = state.pending.get();
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
}
