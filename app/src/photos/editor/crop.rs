//! Crop: an aspect preset, four fields, or a rectangle dragged on the photo.

use leptos::prelude::*;

use super::state::{number_field, EditorState, Rect};
use crate::recipe::EditOp;

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

#[component]
pub fn CropPanel(state: EditorState) -> impl IntoView {
    let crop = state.crop;
    let crop_field = move |label, read: fn(&Rect) -> u32, write: fn(&mut Rect, u32)| {
        number_field(
            label,
            Signal::derive(move || crop.with(read)),
            Callback::new(move |v| crop.update(|r| write(r, v))),
        )
    };
    view! {
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
                            state.aspect.set(choice);
                            let (w, h) = state.size.get_untracked();
                            state.crop.set(choice.map_or((0, 0, w, h), |ratio| centred_crop(w, h, ratio)));
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
                    let (x, y, width, height) = state.crop.get_untracked();
                    state.commit(EditOp::Crop { x, y, width, height });
                }>"Crop"</button>
            </fieldset>
        </details>
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
