//! Retro looks: film grain, halftone, duotone, palettes, VHS, light leaks and the instant-photo
//! frame. Each is a small form whose button adds one step; sizes are in full-resolution pixels,
//! like the crop and resize fields, so the defaults follow the photo's size.

use leptos::prelude::*;

use super::state::{number_field, EditorState};
use crate::recipe::{Corner, EditOp, Palette, Rgb};

/// A labelled slider over whole numbers.
fn range(label: &'static str, min: u16, max: u16, value: RwSignal<u16>) -> impl IntoView {
    view! {
        <label>
            <span>{label} " " {move || value.get()}</span>
            <input
                type="range"
                min=min
                max=max
                aria-label=label
                prop:value=move || value.get().to_string()
                on:input=move |event| {
                    if let Ok(v) = event_target_value(&event).parse() {
                        value.set(v);
                    }
                }
            />
        </label>
    }
}

fn colour(label: &'static str, value: RwSignal<Rgb>) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="color"
                prop:value=move || value.get().hex()
                on:input=move |event| {
                    if let Some(rgb) = Rgb::from_hex(&event_target_value(&event)) {
                        value.set(rgb);
                    }
                }
            />
        </label>
    }
}

/// A labelled choice among `options`, told apart by `key`.
fn choice<T: Copy + PartialEq + Send + Sync + 'static>(
    label: &'static str,
    options: &'static [T],
    key: fn(T) -> &'static str,
    text: fn(T) -> &'static str,
    value: RwSignal<T>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <select aria-label=label on:change=move |event| {
                let chosen = event_target_value(&event);
                if let Some(&option) = options.iter().find(|&&option| key(option) == chosen) {
                    value.set(option);
                }
            }>
                {options.iter().map(|&option| view! {
                    <option value=key(option) prop:selected=move || value.get() == option>{text(option)}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// `value` as a slider's default for a photo whose longest side is `long`.
fn per_side(long: u32, per: u32, min: u16, max: u16) -> u16 {
    (long / per).clamp(u32::from(min), u32::from(max)) as u16
}

#[component]
pub fn RetroLooks(state: EditorState) -> impl IntoView {
    let long = state.original.0.max(state.original.1);
    let grain_amount = RwSignal::new(35u16);
    let grain_size = RwSignal::new(per_side(long, 1500, 1, 16));
    let grain_seed = RwSignal::new(1u32);
    let cell = RwSignal::new(per_side(long, 100, 4, 128));
    let shadow = RwSignal::new(Rgb(0x1d, 0x2b, 0x53));
    let highlight = RwSignal::new(Rgb(0xff, 0xcc, 0xaa));
    let palette = RwSignal::new(Palette::GameBoy);
    let pixel = RwSignal::new(per_side(long, 320, 1, 64));
    let dither = RwSignal::new(true);
    let shift = RwSignal::new(per_side(long, 300, 1, 100));
    let scanlines = RwSignal::new(40u16);
    let corner = RwSignal::new(Corner::TopLeft);
    let strength = RwSignal::new(60u16);
    let leak = RwSignal::new(Rgb(0xff, 0x6e, 0x1e));
    let border = RwSignal::new(u32::from(per_side(long, 20, 1, 2048)));
    // Out-of-range numbers still reach the recipe's checks, which explain the limits.
    let to_u8 = |value: u16| u8::try_from(value).unwrap_or(u8::MAX);

    view! {
        <details>
            <summary>"Retro looks"</summary>
            <fieldset class="crop">
                <legend>"Film grain"</legend>
                {range("Grain amount", 1, 100, grain_amount)}
                {range("Grain size (px)", 1, 16, grain_size)}
                {number_field("Grain seed", grain_seed.into(), Callback::new(move |v| grain_seed.set(v)))}
                <button class="wide" on:click=move |_| state.commit(EditOp::FilmGrain {
                    amount: to_u8(grain_amount.get_untracked()),
                    size: grain_size.get_untracked(),
                    seed: grain_seed.get_untracked(),
                })>"Add film grain"</button>
            </fieldset>
            <fieldset class="crop">
                <legend>"Halftone"</legend>
                {range("Dot spacing (px)", 2, 128, cell)}
                <button class="wide" on:click=move |_| state.commit(EditOp::Halftone { cell: cell.get_untracked() })>
                    "Add halftone"
                </button>
            </fieldset>
            <fieldset class="crop">
                <legend>"Duotone"</legend>
                {colour("Shadows", shadow)}
                {colour("Highlights", highlight)}
                <button class="wide" on:click=move |_| state.commit(EditOp::Duotone {
                    shadow: shadow.get_untracked(),
                    highlight: highlight.get_untracked(),
                })>"Add duotone"</button>
            </fieldset>
            <fieldset class="crop">
                <legend>"Palette"</legend>
                {choice("Palette", Palette::ALL, Palette::key, Palette::label, palette)}
                {range("Pixel size (px)", 1, 64, pixel)}
                <label class="check wide">
                    <input type="checkbox" prop:checked=move || dither.get() on:change=move |event| dither.set(event_target_checked(&event))/>
                    "Dither"
                </label>
                <button class="wide" on:click=move |_| state.commit(EditOp::Posterize {
                    palette: palette.get_untracked(),
                    pixel: pixel.get_untracked(),
                    dither: dither.get_untracked(),
                })>"Posterize"</button>
            </fieldset>
            <fieldset class="crop">
                <legend>"VHS"</legend>
                {range("Colour shift (px)", 0, 100, shift)}
                {range("Scanlines", 0, 100, scanlines)}
                <button class="wide" on:click=move |_| state.commit(EditOp::Vhs {
                    shift: shift.get_untracked(),
                    scanlines: to_u8(scanlines.get_untracked()),
                })>"Add VHS look"</button>
            </fieldset>
            <fieldset class="crop">
                <legend>"Light leak"</legend>
                {choice("Corner", Corner::ALL, Corner::key, Corner::label, corner)}
                {colour("Light", leak)}
                {range("Leak strength", 1, 100, strength)}
                <button class="wide" on:click=move |_| state.commit(EditOp::LightLeak {
                    corner: corner.get_untracked(),
                    strength: to_u8(strength.get_untracked()),
                    colour: leak.get_untracked(),
                })>"Add light leak"</button>
            </fieldset>
            <fieldset class="crop">
                <legend>"Instant photo"</legend>
                {number_field("Border (px)", border.into(), Callback::new(move |v| border.set(v)))}
                <button class="wide" on:click=move |_| state.commit(EditOp::PolaroidFrame {
                    border: u16::try_from(border.get_untracked()).unwrap_or(u16::MAX),
                })>"Add Polaroid frame"</button>
            </fieldset>
        </details>
    }
}
