//! The editor's export panel: the settings, the exported file next to the same pixels without
//! compression at 1:1 with its exact bytes and the saving, made again by the server (a moment
//! after the last change) whenever a setting or the edit changes, and the download of exactly
//! that file.

use leptos::prelude::*;

use super::{
    percent_encode, preset, Chroma, ChromaOptions, ExportFormat, ExportSettings, Fit, FormatOptions, PresetOptions,
};
use crate::recipe::EditRecipe;
use crate::ui::bytes;

/// How long the settings must rest before the server is asked again.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SETTLE_MS: u64 = 300;

/// The export link for `settings`, with the unsaved edit when there is one.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn link(export_url: &str, settings: &ExportSettings, recipe: &EditRecipe) -> String {
    let mut url = format!("{export_url}&{}", settings.query());
    if !recipe.ops.is_empty() {
        let json = serde_json::to_string(recipe).unwrap_or_default();
        url.push_str("&recipe=");
        url.push_str(&percent_encode(&json));
    }
    url
}

/// "2.3 MB → 312 KB (87% smaller)".
fn figures(original: Option<u64>, exported: u64) -> String {
    match original.filter(|original| *original > 0) {
        Some(original) => {
            let change = (1.0 - exported as f64 / original as f64) * 100.0;
            let how = if change >= 0.0 { format!("{change:.0}% smaller") } else { format!("{:.0}% larger", -change) };
            format!("{} → {} ({how})", bytes(original), bytes(exported))
        }
        None => bytes(exported),
    }
}

#[component]
pub fn ExportPanel(export_url: String, original_url: String, recipe: RwSignal<EditRecipe>) -> impl IntoView {
    let settings = RwSignal::new(ExportSettings::default());
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    let (after, before, whole) =
        (RwSignal::new(None::<Shown>), RwSignal::new(None::<Shown>), RwSignal::new(None::<Shown>));
    let original_bytes = RwSignal::new(None::<u64>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let compare = RwSignal::new(50u32);
    // Nothing is made until the panel is opened: most editing sessions never export.
    let open = RwSignal::new(false);
    // A cropping preset's frame, shown on the whole photo, moves where the person drags it.
    let cropping = move || settings.with(|s| s.chosen_preset().and_then(preset).is_some_and(|p| p.fit == Fit::Crop));
    let picture = NodeRef::<leptos::html::Img>::new();
    let dragging = RwSignal::new(false);

    #[cfg(feature = "hydrate")]
    {
        let original = original_url.clone();
        leptos::task::spawn_local(async move {
            original_bytes.set(crate::browser::content_length(&original).await);
        });
        let generation = StoredValue::new(0u64);
        let export_url = export_url.clone();
        Effect::new(move |_| {
            if !open.get() {
                return;
            }
            let wanted = settings.get();
            let edit = recipe.get();
            let after_url = link(&export_url, &wanted, &edit);
            let whole_url = cropping().then(|| {
                let small = ExportSettings {
                    preset: None,
                    focus: None,
                    max_side: Some(480),
                    reference: true,
                    ..wanted.clone()
                };
                link(&export_url, &small, &edit)
            });
            // The "before" has the after's frame: the subject it found is passed on, not sought again.
            let before_for = {
                let export_url = export_url.clone();
                move |frame: Option<[f32; 4]>| {
                    let before = ExportSettings { reference: true, subject: frame, ..wanted.clone() };
                    link(&export_url, &before, &edit)
                }
            };
            generation.update_value(|g| *g += 1);
            let mine = generation.get_value();
            set_timeout(
                move || {
                    if generation.get_value() != mine {
                        return;
                    }
                    busy.set(true);
                    leptos::task::spawn_local(async move {
                        let fresh = |fetched: &crate::browser::Fetched| {
                            let current = generation.get_value() == mine;
                            if !current {
                                fetched.forget();
                            }
                            current
                        };
                        // The photo the frame is drawn on first: small and quick, and the person
                        // may want to move the frame before the export arrives.
                        if let Some(whole_url) = whole_url {
                            if whole.with_untracked(|shown| shown.as_ref().map(|s| s.key.as_str()) != Some(&whole_url))
                            {
                                if let Ok(fetched) = crate::browser::fetch_blob(&whole_url).await {
                                    if fresh(&fetched) {
                                        whole.update(|shown| replace(shown, Shown { key: whole_url, file: fetched }));
                                    }
                                }
                            }
                        }
                        match crate::browser::fetch_blob(&after_url).await {
                            Ok(fetched) if fresh(&fetched) => {
                                after.update(|shown| replace(shown, Shown { key: after_url, file: fetched }));
                                error.set(None);
                            }
                            Ok(_) => return,
                            Err(message) => {
                                if generation.get_value() == mine {
                                    error.set(Some(message));
                                    busy.set(false);
                                }
                                return;
                            }
                        }
                        // The uncompressed side changes only with the frame, size or edit.
                        let before_url = before_for(after.with_untracked(|s| s.as_ref().and_then(|s| s.file.frame)));
                        if before.with_untracked(|shown| shown.as_ref().map(|s| s.key.as_str()) != Some(&before_url)) {
                            if let Ok(fetched) = crate::browser::fetch_blob(&before_url).await {
                                if fresh(&fetched) {
                                    before.update(|shown| replace(shown, Shown { key: before_url, file: fetched }));
                                }
                            }
                        }
                        if generation.get_value() == mine {
                            busy.set(false);
                        }
                    });
                },
                std::time::Duration::from_millis(SETTLE_MS),
            );
        });
        on_cleanup(move || {
            for shown in [after, before, whole] {
                shown.with_untracked(|shown| shown.as_ref().map(|s| s.file.forget()));
            }
        });
    }
    // Only the browser fetches; the server's render just lays the panel out.
    let _ = (&export_url, &original_url, recipe);

    let set = move |change: &dyn Fn(&mut ExportSettings)| settings.update(|s| change(s));
    let move_frame = move |event: &leptos::ev::PointerEvent| {
        if let Some(point) = pointer_fraction(picture, event) {
            set(&|s| s.focus = Some(point));
        }
    };
    let frame_style = move |side: usize| {
        after
            .with(|shown| shown.as_ref().and_then(|s| s.file.frame))
            .map(|frame| format!("{:.2}%", frame[side] * 100.0))
    };
    let number = |text: String| text.trim().parse::<u32>().ok().filter(|n| *n > 0);
    let lossy = move || settings.with(|s| s.output_format().is_lossy());

    view! {
        <details class="export-panel" on:toggle=move |event| open.set(is_open(&event))>
            <summary>"Export"</summary>
            <label>"For "
                <select name="preset" on:change=move |event| {
                    let id = event_target_value(&event);
                    set(&|s| {
                        s.preset = (!id.is_empty()).then(|| id.clone());
                        s.focus = None;
                    });
                }>
                    <PresetOptions/>
                </select>
            </label>
            <label>"Format "
                <select
                    disabled=move || settings.with(|s| s.chosen_preset().is_some())
                    on:change=move |event| {
                        if let Some(format) = ExportFormat::from_id(&event_target_value(&event)) {
                            set(&|s| s.format = format);
                        }
                    }
                >
                    <FormatOptions/>
                </select>
            </label>
            <label class="slider">
                {move || format!("Quality {}", settings.with(|s| s.quality))}
                <input
                    type="range"
                    min="1"
                    max="100"
                    aria-label="Export quality"
                    disabled=move || !lossy() || settings.with(|s| s.chosen_preset().is_some())
                    prop:value=move || settings.with(|s| s.quality.to_string())
                    on:input=move |event| {
                        if let Ok(quality) = event_target_value(&event).parse::<u8>() {
                            set(&|s| s.quality = quality.clamp(1, 100));
                        }
                    }
                />
            </label>
            <label title="4:2:0 is smaller; 4:4:4 keeps colour edges sharp (text, graphics)">"JPEG colour "
                <select on:change=move |event| {
                    let full = event_target_value(&event) == Chroma::Full.id();
                    set(&|s| s.chroma = if full { Chroma::Full } else { Chroma::Half });
                }>
                    <ChromaOptions/>
                </select>
            </label>
            <label title="mozjpeg makes the smallest JPEG; the fast way takes about half the time">
                <input type="checkbox" name="fast"
                    on:change=move |event| { let on = event_target_checked(&event); set(&|s| s.fast = on); }/>
                " Fast (a larger file)"
            </label>
            <label>"Longest side (px) "
                <input type="number" min="1" max="20000" placeholder="full size"
                    on:change=move |event| { let side = number(event_target_value(&event)); set(&|s| s.max_side = side); }/>
            </label>
            <label>"At most (KB) "
                <input type="number" min="1" placeholder="no limit"
                    on:change=move |event| { let kb = number(event_target_value(&event)); set(&|s| s.target_kb = kb); }/>
            </label>
            <label title="Fewer colours: a much smaller PNG for graphics and cut-outs">"PNG colours "
                <input type="number" min="2" max="256" placeholder="all" name="colors"
                    on:change=move |event| { let colors = number(event_target_value(&event)); set(&|s| s.colors = colors); }/>
            </label>
            <label>
                <input type="checkbox" name="keep_profile"
                    on:change=move |event| { let on = event_target_checked(&event); set(&|s| s.keep_profile = on); }/>
                " Keep the colour profile (not sRGB)"
            </label>
            <label>
                <input type="checkbox" on:change=move |event| { let on = event_target_checked(&event); set(&|s| s.describe = on); }/>
                " Alt-text and tags in the file"
            </label>
            <label>"Author "
                <input type="text" maxlength="200" placeholder="none"
                    on:change=move |event| { let text = event_target_value(&event); set(&|s| s.author = Some(text.clone()).filter(|t| !t.trim().is_empty())); }/>
            </label>
            <label>"Copyright "
                <input type="text" maxlength="200" placeholder="none"
                    on:change=move |event| { let text = event_target_value(&event); set(&|s| s.copyright = Some(text.clone()).filter(|t| !t.trim().is_empty())); }/>
            </label>
            <p
                class="export-figures"
                aria-live="polite"
                data-bytes=move || after.with(|shown| shown.as_ref().map(|s| s.file.bytes.to_string()))
                aria-busy=move || busy.get().to_string()
            >
                {move || after.with(|shown| match shown {
                    None => "Preparing the export…".to_string(),
                    Some(shown) => {
                        let format = settings.with(|s| s.output_format().label());
                        let timing = shown.file.server_ms.map(|ms| format!(" · made in {ms:.0} ms")).unwrap_or_default();
                        format!("{format}: {}{timing}", figures(original_bytes.get(), shown.file.bytes))
                    }
                })}
            </p>
            {move || error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <div
                class="frame-picker"
                hidden=move || !cropping()
                title="Drag the frame to choose what the crop keeps"
                on:pointerdown=move |event| { dragging.set(true); move_frame(&event); }
                on:pointermove=move |event| if dragging.get_untracked() { move_frame(&event); }
                on:pointerup=move |_| dragging.set(false)
                on:pointerleave=move |_| dragging.set(false)
            >
                <img node_ref=picture alt="The whole photo, with the preset's frame" draggable="false"
                    src=move || whole.with(|s| s.as_ref().map(|s| s.file.url.clone()))/>
                <div
                    class="frame"
                    aria-label="The preset's frame"
                    style:left=move || frame_style(0)
                    style:top=move || frame_style(1)
                    style:width=move || frame_style(2)
                    style:height=move || frame_style(3)
                ></div>
            </div>
            <div class="export-compare" tabindex="0" aria-label="The export at 1:1: after, with before on the left of the divider">
                <div class="pair">
                    <img class="export-after" alt="After: the exported file" src=move || after.with(|s| s.as_ref().map(|s| s.file.url.clone()))/>
                    <img
                        class="export-before"
                        alt="Before: the same pixels without compression"
                        src=move || before.with(|s| s.as_ref().map(|s| s.file.url.clone()))
                        style:clip-path=move || format!("inset(0 {}% 0 0)", 100 - compare.get().min(100))
                    />
                </div>
            </div>
            <label class="slider">"Before / after"
                <input type="range" min="0" max="100" aria-label="Export comparison"
                    prop:value=move || compare.get().to_string()
                    on:input=move |event| compare.set(event_target_value(&event).parse().unwrap_or(50))/>
            </label>
            <a
                class="button primary"
                href=move || after.with(|s| s.as_ref().map(|s| s.file.url.clone()))
                download=move || after.with(|s| s.as_ref().and_then(|s| s.file.filename.clone()).unwrap_or_default())
                aria-disabled=move || (after.with(Option::is_none) || busy.get()).to_string()
            >"Download"</a>
        </details>
    }
    .into_any()
}

/// Where a pointer is over the picture, in fractions of it.
fn pointer_fraction(picture: NodeRef<leptos::html::Img>, event: &leptos::ev::PointerEvent) -> Option<[f32; 2]> {
    #[cfg(feature = "hydrate")]
    {
        let bounds = picture.get_untracked()?.get_bounding_client_rect();
        if bounds.width() <= 0.0 || bounds.height() <= 0.0 {
            return None;
        }
        let x = (f64::from(event.client_x()) - bounds.left()) / bounds.width();
        let y = (f64::from(event.client_y()) - bounds.top()) / bounds.height();
        Some([x.clamp(0.0, 1.0) as f32, y.clamp(0.0, 1.0) as f32])
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (picture, event);
        None
    }
}

/// Whether the `<details>` a toggle event came from is open now.
fn is_open(event: &leptos::ev::Event) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlDetailsElement>().ok())
            .is_some_and(|details| details.open())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = event;
        false
    }
}

/// A fetched export and the link it came from.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct Shown {
    key: String,
    file: File,
}

#[cfg(feature = "hydrate")]
type File = crate::browser::Fetched;

/// On the server nothing is fetched; the type only has to exist.
#[cfg(not(feature = "hydrate"))]
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    url: String,
    bytes: u64,
    filename: Option<String>,
    server_ms: Option<f64>,
    frame: Option<[f32; 4]>,
}

#[cfg(feature = "hydrate")]
fn replace(shown: &mut Option<Shown>, next: Shown) {
    if let Some(old) = shown.replace(next) {
        old.file.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::EditOp;

    #[test]
    fn the_link_carries_the_settings_and_the_unsaved_edit() {
        let settings = ExportSettings { format: ExportFormat::Avif, max_side: Some(800), ..ExportSettings::default() };
        let bare = link("/media/photos/p/export?exp=1&sig=s", &settings, &EditRecipe::default());
        assert!(bare.starts_with("/media/photos/p/export?exp=1&sig=s&format=avif&quality="), "{bare}");
        assert!(bare.contains("&max_side=800&target_kb=&") && !bare.contains("recipe="), "{bare}");
        let edited = EditRecipe { ops: vec![EditOp::Grayscale] };
        let with_edit = link("/x?exp=1&sig=s", &settings, &edited);
        let json = with_edit.split("&recipe=").nth(1).unwrap();
        assert!(!json.contains(['{', '"', ' ']), "encoded: {json}");
    }

    #[test]
    fn the_saving_is_told_in_percent() {
        assert_eq!(figures(Some(2_411_725), 319_488), "2.3 MB → 312 KB (87% smaller)");
        assert_eq!(figures(Some(1000), 1500), format!("1000 B → {} (50% larger)", bytes(1500)));
        assert_eq!(figures(None, 2048), "2 KB");
    }
}
