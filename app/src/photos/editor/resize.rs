//! Resize: width and height (keeping the aspect, or not) or a percentage.

use leptos::prelude::*;

use super::state::{number_field, EditorState};
use crate::recipe::EditOp;

#[component]
pub fn ResizePanel(state: EditorState) -> impl IntoView {
    let keep_aspect = RwSignal::new(true);
    let set_resize = move |width: Option<u32>, height: Option<u32>| {
        let (current_w, current_h) = state.size.get_untracked();
        state.resize.update(|(w, h)| match (width, height, keep_aspect.get_untracked()) {
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
        <details>
            <summary>"Resize"</summary>
            <fieldset class="crop">
                <legend class="visually-hidden">"Resize"</legend>
                {number_field("Width", Signal::derive(move || state.resize.get().0), Callback::new(move |v| set_resize(Some(v), None)))}
                {number_field("Height", Signal::derive(move || state.resize.get().1), Callback::new(move |v| set_resize(None, Some(v))))}
                {number_field("Percent", Signal::derive(move || {
                    let ((w, _), (current, _)) = (state.resize.get(), state.size.get());
                    (u64::from(w) * 100 / u64::from(current.max(1))) as u32
                }), Callback::new(move |percent: u32| {
                    let (w, h) = state.size.get_untracked();
                    state.resize.set((
                        (u64::from(w) * u64::from(percent) / 100).max(1) as u32,
                        (u64::from(h) * u64::from(percent) / 100).max(1) as u32,
                    ));
                }))}
                <label class="check">
                    <input type="checkbox" prop:checked=move || keep_aspect.get() on:change=move |event| keep_aspect.set(event_target_checked(&event))/>
                    "Keep aspect"
                </label>
                <button class="wide" on:click=move |_| {
                    let (width, height) = state.resize.get_untracked();
                    state.commit(EditOp::Resize { width, height });
                }>"Resize"</button>
            </fieldset>
        </details>
    }
}
