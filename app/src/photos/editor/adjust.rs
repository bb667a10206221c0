//! Adjustments: a slider per tone setting, previewed while dragged and committed on release.

use leptos::prelude::*;

use super::state::EditorState;
use crate::recipe::EditOp;

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
pub fn Adjustments(state: EditorState) -> impl IntoView {
    view! {
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
                                state.pending.set(preview(v));
                            }
                            on:change=move |event| {
                                let v = event_target_value(&event).parse().unwrap_or(slider.neutral);
                                value.set(slider.neutral);
                                match preview(v) {
                                    Some(op) => state.commit(op),
                                    None => state.pending.set(None),
                                }
                            }
                        />
                    </label>
                }
            }).collect_view()}
        </details>
    }
}
