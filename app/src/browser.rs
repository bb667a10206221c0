//! Browser-only glue: preview pixels, the editor's Web Worker, and uploads with progress.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CanvasRenderingContext2d, Event, File, HtmlCanvasElement, HtmlImageElement, ImageData, MessageEvent, ProgressEvent,
    Worker, WorkerOptions, WorkerType, XmlHttpRequest,
};

use crate::photos::{PhotoSummary, UploadReply};
use crate::recipe::{EditRecipe, Filter};

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

/// The photo's preview pixels: decoded by the browser and scaled to fit the editor's preview, so a
/// 24-megapixel photo never has to sit in WASM memory.
pub struct Source {
    pub width: u32,
    pub height: u32,
    pixels: js_sys::Uint8ClampedArray,
}

/// Decodes the image at `url` and scales it to at most `max_side` pixels a side; returns the
/// pixels and the preview-to-original scale.
pub async fn load_preview(url: &str, max_side: u32) -> Result<(Source, f64), String> {
    let image = HtmlImageElement::new().map_err(js_message)?;
    image.set_src(url);
    JsFuture::from(image.decode())
        .await
        .map_err(|_| "The browser could not open this photo: it may be damaged or too large to hold.".to_string())?;
    let (width, height) = (image.natural_width(), image.natural_height());
    let longest = width.max(height).max(1);
    let scale = if longest > max_side { f64::from(max_side) / f64::from(longest) } else { 1.0 };
    let fit = |length: u32| ((f64::from(length) * scale).round() as u32).max(1);
    let (preview_width, preview_height) = (fit(width), fit(height));
    let canvas = new_canvas()?;
    canvas.set_width(preview_width);
    canvas.set_height(preview_height);
    let context = context_2d(&canvas)?;
    context
        .draw_image_with_html_image_element_and_dw_and_dh(
            &image,
            0.0,
            0.0,
            f64::from(preview_width),
            f64::from(preview_height),
        )
        .map_err(js_message)?;
    let data = context
        .get_image_data(0.0, 0.0, f64::from(preview_width), f64::from(preview_height))
        .map_err(|_| "This photo is too large for the browser to hold.".to_string())?;
    let pixels = js_sys::Reflect::get(&data, &"data".into()).map_err(js_message)?.unchecked_into();
    Ok((Source { width: preview_width, height: preview_height, pixels }, scale))
}

/// A file fetched into the page: an object URL for it (revoke with `forget`), its exact size,
/// the name the server gave it, and how long the server said it took (`Server-Timing`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    pub url: String,
    pub bytes: u64,
    pub filename: Option<String>,
    pub server_ms: Option<f64>,
    /// For a preset, the part of the photo its frame shows (`X-Atelier-Frame`, fractions).
    pub frame: Option<[f32; 4]>,
}

impl Fetched {
    /// Frees the browser's copy.
    pub fn forget(&self) {
        let _ = web_sys::Url::revoke_object_url(&self.url);
    }
}

async fn fetch(url: &str, method: &str) -> Result<web_sys::Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| "The server could not be reached.".to_string())?
        .dyn_into()
        .map_err(js_message)?;
    if response.ok() {
        return Ok(response);
    }
    // Error answers are one plain sentence.
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    Err(if text.trim().is_empty() { format!("The server answered {}.", response.status()) } else { text })
}

/// GETs `url` into a Blob held by the page.
pub async fn fetch_blob(url: &str) -> Result<Fetched, String> {
    let response = fetch(url, "GET").await?;
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let server_ms = header("server-timing")
        .and_then(|timing| timing.split(";dur=").nth(1).and_then(|ms| ms.split([',', ';']).next()?.parse().ok()));
    let filename = header("content-disposition").and_then(|value| {
        value.split("filename=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_string)
    });
    let frame = header("x-atelier-frame").and_then(|value| {
        let numbers: Vec<f32> = value.split(',').filter_map(|n| n.trim().parse().ok()).collect();
        <[f32; 4]>::try_from(numbers).ok()
    });
    let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(js_message)?)
        .await
        .map_err(js_message)?
        .dyn_into()
        .map_err(js_message)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_message)?;
    Ok(Fetched { url, bytes: blob.size() as u64, filename, server_ms, frame })
}

/// The size of the file at `url`, from a HEAD request's Content-Length.
pub async fn content_length(url: &str) -> Option<u64> {
    let response = fetch(url, "HEAD").await.ok()?;
    response.headers().get("content-length").ok().flatten()?.parse().ok()
}

fn new_canvas() -> Result<HtmlCanvasElement, String> {
    Ok(leptos::prelude::document().create_element("canvas").map_err(js_message)?.unchecked_into())
}

/// Shows `image` on `canvas`, resizing the canvas to the image.
pub fn draw(canvas: &HtmlCanvasElement, image: &ImageData) -> Result<(), String> {
    canvas.set_width(image.width());
    canvas.set_height(image.height());
    context_2d(canvas)?.put_image_data(image, 0.0, 0.0).map_err(js_message)
}

/// A finished render from the editor's worker.
pub struct Rendered {
    /// The request it answers.
    pub id: u32,
    pub image: ImageData,
    /// Each filter's thumbnail as a data URL, when they were asked for.
    pub thumbnails: Vec<(Filter, String)>,
}

/// The editor's Web Worker (`/editor-worker.js`), which runs recipes in WASM off the main thread.
/// Dropping it stops the worker.
pub struct EditorWorker {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

pub const WORKER_URL: &str = "/editor-worker.js";

impl EditorWorker {
    /// Starts the worker; `on_reply` receives each render, or why it failed (a request id of 0
    /// when the worker itself could not start).
    pub fn start(on_reply: impl Fn(Result<Rendered, (u32, String)>) + 'static) -> Result<Self, String> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(WORKER_URL, &options).map_err(js_message)?;
        let on_reply = std::rc::Rc::new(on_reply);
        let replies = on_reply.clone();
        let on_message =
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| replies(read_reply(&event.data())));
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_| {
            on_reply(Err((0, "The editor's image engine could not start; reload the page to try again.".into())))
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(EditorWorker { worker, _on_message: on_message, _on_error: on_error })
    }

    /// Asks for `recipe` (already scaled to the preview) applied to `source`, plus filter
    /// thumbnails of the result when `thumbnail_side` is not 0. The pixels are copied and moved
    /// to the worker, so `source` stays ready for the next request.
    pub fn render(&self, id: u32, source: &Source, recipe: &EditRecipe, thumbnail_side: u32) -> Result<(), String> {
        let recipe = serde_json::to_string(recipe).map_err(|error| error.to_string())?;
        let pixels = source.pixels.slice(0, source.pixels.length());
        let message = js_sys::Object::new();
        for (key, value) in [
            ("id", JsValue::from(id)),
            ("width", source.width.into()),
            ("height", source.height.into()),
            ("pixels", pixels.clone().into()),
            ("recipe", recipe.into()),
            ("thumbnailSide", thumbnail_side.into()),
        ] {
            js_sys::Reflect::set(&message, &key.into(), &value).map_err(js_message)?;
        }
        let transfer = js_sys::Array::of1(&pixels.buffer());
        self.worker.post_message_with_transfer(&message, &transfer).map_err(js_message)
    }
}

impl Drop for EditorWorker {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

fn field(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn image_data(frame: &JsValue) -> Result<ImageData, String> {
    let width = field(frame, "width").as_f64().ok_or("the worker sent no width")? as u32;
    let height = field(frame, "height").as_f64().ok_or("the worker sent no height")? as u32;
    let pixels: js_sys::Uint8ClampedArray =
        field(frame, "pixels").dyn_into().map_err(|_| "the worker sent no pixels")?;
    ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width, height).map_err(js_message)
}

fn read_reply(data: &JsValue) -> Result<Rendered, (u32, String)> {
    let id = field(data, "id").as_f64().unwrap_or(0.0) as u32;
    if let Some(error) = field(data, "error").as_string() {
        return Err((id, error));
    }
    let image = image_data(&field(data, "image")).map_err(|error| (id, error))?;
    let canvas = new_canvas().map_err(|error| (id, error))?;
    let thumbnails = js_sys::Array::from(&field(data, "thumbnails"))
        .iter()
        .filter_map(|frame| {
            let name = field(&frame, "name").as_string()?;
            let filter = Filter::ALL.iter().copied().find(|filter| filter.key() == name)?;
            draw(&canvas, &image_data(&frame).ok()?).ok()?;
            canvas.to_data_url_with_type("image/jpeg").ok().map(|url| (filter, url))
        })
        .collect();
    Ok(Rendered { id, image, thumbnails })
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

/// The magic eraser's mask canvas: painting marks what to erase (any opaque pixel).
pub mod mask {
    use super::{context_2d, js_message, new_canvas};
    use wasm_bindgen::JsCast;
    use web_sys::{HtmlCanvasElement, ImageData};

    /// A filled circle at canvas coordinates.
    pub fn dot(canvas: &HtmlCanvasElement, x: f64, y: f64, radius: f64) -> Result<(), String> {
        let context = context_2d(canvas)?;
        context.set_fill_style_str("rgb(255, 0, 64)");
        context.begin_path();
        context.arc(x, y, radius, 0.0, std::f64::consts::TAU).map_err(js_message)?;
        context.fill();
        Ok(())
    }

    pub fn clear(canvas: &HtmlCanvasElement) -> Result<(), String> {
        context_2d(canvas)?.clear_rect(0.0, 0.0, f64::from(canvas.width()), f64::from(canvas.height()));
        Ok(())
    }

    /// The painted area as a black-and-white PNG data URL (white = erase), or None when
    /// nothing is painted.
    pub fn data_url(canvas: &HtmlCanvasElement) -> Result<Option<String>, String> {
        let (width, height) = (canvas.width(), canvas.height());
        let painted =
            context_2d(canvas)?.get_image_data(0.0, 0.0, f64::from(width), f64::from(height)).map_err(js_message)?;
        let mut pixels = painted.data().0;
        let mut any = false;
        for pixel in pixels.chunks_exact_mut(4) {
            let on = pixel[3] > 0;
            any |= on;
            let value = if on { 255 } else { 0 };
            pixel.copy_from_slice(&[value, value, value, 255]);
        }
        if !any {
            return Ok(None);
        }
        let out = new_canvas()?;
        out.set_width(width);
        out.set_height(height);
        let image = ImageData::new_with_u8_clamped_array_and_sh(wasm_bindgen::Clamped(&pixels), width, height)
            .map_err(js_message)?;
        context_2d(&out)?.put_image_data(&image, 0.0, 0.0).map_err(js_message)?;
        out.to_data_url_with_type("image/png").map(Some).map_err(js_message)
    }

    /// Canvas coordinates of a pointer event over `canvas` (its CSS size may differ).
    pub fn position(canvas: &HtmlCanvasElement, event: &web_sys::PointerEvent) -> (f64, f64) {
        let target: &web_sys::Element = canvas.unchecked_ref();
        let rect = target.get_bounding_client_rect();
        let sx = f64::from(canvas.width()) / rect.width().max(1.0);
        let sy = f64::from(canvas.height()) / rect.height().max(1.0);
        ((f64::from(event.client_x()) - rect.left()) * sx, (f64::from(event.client_y()) - rect.top()) * sy)
    }
}

/// Waits `ms` milliseconds (a timer, not a busy loop).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// The values of the ticked checkboxes `selector` matches on this page.
pub fn checked_values(selector: &str) -> Vec<String> {
    let Some(nodes) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector_all(selector).ok())
    else {
        return Vec::new();
    };
    (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|node| node.dyn_into::<web_sys::HtmlInputElement>().ok())
        .filter(|input| input.checked())
        .map(|input| input.value())
        .collect()
}

/// A token no other page of this person will pick: 24 random letters and digits.
pub fn random_token() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..24)
        .map(|_| ALPHABET[(js_sys::Math::random() * ALPHABET.len() as f64) as usize % ALPHABET.len()] as char)
        .collect()
}
