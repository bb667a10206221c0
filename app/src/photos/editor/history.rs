//! The edit history: every step, each removable, with undo, redo and reset.

use leptos::prelude::*;

use super::state::EditorState;
use crate::recipe::EditRecipe;

#[component]
pub fn History(state: EditorState) -> impl IntoView {
    view! {
        <ol class="history" aria-label="Edit history">
            {move || state.recipe.with(|steps| steps.ops.iter().enumerate().map(|(index, op)| view! {
                <li>
                    {op.label()}
                    <button
                        class="remove-step"
                        aria-label=format!("Remove step {}: {}", index + 1, op.label())
                        on:click=move |_| {
                            state.redo.set(Vec::new());
                            state.recipe.update(|recipe| { recipe.ops.remove(index); });
                        }
                    >"×"</button>
                </li>
            }).collect_view())}
        </ol>
        <div class="tool-row">
            <button
                title="Ctrl/Cmd+Z"
                disabled=move || state.recipe.with(|recipe| recipe.ops.is_empty())
                on:click=move |_| state.undo()
            >"Undo"</button>
            <button
                title="Shift+Ctrl/Cmd+Z"
                disabled=move || state.redo.with(Vec::is_empty)
                on:click=move |_| state.redo_step()
            >"Redo"</button>
            <button on:click=move |_| { state.redo.set(Vec::new()); state.recipe.set(EditRecipe::default()); }>"Reset"</button>
        </div>
    }
}
