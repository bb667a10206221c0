//! Browser-only glue: canvas pixels in and out of photon images, and uploads with progress.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{Clamped, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, File, HtmlCanvasElement, HtmlImageElement, ImageData, ProgressEvent, XmlHttpRequest};

use crate::model::{PhotoSummary, UploadReply};
use crate::recipe::{EditOp, Filter, PhotonImage};

pub const UPLOAD_URL: &str = "/api/photos";

fn js_message(value: JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .map_err(js_message)?
        .ok_or("this browser has no 2D canvas")?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(|_| "this browser has no 2D canvas".to_string())
}

/// Decodes the image at `url` with the browser's decoder and returns its RGBA pixels.
pub async fn load_image(url: &str) -> Result<PhotonImage, String> {
    let image = HtmlImageElement::new().map_err(js_message)?;
    image.set_src(url);
    JsFuture::from(image.decode())
        .await
        .map_err(|_| "The photo could not be loaded.".to_string())?;
    let (width, height) = (image.natural_width(), image.natural_height());
    let canvas: HtmlCanvasElement = leptos::prelude::document()
        .create_element("canvas")
        .map_err(js_message)?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let context = context_2d(&canvas)?;
    context.draw_image_with_html_image_element(&image, 0.0, 0.0).map_err(js_message)?;
    let pixels = context
        .get_image_data(0.0, 0.0, f64::from(width), f64::from(height))
        .map_err(|_| "This photo is too large for the browser to hold.".to_string())?;
    Ok(PhotonImage::new(pixels.data().0, width, height))
}

/// Shows `image` on `canvas`, resizing the canvas to the image.
pub fn draw(canvas: &HtmlCanvasElement, image: &PhotonImage) -> Result<(), String> {
    canvas.set_width(image.get_width());
    canvas.set_height(image.get_height());
    let pixels = image.get_raw_pixels();
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), image.get_width(), image.get_height())
        .map_err(js_message)?;
    context_2d(canvas)?.put_image_data(&data, 0.0, 0.0).map_err(js_message)
}

/// Small previews of `filters` applied to `image`, as data URLs for `<img>` buttons.
pub fn filter_previews(image: &PhotonImage, filters: &[Filter]) -> Vec<(Filter, String)> {
    const SIDE: f64 = 72.0;
    let (width, height) = (image.get_width(), image.get_height());
    let scale = SIDE / f64::from(width.max(height).max(1));
    let small = photon_rs::transform::resize(
        image,
        ((f64::from(width) * scale).round() as u32).max(1),
        ((f64::from(height) * scale).round() as u32).max(1),
        photon_rs::transform::SamplingFilter::Triangle,
    );
    let Ok(canvas) = leptos::prelude::document().create_element("canvas") else { return Vec::new() };
    let canvas: HtmlCanvasElement = canvas.unchecked_into();
    filters
        .iter()
        .filter_map(|&name| {
            let filtered = EditOp::Filter { name }.apply(small.clone()).ok()?;
            draw(&canvas, &filtered).ok()?;
            canvas.to_data_url_with_type("image/jpeg").ok().map(|url| (name, url))
        })
        .collect()
}

/// Sends one file to the upload endpoint, reporting progress (0–100) and then the outcome.
pub fn upload(
    file: &File,
    on_progress: impl Fn(f64) + 'static,
    on_done: impl FnOnce(Result<PhotoSummary, String>) + 'static,
) -> Result<(), String> {
    let request = XmlHttpRequest::new().map_err(js_message)?;
    request.open_with_async("POST", UPLOAD_URL, true).map_err(js_message)?;
    let name: String = js_sys::encode_uri_component(&file.name()).into();
    request.set_request_header("X-File-Name", &name).map_err(js_message)?;

    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
        if event.length_computable() && event.total() > 0.0 {
            on_progress(event.loaded() / event.total() * 100.0);
        }
    });
    request.upload().map_err(js_message)?.set_onprogress(Some(progress.as_ref().unchecked_ref()));

    let finished = request.clone();
    let done = Closure::once(move || {
        let status = finished.status().unwrap_or(0);
        let body = finished.response_text().ok().flatten().unwrap_or_default();
        let outcome = match serde_json::from_str::<UploadReply>(&body) {
            Ok(UploadReply::Stored(photo)) => Ok(photo),
            Ok(UploadReply::Refused { error }) => Err(error),
            Err(_) if status == 0 => Err("The connection to the server was lost.".to_string()),
            Err(_) => Err(format!("The server answered {status}.")),
        };
        on_done(outcome);
    });
    request.set_onloadend(Some(done.as_ref().unchecked_ref()));
    request.send_with_opt_blob(Some(file)).map_err(js_message)?;
    // The request owns these callbacks until it ends; they are small and run once.
    progress.forget();
    done.forget();
    Ok(())
}
