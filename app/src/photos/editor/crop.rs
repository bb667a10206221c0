//! Crop: an aspect preset, four fields, or a rectangle dragged on the photo.

use leptos::prelude::*;

use super::state::{number_field, EditorState, Rect};
use crate::ids::PhotoId;
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

/// The crop of `aspect` (or a snug box, when free) around the subject's box (fractions of the
/// image): the largest rectangle of the aspect, centred on the subject as far as the image
/// allows, the same frame as the export's cropping presets.
pub fn subject_crop(width: u32, height: u32, aspect: Option<(u32, u32)>, [x, y, w, h]: [f32; 4]) -> Rect {
    let (fw, fh) = (width as f32, height as f32);
    match aspect {
        Some(ratio) => {
            let (_, _, cw, ch) = centred_crop(width, height, ratio);
            let (cx, cy) = ((x + w / 2.0) * fw, (y + h / 2.0) * fh);
            let left = (cx - cw as f32 / 2.0).clamp(0.0, (width - cw) as f32).round() as u32;
            let top = (cy - ch as f32 / 2.0).clamp(0.0, (height - ch) as f32).round() as u32;
            (left, top, cw, ch)
        }
        None => {
            // A little room around the subject, inside the image.
            let (mx, my) = (w * 0.08, h * 0.08);
            let left = ((x - mx) * fw).clamp(0.0, fw - 1.0).round() as u32;
            let top = ((y - my) * fh).clamp(0.0, fh - 1.0).round() as u32;
            let right = ((x + w + mx) * fw).clamp(left as f32 + 1.0, fw).round() as u32;
            let bottom = ((y + h + my) * fh).clamp(top as f32 + 1.0, fh).round() as u32;
            (left, top, right - left, bottom - top)
        }
    }
}

#[component]
pub fn CropPanel(state: EditorState, photo: PhotoId) -> impl IntoView {
    let crop = state.crop;
    // "Fit the subject": the server finds it (faces, else the salient object) on the edit so far.
    let fit = RwSignal::new(false);
    let find = Action::new(move |recipe: &crate::recipe::EditRecipe| {
        let recipe = recipe.clone();
        async move { crate::photos::api::find_subject(photo, recipe).await }
    });
    let place = move || {
        if fit.get_untracked() {
            find.dispatch(state.recipe.get_untracked());
        }
    };
    Effect::new(move |_| {
        if let Some(Ok(Some(subject))) = find.value().get() {
            let (w, h) = state.size.get_untracked();
            state.crop.set(subject_crop(w, h, state.aspect.get_untracked(), subject));
        }
    });
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
                            place();
                        }
                    >
                        {ASPECTS.iter().enumerate().map(|(i, (label, _))| view! { <option value=i.to_string()>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <label class="wide">
                    <input type="checkbox" prop:checked=fit on:change=move |ev| { fit.set(event_target_checked(&ev)); place(); }/>
                    " Fit the subject"
                </label>
                {move || match find.value().get() {
                    _ if find.pending().get() => Some(view! { <p class="hint wide" role="status">"Finding the subject…"</p> }.into_any()),
                    Some(Ok(None)) => Some(view! { <p class="hint wide" role="status">"No subject found: the crop stays centred."</p> }.into_any()),
                    Some(Err(error)) => Some(view! { <p class="error wide" role="alert">{error.to_string()}</p> }.into_any()),
                    _ => None,
                }}
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
    use super::{centred_crop, subject_crop};

    #[test]
    fn fit_subject_centres_the_aspect_on_the_subject_inside_the_image() {
        // A subject in the right quarter of a 400×300 image.
        let subject = [0.75, 0.25, 0.2, 0.5];
        assert_eq!(subject_crop(400, 300, Some((1, 1)), subject), (100, 0, 300, 300));
        assert_eq!(subject_crop(400, 300, Some((4, 5)), subject), (160, 0, 240, 300));
        // Free: the subject with a little room, inside the image.
        assert_eq!(subject_crop(400, 300, None, subject), (294, 63, 92, 174));
        assert_eq!(subject_crop(400, 300, None, [0.0, 0.0, 1.0, 1.0]), (0, 0, 400, 300));
    }

    #[test]
    fn aspect_presets_take_the_largest_centred_rectangle() {
        assert_eq!(centred_crop(400, 300, (1, 1)), (50, 0, 300, 300));
        assert_eq!(centred_crop(300, 400, (1, 1)), (0, 50, 300, 300));
        assert_eq!(centred_crop(1600, 900, (16, 9)), (0, 0, 1600, 900));
        assert_eq!(centred_crop(400, 400, (4, 5)), (40, 0, 320, 400));
    }
}
