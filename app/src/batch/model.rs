//! Pipelines and batches as they cross the wire. A pipeline is an ordered list of steps — an edit
//! recipe, an AI tool from the registry (the product scene among them), an export — and a batch
//! is one pipeline run over many photos, one queued job per photo.

use serde::{Deserialize, Serialize};

use crate::ai_tools::{Backdrop, Scene, ToolKind, ToolRequest, UpscaleQuality};
use crate::ids::{BatchId, JobId, JobState, PhotoId, PipelineId, VersionId};
use crate::optimize::{preset, ExportFormat, ExportSettings};
use crate::recipe::{EditOp, EditRecipe};

/// Enough for any real chain; each step holds one image in memory at a time.
pub const MAX_PIPELINE_STEPS: usize = 12;
/// The most photos one batch takes (a zip of its results streams, so memory does not grow).
pub const MAX_BATCH_ITEMS: usize = 500;
/// The most characters in a pipeline's name.
pub const MAX_PIPELINE_NAME: usize = 80;

/// One step of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Edits, with the editor's own code.
    Edit { recipe: EditRecipe },
    /// An AI tool from the registry (not the eraser: it needs a painted mask).
    Tool { request: ToolRequest },
    /// The file the pipeline ends in: a preset or export settings. Last, when present.
    Export { settings: ExportSettings },
}

impl Step {
    /// How the progress rows and the builder name the step.
    pub fn label(&self) -> String {
        match self {
            Step::Edit { recipe } => {
                let ops: Vec<String> = recipe.ops.iter().take(3).map(EditOp::label).collect();
                let more = if recipe.ops.len() > 3 { ", …" } else { "" };
                format!("Edit: {}{more}", ops.join(", "))
            }
            Step::Tool { request } => request.label(),
            Step::Export { settings } => match settings.chosen_preset().and_then(preset) {
                Some(preset) => format!("Export: {}", preset.name),
                None => {
                    let format = settings.output_format();
                    let side = settings.max_side.map(|s| format!(", {s} px")).unwrap_or_default();
                    let weight = settings.target_kb.map(|kb| format!(", ≤ {kb} KB")).unwrap_or_default();
                    let quality = if format.is_lossy() { format!(" {}%", settings.quality) } else { String::new() };
                    format!("Export: {}{quality}{side}{weight}", format.label())
                }
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Pipeline {
    /// The name trimmed and bounded; every step allowed and within its ranges; an export only
    /// last. Checked in the builder as it changes and again by the server.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_PIPELINE_NAME || name.chars().any(char::is_control) {
            return Err(format!("Give the pipeline a name of 1 to {MAX_PIPELINE_NAME} characters."));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_PIPELINE_STEPS {
            return Err(format!("A pipeline has 1 to {MAX_PIPELINE_STEPS} steps."));
        }
        for (index, step) in self.steps.iter().enumerate() {
            let at = |why: String| format!("Step {} ({}): {why}", index + 1, step.label());
            match step {
                Step::Edit { recipe } => {
                    recipe.validate_len().map_err(|e| at(e.to_string()))?;
                    if recipe.ops.is_empty() {
                        return Err(at("it has no edits.".into()));
                    }
                }
                Step::Tool { request: ToolRequest::Erase { .. } } => {
                    return Err(at(
                        "the magic eraser needs a mask painted on each photo, so it cannot run in a batch.".into()
                    ))
                }
                Step::Tool { request: ToolRequest::BlurFaces { faces: Some(_), .. } } => {
                    return Err(at(
                        "faces picked on one photo are not where the faces are on the others; a batch blurs every face found.".into()
                    ))
                }
                Step::Tool { request } => request.check().map_err(at)?,
                Step::Export { settings } => {
                    if index + 1 != self.steps.len() {
                        return Err(at("an export makes the file, so it comes last.".into()));
                    }
                    if let Some(id) = settings.chosen_preset() {
                        preset(id).ok_or_else(|| at(format!("there is no export preset named {id:?}.")))?;
                    }
                    if settings.reference {
                        return Err(at("the editor's comparison image is not an export.".into()));
                    }
                }
            }
        }
        Ok(())
    }

    /// What the AI steps are, for the privacy of a batch (which tools will see the photos).
    pub fn tools(&self) -> impl Iterator<Item = ToolKind> + '_ {
        self.steps.iter().filter_map(|step| match step {
            Step::Tool { request } => Some(request.kind()),
            _ => None,
        })
    }

    /// The edits of every edit step in order: the recipe recorded with a saved result.
    pub fn edits(&self) -> EditRecipe {
        EditRecipe {
            ops: self
                .steps
                .iter()
                .flat_map(|step| match step {
                    Step::Edit { recipe } => recipe.ops.clone(),
                    _ => Vec::new(),
                })
                .collect(),
        }
    }
}

/// The pipelines every workspace starts with.
pub fn ready_pipelines() -> Vec<(&'static str, Pipeline)> {
    let cut_out = |backdrop| Step::Tool {
        request: ToolRequest::RemoveBackground { portrait: false, backdrop, refine: true, feather: 0.0 },
    };
    // The scene already is the preset's frame: its "whole photo" subject keeps it as it is.
    let preset_export = |id: &str| Step::Export {
        settings: ExportSettings {
            preset: Some(id.into()),
            subject: Some([0.0, 0.0, 1.0, 1.0]),
            ..ExportSettings::default()
        },
    };
    let white_scene = |size: u32, margin: f32| Step::Tool {
        request: ToolRequest::ProductScene {
            scene: Scene { width: size, height: size, margin, contact_shadow: 0.3, ..Scene::default() },
        },
    };
    vec![
        (
            "amazon-main",
            Pipeline {
                name: "Amazon main image".into(),
                steps: vec![cut_out(Backdrop::Transparent), white_scene(2000, 0.075), preset_export("amazon-main")],
            },
        ),
        (
            "shopify-square",
            Pipeline {
                name: "Shopify square on white".into(),
                steps: vec![cut_out(Backdrop::Transparent), white_scene(2048, 0.06), preset_export("shopify-square")],
            },
        ),
        (
            "instagram-portrait",
            Pipeline {
                name: "Instagram portrait".into(),
                steps: vec![
                    Step::Edit {
                        recipe: EditRecipe {
                            ops: vec![
                                EditOp::Contrast { amount: 8 },
                                EditOp::Saturation { amount: 10 },
                                EditOp::Sharpen,
                            ],
                        },
                    },
                    Step::Export {
                        settings: ExportSettings {
                            preset: Some("instagram-portrait".into()),
                            ..ExportSettings::default()
                        },
                    },
                ],
            },
        ),
        (
            "transparent-cutout",
            Pipeline {
                name: "Transparent PNG cut-out".into(),
                steps: vec![
                    cut_out(Backdrop::Transparent),
                    Step::Export {
                        settings: ExportSettings { format: ExportFormat::Png, ..ExportSettings::default() },
                    },
                ],
            },
        ),
        (
            "upscale-sharpen",
            Pipeline {
                name: "Upscale ×2 and sharpen".into(),
                steps: vec![
                    Step::Tool { request: ToolRequest::Upscale { factor: 2, quality: UpscaleQuality::Balanced } },
                    Step::Edit { recipe: EditRecipe { ops: vec![EditOp::Sharpen] } },
                    Step::Export { settings: ExportSettings { quality: 90, ..ExportSettings::default() } },
                ],
            },
        ),
    ]
}

/// Which pipeline a batch runs: a ready one by its id, one of the person's own, or one not saved
/// (the builder's preview).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PipelineChoice {
    Ready { id: String },
    Saved { id: PipelineId },
    Unsaved { pipeline: Pipeline },
}

/// A pipeline as the batch page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    pub choice: PipelineChoice,
    pub pipeline: Pipeline,
    /// One of the ready ones (cannot be deleted).
    pub ready: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCounts {
    pub total: u32,
    pub queued: u32,
    pub running: u32,
    pub done: u32,
    pub failed: u32,
    pub cancelled: u32,
}

impl BatchCounts {
    /// Still to run (queued or running).
    pub fn left(&self) -> u32 {
        self.queued + self.running
    }

    pub fn finished(&self) -> bool {
        self.left() == 0
    }

    /// "12 of 40 done, 1 failed, 27 left".
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} of {} done", self.done, self.total)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.cancelled > 0 {
            parts.push(format!("{} cancelled", self.cancelled));
        }
        if self.left() > 0 {
            parts.push(format!("{} left", self.left()));
        }
        parts.join(", ")
    }
}

/// A batch with its totals, as lists and the progress bar show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub id: BatchId,
    pub name: String,
    pub steps: Vec<String>,
    pub counts: BatchCounts,
    pub paused: bool,
    /// Results go to the gallery as versions of their originals.
    pub save_to_gallery: bool,
    /// A one-photo run from the builder.
    pub preview: bool,
    pub created_at: i64,
    /// Seconds left at the pace so far, once an item has finished.
    pub eta_secs: Option<u64>,
    /// The signed link of the results zip (streamed; holds the items done so far).
    pub zip_url: String,
}

/// One photo of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchItem {
    pub job: JobId,
    pub photo: PhotoId,
    pub name: String,
    pub state: JobState,
    /// The step it is on, or where it failed.
    pub step: Option<String>,
    pub progress: f32,
    pub error: Option<String>,
    pub result_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub version: Option<VersionId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchDetail {
    pub summary: BatchSummary,
    pub items: Vec<BatchItem>,
}

/// What the batch page asks of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchAction {
    /// No new item starts; running ones finish.
    Pause,
    Resume,
    /// Queued items are cancelled, running ones stop at their next step.
    Cancel,
    /// Failed and cancelled items are queued again.
    Retry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_pipelines_are_valid_and_bad_ones_say_which_step() {
        let ready = ready_pipelines();
        assert_eq!(ready.len(), 5);
        for (id, pipeline) in &ready {
            assert_eq!(pipeline.validate(), Ok(()), "{id}");
            // Kept as JSON in every item's job, and read back the same.
            let back: Pipeline = serde_json::from_str(&serde_json::to_string(pipeline).unwrap()).unwrap();
            assert_eq!(&back, pipeline, "{id}");
        }
        let export = Step::Export { settings: ExportSettings::default() };
        let sharpen = Step::Edit { recipe: EditRecipe { ops: vec![EditOp::Sharpen] } };
        let bad = |steps: Vec<Step>| Pipeline { name: "x".into(), steps }.validate().unwrap_err();
        assert!(bad(vec![export.clone(), sharpen.clone()]).starts_with("Step 1 (Export: JPEG 82%)"));
        assert!(
            bad(vec![Step::Tool { request: ToolRequest::Erase { mask: String::new(), fill: None } }]).contains("mask")
        );
        let blur = |faces| Step::Tool {
            request: ToolRequest::BlurFaces { style: crate::ai_tools::FaceBlur::Blur, strength: 70, faces },
        };
        assert!(bad(vec![blur(Some(vec![[0.1, 0.1, 0.2, 0.2]]))]).contains("every face found"));
        let every_face = Pipeline { name: "x".into(), steps: vec![blur(None)] };
        assert_eq!(every_face.validate(), Ok(()));
        assert!(bad(vec![]).contains("1 to 12 steps"));
        assert!(bad(vec![sharpen.clone(); 13]).contains("1 to 12 steps"));
        let unnamed = Pipeline { name: "  ".into(), steps: vec![sharpen.clone()] };
        assert!(unnamed.validate().unwrap_err().contains("name"));
        let edits = Pipeline { name: "x".into(), steps: vec![sharpen.clone(), export] };
        assert_eq!(edits.edits().ops, vec![EditOp::Sharpen]);
        // Steps travel as tagged JSON, the tool's own request inside.
        let json = serde_json::to_value(&ready[0].1.steps[0]).unwrap();
        assert_eq!(json["step"], "tool");
        assert_eq!(json["request"]["tool"], "remove-background");
    }

    #[test]
    fn counts_read_as_a_sentence() {
        let counts = BatchCounts { total: 40, queued: 20, running: 7, done: 12, failed: 1, cancelled: 0 };
        assert_eq!(counts.summary(), "12 of 40 done, 1 failed, 27 left");
        assert!(!counts.finished());
    }
}
