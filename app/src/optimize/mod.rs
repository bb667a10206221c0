//! Optimize and export: a saved version out in the format, size and weight asked for, with its
//! caption and keywords carried in the file. The settings are one type, read by the server from
//! the download link's query and offered by the gallery's export form.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod presets;
pub use presets::{preset, Fit, Preset, PRESETS};

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
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "jpg",
            ExportFormat::Png => "png",
            ExportFormat::Webp | ExportFormat::WebpLossless => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jpeg => "image/jpeg",
            ExportFormat::Png => "image/png",
            ExportFormat::Webp | ExportFormat::WebpLossless => "image/webp",
        }
    }
}

pub const DEFAULT_QUALITY: u8 = 82;

/// What an export asks for. Every field has a default, so a bare link exports a JPEG at
/// `DEFAULT_QUALITY`, full size, without metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    pub format: ExportFormat,
    /// JPEG or WebP quality, 1–100.
    pub quality: u8,
    /// The longest side in pixels; larger images are scaled down (never up).
    #[serde(deserialize_with = "empty_is_none")]
    pub max_side: Option<u32>,
    /// The most kilobytes the file may take (JPEG and WebP: the best quality that fits is searched).
    #[serde(deserialize_with = "empty_is_none")]
    pub target_kb: Option<u32>,
    /// Carry the photo's alt-text and tags in the file, and name it after them.
    pub describe: bool,
    /// A preset's id (see `PRESETS`): its frame, format, quality and weight replace the above.
    pub preset: Option<String>,
}

impl ExportSettings {
    /// The preset asked for, if any (a form sends "" for none).
    pub fn chosen_preset(&self) -> Option<&str> {
        self.preset.as_deref().filter(|id| !id.is_empty())
    }

    /// The format the file comes out in: the preset's, or the one chosen.
    pub fn output_format(&self) -> ExportFormat {
        self.chosen_preset().and_then(preset).map_or(self.format, |preset| preset.format)
    }
}

/// A form sends an empty field for "not set".
fn empty_is_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(number) => number.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            format: ExportFormat::Jpeg,
            quality: DEFAULT_QUALITY,
            max_side: None,
            target_kb: None,
            describe: false,
            preset: None,
        }
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
) -> impl IntoView {
    let (path, query) = export_url.split_once('?').unwrap_or((export_url.as_str(), ""));
    let hidden: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    view! {
        <details class="export">
            <summary>{summary}</summary>
            <form method="get" action=path.to_string() class="export-form" id=form_id>
                {hidden.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value/> }).collect_view()}
                <label>"For "
                    <select name="preset">
                        <option value="" selected>"Settings below"</option>
                        {PRESETS.iter().map(|preset| view! {
                            <option value=preset.id title=preset.source>{preset.name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Format "
                    <select name="format">
                        <option value="jpeg" selected>"JPEG"</option>
                        <option value="png">"PNG"</option>
                        <option value="webp">"WebP"</option>
                        <option value="webp-lossless">"WebP (lossless)"</option>
                    </select>
                </label>
                <label>"Quality " <input type="number" name="quality" min="1" max="100" value=DEFAULT_QUALITY/></label>
                <label>"Longest side (px) " <input type="number" name="max_side" min="1" max="20000" placeholder="full size"/></label>
                <label>"At most (KB) " <input type="number" name="target_kb" min="1" placeholder="no limit"/></label>
                <label><input type="checkbox" name="describe" value="true"/>" Alt-text and tags in the file, named after them"</label>
                <button type="submit">{button}</button>
            </form>
        </details>
    }
    // Erased: nested in the gallery's lists, its full type overflowed rustc's query depth when the
    // hydrate bundle was built without incremental caches (CI).
    .into_any()
}
