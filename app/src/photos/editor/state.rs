//! The editor's state, shared by its panels: the recipe and its redo list, the op a slider is
//! still dragging, and what the canvas shows. Every control ends in `commit`.

use leptos::prelude::*;

use crate::photos::PhotoSummary;
use crate::recipe::{Budget, EditOp, EditRecipe, Filter};

// Only the browser moves past the first state.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasState {
    Loading,
    Ready,
    Failed(String),
}

/// A crop rectangle in full-resolution pixels: x, y, width, height.
pub type Rect = (u32, u32, u32, u32);

#[derive(Clone, Copy)]
pub struct EditorState {
    pub recipe: RwSignal<EditRecipe>,
    pub redo: RwSignal<Vec<EditOp>>,
    /// The op a slider previews while it is dragged; committed on release.
    pub pending: RwSignal<Option<EditOp>>,
    pub canvas_state: RwSignal<CanvasState>,
    pub edit_error: RwSignal<Option<String>>,
    /// The edited image's size, in full-resolution pixels.
    pub size: RwSignal<(u32, u32)>,
    pub crop: RwSignal<Rect>,
    pub aspect: RwSignal<Option<(u32, u32)>>,
    pub resize: RwSignal<(u32, u32)>,
    pub filter_previews: RwSignal<Vec<(Filter, String)>>,
    /// How many steps the canvas shows (None before the first render), and whether the worker
    /// is busy: the page can tell a finished preview from one still on its way.
    pub drawn_steps: RwSignal<Option<usize>>,
    pub rendering: RwSignal<bool>,
    /// The original's size and the server's budget: a step that would break it is refused here.
    pub original: (u32, u32),
    pub budget: Budget,
}

impl EditorState {
    pub fn new(photo: &PhotoSummary, initial: EditRecipe) -> Self {
        Self {
            recipe: RwSignal::new(initial),
            redo: RwSignal::new(Vec::new()),
            pending: RwSignal::new(None),
            canvas_state: RwSignal::new(CanvasState::Loading),
            edit_error: RwSignal::new(None),
            size: RwSignal::new((photo.width, photo.height)),
            crop: RwSignal::new((0, 0, photo.width, photo.height)),
            aspect: RwSignal::new(None),
            resize: RwSignal::new((photo.width, photo.height)),
            filter_previews: RwSignal::new(Vec::new()),
            drawn_steps: RwSignal::new(None),
            rendering: RwSignal::new(false),
            original: (photo.width, photo.height),
            budget: Budget::for_pixels(if photo.max_pixels == 0 { u64::MAX / 1024 } else { photo.max_pixels }),
        }
    }

    /// Adds a step, unless the recipe with it is one the server would refuse (too large an
    /// image, too much work): then the step is dropped and the reason shown.
    pub fn commit(self, op: EditOp) {
        self.pending.set(None);
        let mut next = self.recipe.get_untracked();
        next.ops.push(op);
        if let Err(error) = next.plan(self.original, self.budget) {
            self.edit_error.set(Some(crate::error::AppError::from(error).to_string()));
            return;
        }
        self.redo.set(Vec::new());
        self.recipe.set(next);
    }

    pub fn undo(self) {
        let mut step = None;
        self.recipe.update(|recipe| step = recipe.ops.pop());
        if let Some(step) = step {
            self.redo.update(|redo| redo.push(step));
        }
    }

    pub fn redo_step(self) {
        let mut step = None;
        self.redo.update(|redo| step = redo.pop());
        if let Some(step) = step {
            self.recipe.update(|recipe| recipe.ops.push(step));
        }
    }
}

/// A labelled whole-number field, for the crop and resize panels.
pub fn number_field(label: &'static str, value: Signal<u32>, set: Callback<u32>) -> impl IntoView {
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
}
