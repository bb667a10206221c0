//! Optimize and export: a saved version out in the format, size and weight asked for, with its
//! caption and keywords carried in the file. The settings are one type, read by the server from
//! the download link's query and offered by the gallery's export form.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod panel;
mod presets;
pub use panel::ExportPanel;
pub use presets::{preset, Fit, Preset, PRESETS, PRODUCT_SHARE};

/// Where a selection of gallery items is exported as one zip.
pub const SELECTION_PATH: &str = "/media/gallery/export.zip";

/// How far a zip of a selection is: photos done of all, the one being made, and why it stopped
/// if it failed. The page follows it by the token it sent with the zip's request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZipProgress {
    pub total: u32,
    pub done: u32,
    pub current: Option<String>,
    pub failed: Option<String>,
    pub finished: bool,
}

impl ZipProgress {
    /// "3 of 10 photos — coffee.jpg", "10 of 10 photos in the zip — done", or where it stopped
    /// and why.
    pub fn summary(&self) -> String {
        let counted = format!("{} of {} {}", self.done, self.total, if self.total == 1 { "photo" } else { "photos" });
        match (&self.failed, &self.current) {
            (Some(why), _) => format!("The zip stopped after {counted}: {why}"),
            _ if self.finished => format!("{counted} in the zip — done"),
            (None, Some(name)) => format!("{counted} — {name}"),
            (None, None) => counted,
        }
    }
}

/// The formats a photo can leave in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Jpeg,
    Png,
    /// WebP at a quality, like JPEG (libwebp).
    Webp,
    #[serde(rename = "webp-lossless")]
    WebpLossless,
    /// AVIF at a quality and an encoder speed (aom, through libheif).
    Avif,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 5] =
        [ExportFormat::Jpeg, ExportFormat::Png, ExportFormat::Webp, ExportFormat::WebpLossless, ExportFormat::Avif];

    /// Its name in links and forms (the serde name).
    pub fn id(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "jpeg",
            ExportFormat::Png => "png",
            ExportFormat::Webp => "webp",
            ExportFormat::WebpLossless => "webp-lossless",
            ExportFormat::Avif => "avif",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "JPEG",
            ExportFormat::Png => "PNG",
            ExportFormat::Webp => "WebP",
            ExportFormat::WebpLossless => "WebP (lossless)",
            ExportFormat::Avif => "AVIF",
        }
    }

    pub fn from_id(id: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|format| format.id() == id)
    }

    /// Whether a quality applies (and a size target can be met by searching it).
    pub fn is_lossy(self) -> bool {
        matches!(self, ExportFormat::Jpeg | ExportFormat::Webp | ExportFormat::Avif)
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "jpg",
            ExportFormat::Png => "png",
            ExportFormat::Webp | ExportFormat::WebpLossless => "webp",
            ExportFormat::Avif => "avif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "image/jpeg",
            ExportFormat::Png => "image/png",
            ExportFormat::Webp | ExportFormat::WebpLossless => "image/webp",
            ExportFormat::Avif => "image/avif",
        }
    }
}

/// How much colour detail a JPEG keeps: chroma at half resolution both ways (smaller, what
/// cameras write), or full (sharper colour edges: text, graphics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Chroma {
    #[default]
    #[serde(rename = "420")]
    Half,
    #[serde(rename = "444")]
    Full,
}

impl Chroma {
    pub fn id(self) -> &'static str {
        match self {
            Chroma::Half => "420",
            Chroma::Full => "444",
        }
    }
}

pub const DEFAULT_QUALITY: u8 = 82;
/// aom's speed for AVIF: 0 is slowest and smallest, 9 fastest; 6 is near libavif's default.
pub const DEFAULT_AVIF_SPEED: u8 = 6;

/// What an export asks for. Every field has a default, so a bare link exports a JPEG at
/// `DEFAULT_QUALITY`, full size, without metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    pub format: ExportFormat,
    /// JPEG, WebP or AVIF quality, 1–100.
    pub quality: u8,
    /// AVIF encoder speed, 0 (slowest, smallest) to 9.
    pub speed: u8,
    /// JPEG chroma subsampling.
    pub chroma: Chroma,
    /// A baseline JPEG instead of a progressive one (for software that cannot read those).
    pub baseline: bool,
    /// The longest side in pixels; larger images are scaled down (never up).
    #[serde(deserialize_with = "empty_is_none")]
    pub max_side: Option<u32>,
    /// The most kilobytes the file may take (lossy formats: the best quality that fits is searched).
    #[serde(deserialize_with = "empty_is_none")]
    pub target_kb: Option<u32>,
    /// Carry the photo's alt-text and tags in the file, and name it after them.
    pub describe: bool,
    /// Written into the file as its author and copyright notice when given (never location or
    /// camera data).
    #[serde(deserialize_with = "empty_text_is_none")]
    pub author: Option<String>,
    #[serde(deserialize_with = "empty_text_is_none")]
    pub copyright: Option<String>,
    /// A preset's id (see `PRESETS`): its frame, format, quality and weight replace the above.
    pub preset: Option<String>,
    /// The same frame and size as a lossless PNG without metadata: the editor's "before".
    pub reference: bool,
    /// Where the person put the centre of a cropping preset's frame, in fractions of the photo
    /// ("x,y"); without it the frame follows the subject.
    #[serde(deserialize_with = "point")]
    pub focus: Option<[f32; 2]>,
    /// The subject's box, "x,y,width,height" in fractions of the photo, when an earlier export
    /// already found it (its `X-Atelier-Frame`): used as it is instead of looking again.
    #[serde(deserialize_with = "region")]
    pub subject: Option<[f32; 4]>,
    /// PNG only: at most this many colours (2–256), an 8-bit palette chosen and dithered by
    /// libimagequant: a much smaller file for graphics and cut-outs, at a cost in gradients.
    #[serde(deserialize_with = "empty_is_none")]
    pub colors: Option<u32>,
    /// Keep the photo's own colour profile (Display P3, Adobe RGB…) embedded in the file instead
    /// of converting to sRGB (the default, which every viewer shows right).
    pub keep_profile: bool,
    /// Speed over weight: JPEG without mozjpeg's trellis quantisation (as libjpeg-turbo makes
    /// it), and a large JPEG decoded at the smallest scale that still covers the output. About
    /// twice as quick for a JPEG, some 10% larger at the same quality.
    pub fast: bool,
}

impl ExportSettings {
    /// The preset asked for, if any (a form sends "" for none).
    pub fn chosen_preset(&self) -> Option<&str> {
        self.preset.as_deref().filter(|id| !id.is_empty())
    }

    /// The format the file comes out in: the preset's, or the one chosen.
    pub fn output_format(&self) -> ExportFormat {
        if self.reference {
            return ExportFormat::Png;
        }
        self.chosen_preset().and_then(preset).map_or(self.format, |preset| preset.format)
    }

    /// Whether the file keeps the photo's profile: asked for, and no preset (marketplaces and
    /// social sites expect sRGB).
    pub fn keeps_profile(&self) -> bool {
        self.keep_profile && self.chosen_preset().is_none()
    }

    /// The settings as an export link's query (what the server reads back as this type).
    pub fn query(&self) -> String {
        let number = |value: Option<u32>| value.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "format={}&quality={}&speed={}&chroma={}&baseline={}&max_side={}&target_kb={}&describe={}&preset={}&reference={}&focus={}&subject={}&colors={}&keep_profile={}&fast={}&author={}&copyright={}",
            self.format.id(),
            self.quality,
            self.speed,
            self.chroma.id(),
            self.baseline,
            number(self.max_side),
            number(self.target_kb),
            self.describe,
            percent_encode(self.chosen_preset().unwrap_or("")),
            self.reference,
            self.focus.map(|[x, y]| format!("{x:.4},{y:.4}")).map(|f| percent_encode(&f)).unwrap_or_default(),
            self.subject
                .map(|[x, y, w, h]| format!("{x:.4},{y:.4},{w:.4},{h:.4}"))
                .map(|f| percent_encode(&f))
                .unwrap_or_default(),
            number(self.colors),
            self.keep_profile,
            self.fast,
            percent_encode(self.author.as_deref().unwrap_or_default()),
            percent_encode(self.copyright.as_deref().unwrap_or_default()),
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for query values).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The most characters of an author or copyright notice kept.
pub const MAX_NOTICE_CHARS: usize = 200;

/// Text fields: empty is none, and long ones are cut.
fn empty_text_is_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.map(|t| t.trim().chars().take(MAX_NOTICE_CHARS).collect::<String>()).filter(|t| !t.is_empty()))
}

/// What a field holds: the value itself (JSON, as a saved pipeline's export step keeps it) or
/// text (a form field or a link's query).
#[derive(Deserialize)]
#[serde(untagged)]
enum Given<T> {
    Value(T),
    Text(String),
}

/// `N` comma-separated fractions of the photo (each clamped to 0..1), or empty for none.
fn fractions<'de, const N: usize, D: serde::Deserializer<'de>>(
    deserializer: D,
    what: &str,
) -> Result<Option<[f32; N]>, D::Error> {
    let numbers: Option<Vec<f32>> = match Option::<Given<Vec<f32>>>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Given::Value(numbers)) => Some(numbers),
        Some(Given::Text(text)) if text.trim().is_empty() => return Ok(None),
        Some(Given::Text(text)) => text.split(',').map(|n| n.trim().parse::<f32>().ok()).collect(),
    };
    let numbers = numbers.filter(|numbers| numbers.iter().all(|v| v.is_finite()));
    match numbers.and_then(|numbers| <[f32; N]>::try_from(numbers).ok()) {
        Some(values) => Ok(Some(values.map(|v| v.clamp(0.0, 1.0)))),
        None => Err(serde::de::Error::custom(format!("{what}: {N} numbers between 0 and 1, separated by commas"))),
    }
}

/// The frame's centre, "x,y".
fn point<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<[f32; 2]>, D::Error> {
    fractions(deserializer, "the frame's centre is \"x,y\"")
}

/// A box, "x,y,width,height", of positive size and inside the photo.
fn region<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<[f32; 4]>, D::Error> {
    match fractions(deserializer, "the subject is \"x,y,width,height\"")? {
        Some([x, y, w, h]) if w > 0.0 && h > 0.0 => Ok(Some([x, y, w.min(1.0 - x), h.min(1.0 - y)])),
        Some(_) => Err(serde::de::Error::custom("the subject's width and height are more than 0")),
        None => Ok(None),
    }
}

/// A form sends an empty field for "not set".
fn empty_is_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    match Option::<Given<u32>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Given::Value(number)) => Ok(Some(number)),
        Some(Given::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(Given::Text(text)) => text.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            format: ExportFormat::Jpeg,
            quality: DEFAULT_QUALITY,
            speed: DEFAULT_AVIF_SPEED,
            chroma: Chroma::Half,
            baseline: false,
            max_side: None,
            target_kb: None,
            describe: false,
            author: None,
            copyright: None,
            preset: None,
            reference: false,
            focus: None,
            subject: None,
            colors: None,
            keep_profile: false,
            fast: false,
        }
    }
}

/// The choices of the preset menu: none ("Settings below"), then every preset with its source.
#[component]
pub fn PresetOptions() -> impl IntoView {
    view! {
        <option value="" selected>"Settings below"</option>
        {PRESETS.iter().map(|preset| view! {
            <option value=preset.id title=preset.source>{preset.name}</option>
        }).collect_view()}
    }
}

/// The choices of the format menu, the default selected.
#[component]
pub fn FormatOptions() -> impl IntoView {
    ExportFormat::ALL
        .map(|format| {
            view! { <option value=format.id() selected=format == ExportFormat::default()>{format.label()}</option> }
        })
        .collect_view()
}

/// The choices of the JPEG chroma menu.
#[component]
pub fn ChromaOptions() -> impl IntoView {
    view! {
        <option value=Chroma::Half.id() selected>"4:2:0 (smaller)"</option>
        <option value=Chroma::Full.id()>"4:4:4 (sharper colour)"</option>
    }
}

/// The gallery's export form: a plain GET form to the item's signed export link (its `exp` and
/// `sig` ride along as hidden fields), so it downloads with or without JavaScript.
///
/// With `form_id`, it is the form that checkboxes elsewhere on the page join (`form=…`): the gallery's
/// "download selected as a zip".
#[component]
pub fn ExportForm(
    export_url: String,
    #[prop(optional)] form_id: Option<&'static str>,
    #[prop(default = "Export…")] summary: &'static str,
    #[prop(default = "Download")] button: &'static str,
    /// Follow the zip being written, photo by photo (the selection's form).
    #[prop(optional)]
    progress: bool,
) -> impl IntoView {
    let (path, query) = export_url.split_once('?').unwrap_or((export_url.as_str(), ""));
    let hidden: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let token_field = NodeRef::<leptos::html::Input>::new();
    let status = RwSignal::new(None::<ZipProgress>);
    // The browser saves the zip itself (streamed to disk); the page asks, by a token it sends with
    // the request, how far the server is.
    let follow = move |_: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        if progress {
            let token = crate::browser::random_token();
            // Set now, synchronously: the form's data is read after this handler returns.
            if let Some(field) = token_field.get_untracked() {
                field.set_value(&token);
            }
            status.set(None);
            leptos::task::spawn_local(async move {
                let mut silent = 0;
                // Until done, failed, another zip is asked for, or the server has said nothing
                // for half a minute (another process writes it, or the request never came).
                while silent < 60 && token_field.get_untracked().is_some_and(|field| field.value() == token) {
                    crate::browser::sleep(500).await;
                    match crate::photos::api::zip_progress(token.clone()).await {
                        Ok(Some(now)) => {
                            silent = 0;
                            let over = now.finished || now.failed.is_some();
                            status.set(Some(now));
                            if over {
                                break;
                            }
                        }
                        _ => silent += 1,
                    }
                }
            });
        }
    };
    view! {
        <details class="export">
            <summary>{summary}</summary>
            <form method="get" action=path.to_string() class="export-form" id=form_id on:submit=follow>
                {hidden.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value/> }).collect_view()}
                {progress.then(|| view! { <input type="hidden" name="progress" value="" node_ref=token_field/> })}
                <label>"For "
                    <select name="preset"><PresetOptions/></select>
                </label>
                <label>"Format "
                    <select name="format"><FormatOptions/></select>
                </label>
                <label>"Quality " <input type="number" name="quality" min="1" max="100" value=DEFAULT_QUALITY/></label>
                <label title="4:2:0 is smaller; 4:4:4 keeps colour edges sharp (text, graphics)">"JPEG colour "
                    <select name="chroma"><ChromaOptions/></select>
                </label>
                <label><input type="checkbox" name="baseline" value="true"/>" Baseline JPEG (not progressive)"</label>
                <label title="mozjpeg makes the smallest JPEG; the fast way takes about half the time">
                    <input type="checkbox" name="fast" value="true"/>" Fast (a larger file)"
                </label>
                <label title="0 is slowest and smallest, 9 fastest">"AVIF speed "
                    <input type="number" name="speed" min="0" max="9" value=DEFAULT_AVIF_SPEED/>
                </label>
                <label>"Longest side (px) " <input type="number" name="max_side" min="1" max="20000" placeholder="full size"/></label>
                <label>"At most (KB) " <input type="number" name="target_kb" min="1" placeholder="no limit"/></label>
                <label title="Fewer colours: a much smaller PNG for graphics and cut-outs">"PNG colours "
                    <input type="number" name="colors" min="2" max="256" placeholder="all"/>
                </label>
                <label><input type="checkbox" name="keep_profile" value="true"/>" Keep the colour profile (not sRGB)"</label>
                <label><input type="checkbox" name="describe" value="true"/>" Alt-text and tags in the file, named after them"</label>
                <label>"Author " <input type="text" name="author" maxlength="200" placeholder="none"/></label>
                <label>"Copyright " <input type="text" name="copyright" maxlength="200" placeholder="none"/></label>
                <button type="submit">{button}</button>
                {progress.then(|| view! {
                    <p class="zip-progress" role="status" aria-live="polite" hidden=move || status.with(Option::is_none)>
                        <progress
                            max=move || status.with(|s| s.as_ref().map_or(1, |s| s.total.max(1)))
                            value=move || status.with(|s| s.as_ref().map_or(0, |s| s.done))
                        ></progress>
                        " "{move || status.with(|s| s.as_ref().map(ZipProgress::summary))}
                    </p>
                })}
            </form>
        </details>
    }
    // Erased: nested in the gallery's lists, its full type overflowed rustc's query depth when the
    // hydrate bundle was built without incremental caches (CI).
    .into_any()
}
