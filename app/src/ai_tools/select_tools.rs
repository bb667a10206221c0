//! The selection controls on the eraser's mask: a click (or the keyboard's point) paints, selects
//! by colour (the magic wand, in the page) or selects the object there (Segment Anything, on the
//! server when it has the model); "Select subject" and the objects found ask the server. Each
//! selection is added to or taken out of the painted mask on the canvas, which the eraser and
//! generative fill send as they always did.

use leptos::html;
use leptos::prelude::*;
use recipe::selection::Combine;

use crate::ai_tools::{select_area, FoundObject, SelectRequest, Selected};
use crate::error::AppError;
use crate::ids::PhotoId;

/// What a click on the photo, or Enter at the keyboard's point, does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClickMode {
    Brush,
    /// The magic wand: the colour there and its like, connected.
    Wand,
    /// The object there, by Segment Anything (only when the server has it).
    Object,
}

/// A request to the server, how its mask meets the painted one, and what the page calls it.
type Ask = Action<(SelectRequest, Combine, String), (Combine, String, Result<Selected, AppError>)>;

/// The selection state of one eraser form, shared by its canvas and its controls.
#[derive(Clone, Copy)]
pub struct Selector {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    canvas: NodeRef<html::Canvas>,
    size: (u32, u32),
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    brush: RwSignal<f64>,
    click: RwSignal<ClickMode>,
    combine: RwSignal<Combine>,
    tolerance: RwSignal<u8>,
    eight: RwSignal<bool>,
    feather: RwSignal<u32>,
    /// The point the keyboard moves and the last click set, in mask pixels.
    point: RwSignal<(u32, u32)>,
    show_point: RwSignal<bool>,
    objects: RwSignal<Option<Vec<FoundObject>>>,
    point_prompts: RwSignal<bool>,
    status: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    ask: Ask,
}

impl Selector {
    /// For the mask `canvas` of `size` over `photo`, painted with a brush of radius `brush`.
    pub fn new(canvas: NodeRef<html::Canvas>, photo: PhotoId, size: (u32, u32), brush: RwSignal<f64>) -> Self {
        let ask: Ask = Action::new(move |(request, combine, what): &(SelectRequest, Combine, String)| {
            let (request, combine, what) = (request.clone(), *combine, what.clone());
            async move { (combine, what, select_area(photo, request, size.0, size.1).await) }
        });
        let selector = Self {
            canvas,
            size,
            brush,
            click: RwSignal::new(ClickMode::Brush),
            combine: RwSignal::new(Combine::Add),
            tolerance: RwSignal::new(32),
            eight: RwSignal::new(false),
            feather: RwSignal::new(0),
            point: RwSignal::new((size.0 / 2, size.1 / 2)),
            show_point: RwSignal::new(false),
            objects: RwSignal::new(None),
            point_prompts: RwSignal::new(false),
            status: RwSignal::new(None),
            error: RwSignal::new(None),
            ask,
        };
        // The server's answer: its mask onto the canvas, or the objects it found.
        Effect::new(move |_| {
            let Some((combine, what, answer)) = ask.value().get() else { return };
            match answer {
                Ok(selected) => selector.take(combine, &what, selected),
                Err(error) => selector.fail(error.to_string()),
            }
        });
        selector
    }

    fn take(self, combine: Combine, what: &str, selected: Selected) {
        self.point_prompts.set(selected.point_prompts);
        match selected.mask {
            Some(runs) => match recipe::selection::Mask::from_runs(&runs) {
                Ok(mask) => self.apply(&mask, combine, &format!("{what} ({})", selected.method)),
                Err(error) => self.fail(error.to_string()),
            },
            None => {
                self.status.set(Some(match selected.objects.len() {
                    0 => "No objects found.".to_string(),
                    1 => "1 object found.".to_string(),
                    n => format!("{n} objects found."),
                }));
                self.error.set(None);
                self.objects.set(Some(selected.objects));
            }
        }
    }

    fn fail(self, message: String) {
        self.status.set(None);
        self.error.set(Some(message));
    }

    /// Adds `mask` to the painted mask or takes it out, and says how much it covered.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn apply(self, mask: &recipe::selection::Mask, combine: Combine, what: &str) {
        #[cfg(feature = "hydrate")]
        {
            let Some(canvas) = self.canvas.get_untracked() else { return };
            if let Err(error) = canvas::combine(&canvas, mask, combine) {
                return self.fail(error);
            }
            let share = mask.count() as f64 * 100.0 / f64::from(self.size.0 * self.size.1).max(1.0);
            let verb = match combine {
                Combine::Add => "added to the mask",
                Combine::Subtract => "taken out of the mask",
            };
            self.error.set(None);
            self.status.set(Some(if mask.count() == 0 {
                format!("{what}: nothing selected.")
            } else {
                format!("{what} {verb}: {share:.0} % of the photo.")
            }));
        }
    }

    /// The brush's dot at canvas coordinates: painted, or rubbed out while selections subtract.
    #[cfg(feature = "hydrate")]
    pub fn brush_at(&self, canvas: &web_sys::HtmlCanvasElement, x: f64, y: f64) -> Result<(), String> {
        let radius = self.brush.get_untracked();
        match self.combine.get_untracked() {
            Combine::Add => crate::browser::mask::dot(canvas, x, y, radius),
            Combine::Subtract => canvas::rub_out(canvas, x, y, radius),
        }
    }

    /// A press on the mask: true when a selection takes it (the brush then paints nothing).
    pub fn pointer_down(&self, _event: &leptos::ev::PointerEvent) -> bool {
        if self.click.get_untracked() == ClickMode::Brush {
            return false;
        }
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = self.canvas.get_untracked() {
            let (x, y) = crate::browser::mask::position(&canvas, _event);
            let clamp = |v: f64, side: u32| (v.max(0.0) as u32).min(side - 1);
            self.point.set((clamp(x, self.size.0), clamp(y, self.size.1)));
            self.show_point.set(false);
            self.at_point();
        }
        true
    }

    /// Arrow keys move the point (Shift: ten times as far), Enter or Space clicks there.
    pub fn key_down(&self, event: &leptos::ev::KeyboardEvent) {
        let step = |side: u32| if event.shift_key() { (side / 10).max(1) } else { (side / 100).max(1) };
        let (x, y) = self.point.get_untracked();
        let (w, h) = self.size;
        let moved = match event.key().as_str() {
            "ArrowLeft" => (x.saturating_sub(step(w)), y),
            "ArrowRight" => ((x + step(w)).min(w - 1), y),
            "ArrowUp" => (x, y.saturating_sub(step(h))),
            "ArrowDown" => (x, (y + step(h)).min(h - 1)),
            "Enter" | " " => {
                event.prevent_default();
                self.show_point.set(true);
                self.at_point();
                return;
            }
            _ => return,
        };
        event.prevent_default();
        self.point.set(moved);
        self.show_point.set(true);
    }

    /// What a click does, at the point.
    fn at_point(&self) {
        let (x, y) = self.point.get_untracked();
        match self.click.get_untracked() {
            ClickMode::Brush =>
            {
                #[cfg(feature = "hydrate")]
                if let Some(canvas) = self.canvas.get_untracked() {
                    if let Err(error) = self.brush_at(&canvas, f64::from(x) + 0.5, f64::from(y) + 0.5) {
                        self.fail(error);
                    }
                }
            }
            ClickMode::Wand => self.wand(),
            ClickMode::Object => {
                let (fx, fy) = ((x as f32 + 0.5) / self.size.0 as f32, (y as f32 + 0.5) / self.size.1 as f32);
                self.ask.dispatch((
                    SelectRequest::Point { x: fx.min(1.0), y: fy.min(1.0) },
                    self.combine.get_untracked(),
                    "The object at the point".into(),
                ));
            }
        }
    }

    /// The magic wand at the point, in the page.
    fn wand(&self) {
        #[cfg(feature = "hydrate")]
        {
            let Some(canvas) = self.canvas.get_untracked() else { return };
            use recipe::selection::Connectivity;
            let connectivity = if self.eight.get_untracked() { Connectivity::Eight } else { Connectivity::Four };
            let made = canvas::photo_pixels(&canvas).and_then(|pixels| {
                let pixels =
                    recipe::selection::Pixels { data: &pixels, width: self.size.0, height: self.size.1, channels: 4 };
                recipe::selection::magic_wand(
                    pixels,
                    self.point.get_untracked(),
                    self.tolerance.get_untracked(),
                    connectivity,
                )
                .map_err(|error| error.to_string())
            });
            match made {
                Ok(mask) => self.apply(
                    &mask.feathered(self.feather.get_untracked()),
                    self.combine.get_untracked(),
                    "Similar colour",
                ),
                Err(error) => self.fail(error),
            }
        }
    }

    /// A cross at the keyboard's point, over the photo, while the keyboard moves it.
    pub fn marker(self) -> impl IntoView {
        let percent = move |index: usize| {
            let (x, y) = self.point.get();
            let (value, side) = if index == 0 { (x, self.size.0) } else { (y, self.size.1) };
            format!("{:.2}%", (f64::from(value) + 0.5) * 100.0 / f64::from(side))
        };
        view! {
            <span class="select-point" aria-hidden="true" hidden=move || !self.show_point.get()
                style:left=move || percent(0) style:top=move || percent(1)></span>
        }
    }
}

/// The controls under the eraser's brush.
#[component]
pub fn SelectionTools(selector: Selector) -> impl IntoView {
    let Selector {
        click,
        combine,
        tolerance,
        eight,
        feather,
        point,
        objects,
        point_prompts,
        status,
        error,
        ask,
        size,
        ..
    } = selector;
    let busy = ask.pending();
    let ask_for = move |request: SelectRequest, what: &str| {
        selector.error.set(None);
        selector.status.set(Some("Selecting…".into()));
        ask.dispatch((request, combine.get_untracked(), what.to_string()));
    };
    let mode = move |value: ClickMode, label: &'static str| {
        view! {
            <label>
                <input type="radio" name="select-click" prop:checked=move || click.get() == value on:change=move |_| click.set(value)/>
                {label}
            </label>
        }
    };
    let how = move |value: Combine, label: &'static str| {
        view! {
            <label>
                <input type="radio" name="select-combine" prop:checked=move || combine.get() == value on:change=move |_| combine.set(value)/>
                {label}
            </label>
        }
    };
    // The point in percent of the photo, for the fields.
    let percent = move |index: usize| {
        let (x, y) = point.get();
        let (value, side) = if index == 0 { (x, size.0) } else { (y, size.1) };
        ((f64::from(value) + 0.5) * 100.0 / f64::from(side)).round().to_string()
    };
    let set_percent = move |index: usize, text: String| {
        let Ok(value) = text.trim().parse::<f64>() else { return };
        let side = if index == 0 { size.0 } else { size.1 };
        let pixel = ((value.clamp(0.0, 100.0) / 100.0 * f64::from(side)) as u32).min(side - 1);
        point.update(|p| if index == 0 { p.0 = pixel } else { p.1 = pixel });
        selector.show_point.set(true);
    };
    view! {
        <fieldset class="selection-tools">
            <legend>"Select"</legend>
            <fieldset>
                <legend>"A click on the photo"</legend>
                {mode(ClickMode::Brush, " Paints")}
                {mode(ClickMode::Wand, " Selects similar colour (magic wand)")}
                <Show when=move || point_prompts.get()>
                    {mode(ClickMode::Object, " Selects the object there (Segment Anything)")}
                </Show>
            </fieldset>
            <fieldset>
                <legend>"Selections and the brush"</legend>
                {how(Combine::Add, " Add to the mask")}
                {how(Combine::Subtract, " Take out of the mask")}
            </fieldset>
            <label>"Tolerance "
                <input type="range" min="0" max="255" step="1" aria-label="Wand tolerance" prop:value=move || tolerance.get().to_string()
                    on:input=move |ev| tolerance.set(event_target_value(&ev).parse().unwrap_or(32))/>
                " " {move || tolerance.get()}
            </label>
            <label><input type="checkbox" prop:checked=eight on:change=move |ev| eight.set(event_target_checked(&ev))/>" Through diagonal gaps too"</label>
            <label>"Wand soft edge "
                <input type="range" min="0" max="20" step="1" aria-label="Wand soft edge" prop:value=move || feather.get().to_string()
                    on:input=move |ev| feather.set(event_target_value(&ev).parse().unwrap_or(0))/>
                " " {move || format!("{} px", feather.get())}
            </label>
            <p class="hint">"Or use the keyboard: focus the mask, move the point with the arrow keys (Shift moves further) and press Enter to click there, or type the point:"</p>
            <div class="select-point-fields">
                <label>"Point x (%) " <input type="number" min="0" max="100" step="1" aria-label="Point x (%)"
                    prop:value=move || percent(0) on:change=move |ev| set_percent(0, event_target_value(&ev))/></label>
                <label>"y (%) " <input type="number" min="0" max="100" step="1" aria-label="Point y (%)"
                    prop:value=move || percent(1) on:change=move |ev| set_percent(1, event_target_value(&ev))/></label>
                <button type="button" on:click=move |_| selector.wand()>"Select similar colour at the point"</button>
                <Show when=move || point_prompts.get()>
                    <button type="button" prop:disabled=busy on:click=move |_| {
                        let previous = click.get_untracked();
                        click.set(ClickMode::Object);
                        selector.at_point();
                        click.set(previous);
                    }>"Select the object at the point"</button>
                </Show>
            </div>
            <div class="select-server">
                <button type="button" prop:disabled=busy on:click=move |_| ask_for(SelectRequest::Subject, "Subject")>"Select subject"</button>
                <button type="button" prop:disabled=busy on:click=move |_| ask_for(SelectRequest::Objects, "")>"Find objects"</button>
            </div>
            {move || objects.get().filter(|list| !list.is_empty()).map(|list| view! {
                <ul class="found-objects" aria-label="Objects found">
                    {list.into_iter().map(|object| {
                        let label = object.label.clone();
                        let text = format!("Select the {} ({:.0} %)", object.label, object.score * 100.0);
                        view! {
                            <li><button type="button" prop:disabled=busy
                                on:click=move |_| ask_for(SelectRequest::Object { bbox: object.bbox }, &capitalised(&label))>{text}</button></li>
                        }
                    }).collect_view()}
                </ul>
            })}
            <p class="hint" role="status">{move || status.get()}</p>
            {move || error.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </fieldset>
    }
    .into_any()
}

fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The canvas work, in the browser.
#[cfg(feature = "hydrate")]
mod canvas {
    use recipe::selection::{Combine, Mask};
    use wasm_bindgen::{Clamped, JsCast, JsValue};
    use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlImageElement, ImageData};

    /// The colour the brush paints (`browser::mask::dot`).
    const PAINT: [u8; 3] = [255, 0, 64];

    fn message(value: JsValue) -> String {
        value.as_string().unwrap_or_else(|| format!("{value:?}"))
    }

    fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
        canvas
            .get_context("2d")
            .map_err(message)?
            .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
            .ok_or_else(|| "this browser has no 2D canvas".to_string())
    }

    /// The photo under the mask (the `img` beside the canvas), at the canvas's size, as RGBA.
    pub fn photo_pixels(canvas: &HtmlCanvasElement) -> Result<Vec<u8>, String> {
        let image = canvas
            .parent_element()
            .and_then(|stage| stage.query_selector("img").ok().flatten())
            .and_then(|image| image.dyn_into::<HtmlImageElement>().ok())
            .ok_or("The photo is missing.")?;
        if !image.complete() || image.natural_width() == 0 {
            return Err("The photo is still loading; try again in a moment.".into());
        }
        let (width, height) = (canvas.width(), canvas.height());
        let copy: HtmlCanvasElement =
            leptos::prelude::document().create_element("canvas").map_err(message)?.unchecked_into();
        copy.set_width(width);
        copy.set_height(height);
        let context = context(&copy)?;
        context
            .draw_image_with_html_image_element_and_dw_and_dh(&image, 0.0, 0.0, f64::from(width), f64::from(height))
            .map_err(message)?;
        Ok(context.get_image_data(0.0, 0.0, f64::from(width), f64::from(height)).map_err(message)?.data().0)
    }

    /// `mask` (the canvas's size) painted onto the canvas, or rubbed out of it.
    pub fn combine(canvas: &HtmlCanvasElement, mask: &Mask, how: Combine) -> Result<(), String> {
        let (width, height) = (canvas.width(), canvas.height());
        if (mask.width(), mask.height()) != (width, height) {
            return Err("The selection does not fit the mask; reload the page.".into());
        }
        let context = context(canvas)?;
        let mut pixels =
            context.get_image_data(0.0, 0.0, f64::from(width), f64::from(height)).map_err(message)?.data().0;
        for (pixel, &value) in pixels.chunks_exact_mut(4).zip(mask.values()) {
            let alpha = pixel[3];
            match how {
                Combine::Add if value > alpha => pixel.copy_from_slice(&[PAINT[0], PAINT[1], PAINT[2], value]),
                Combine::Subtract => pixel[3] = alpha.min(255 - value),
                Combine::Add => {}
            }
        }
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), width, height).map_err(message)?;
        context.put_image_data(&image, 0.0, 0.0).map_err(message)
    }

    /// A round patch of the mask cleared (the brush while selections subtract).
    pub fn rub_out(canvas: &HtmlCanvasElement, x: f64, y: f64, radius: f64) -> Result<(), String> {
        let context = context(canvas)?;
        context.set_global_composite_operation("destination-out").map_err(message)?;
        context.begin_path();
        let drawn = context.arc(x, y, radius, 0.0, std::f64::consts::TAU).map_err(message);
        context.fill();
        context.set_global_composite_operation("source-over").map_err(message)?;
        drawn
    }
}
