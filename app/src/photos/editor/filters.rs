//! Filters: one button per filter, each with a thumbnail of the photo under it.

use leptos::prelude::*;

use super::state::EditorState;
use crate::recipe::{EditOp, Filter};

#[component]
pub fn Filters(state: EditorState) -> impl IntoView {
    view! {
        <details open>
            <summary>"Filters"</summary>
            <div class="filters">
                {Filter::ALL.iter().map(|&name| view! {
                    <button class="filter" on:click=move |_| state.commit(EditOp::Filter { name }) title=name.label()>
                        <img
                            alt=""
                            src=move || state.filter_previews.with(|previews| previews.iter().find(|(f, _)| *f == name).map(|(_, url)| url.clone()).unwrap_or_default())
                        />
                        <span>{name.label()}</span>
                    </button>
                }).collect_view()}
            </div>
        </details>
    }
}
