//! One batch item, on a worker: the photo is decoded once and carried through every step in this
//! worker's memory (nothing is stored between steps), then stored once — as a gallery version
//! of its original, or as a result file kept like any unsaved output.

use std::sync::Arc;

use app::ai_tools::AiService;
use app::batch::{Pipeline, Step};
use app::ids::VersionId;
use serde::{Deserialize, Serialize};

use crate::ai_tools::queue::{Claimed, JobProgress, Outcome};
use crate::ai_tools::tools::{self, Detail, Failure, Produced, Work};
use crate::ai_tools::AiStore;
use crate::data::usage::Meter;
use crate::optimize::{self, Description};
use crate::photos::Rendered;
use crate::platform::images::{self, Encoded};

/// What each item's job carries: everything a worker needs, so no batch row is read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ItemParams {
    pub pipeline: Pipeline,
    pub save_to_gallery: bool,
}

/// A share of the item's progress bar: step `index` of `count`.
struct Part {
    inner: Arc<JobProgress>,
    from: f32,
    span: f32,
}

impl ai::Progress for Part {
    fn report(&self, fraction: f32) {
        self.inner.report(self.from + fraction.clamp(0.0, 1.0) * self.span);
    }
    fn cancelled(&self) -> bool {
        ai::Progress::cancelled(self.inner.as_ref())
    }
}

/// Runs blocking image work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, Failure> + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Failure::internal("running a pipeline step", e))?
}

pub async fn item(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let meter = Meter::start();
    let params: ItemParams = serde_json::from_str(&job.params).map_err(|e| {
        tracing::error!(%e, job = %job.id, "unreadable batch item");
        Failure::Permanent("This item's pipeline is unreadable.".into())
    })?;
    let pipeline = params.pipeline;
    pipeline.validate().map_err(Failure::Permanent)?;
    let version = VersionId(job.id.0);
    // An earlier attempt saved the version and died before recording it: that is the result.
    if params.save_to_gallery {
        if let Some((item, _)) =
            store.db.version(job.owner, version).await.map_err(|e| Failure::internal("reading a version", e))?
        {
            let record = meter.finish(super::PIPELINE, (item.width, item.height), (item.width, item.height));
            let detail =
                Detail { method: "saved by an earlier attempt".into(), duration_ms: 0, description: None, text: None };
            return Ok(Outcome {
                detail: serde_json::to_string(&detail).ok(),
                version: Some(version),
                usage: Some(record),
                ..Outcome::default()
            });
        }
    }

    let (photo, bytes) = tools::photo_bytes(&store, job.owner, job.photo).await?;
    let max_pixels = store.photos.images.max_pixels;
    let mut image =
        blocking(move || images::decode(&bytes, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))).await?;
    let input_size = (image.width(), image.height());
    let count = pipeline.steps.len() as f32;
    let mut exported: Option<(optimize::Exported, &'static str)> = None;
    let mut methods = Vec::new();
    let mut provider = None;

    for (index, step) in pipeline.steps.iter().enumerate() {
        let label = step.label();
        progress.enter_step(label.clone());
        let part = Part { inner: progress.clone(), from: index as f32 / count, span: 1.0 / count };
        ai::Progress::step(&part, 0.0).map_err(Failure::from)?;
        // A failure the person is told names the step it happened at.
        let at = |failure: Failure| match failure {
            Failure::Permanent(why) => Failure::Permanent(format!("Step {} ({label}): {why}", index + 1)),
            other => other,
        };
        match step {
            Step::Edit { recipe } => {
                let recipe = recipe.clone();
                image = blocking(move || {
                    images::replay(image, &recipe, max_pixels).map_err(|e| Failure::Permanent(e.to_string()))
                })
                .await
                .map_err(at)?;
                methods.push("edit".to_string());
            }
            Step::Tool { request } => {
                let tool = tools::tool(request.kind());
                let engine = tools::engine(&store).map_err(at)?;
                let inputs = tool.gather(&store, &job, request, &progress).await.map_err(at)?;
                let request = request.clone();
                let max_upscale_pixels = store.settings.max_upscale_pixels;
                let ran_on = engine.clone();
                // The tool gets a copy in its own form; the image comes back for a tool that
                // only describes it.
                let ((produced, method), before) = blocking(move || {
                    let (rgb, alpha) = tools::split_alpha(&image);
                    let work = Work {
                        engine: &engine,
                        image: rgb,
                        alpha,
                        request,
                        inputs,
                        progress: &part,
                        max_pixels,
                        max_upscale_pixels,
                    };
                    tool.run(work).map(|ran| (ran, image))
                })
                .await
                .map_err(at)?;
                provider = ran_on.provider().map(|p| p.label().to_string()).ok();
                methods.push(method);
                image = match produced {
                    Produced::Image(result) => result,
                    // Tags and alt-text go onto the photo (an export step can carry them).
                    Produced::Description(description) => {
                        store
                            .keep_description(job.owner, job.photo, description)
                            .await
                            .map_err(|e| Failure::internal("keeping a description", e))?;
                        before
                    }
                    // Text read in the photo is kept on it, for search and alt-text.
                    Produced::Text(text) => {
                        let text = crate::photos::ocr::clean(&text);
                        store
                            .db
                            .set_ocr_text(job.owner, job.photo, &text)
                            .await
                            .map_err(|e| Failure::internal("keeping text", e))?;
                        crate::search::photo_changed(&store.db, job.owner, Some(job.photo)).await;
                        before
                    }
                };
            }
            Step::Export { settings } => {
                // Read now: a describe step before may have tagged the photo.
                let description = Description::of_photo(&store.photos, job.owner, job.photo, settings)
                    .await
                    .map_err(|e| Failure::internal("reading a photo's description", e))?;
                let subjects = store.photos.subjects.clone();
                let settings = settings.clone();
                let content_type = settings.output_format().content_type();
                let (done, kept) = blocking(move || {
                    let subjects = subjects.as_ref().map(|s| s.0.as_ref());
                    optimize::export(&image, None, &settings, description.as_ref(), subjects)
                        .map(|out| (out, image))
                        .map_err(|e| Failure::Permanent(e.to_string()))
                })
                .await
                .map_err(at)?;
                image = kept;
                exported = Some((done, content_type));
                methods.push("export".to_string());
            }
        }
    }

    // The file: the export's, or a lossless PNG (transparency kept); a thumbnail of what it shows.
    let encoded = blocking(move || {
        let encoded = match exported {
            Some((out, content_type)) => {
                let shown = images::decode(&out.data, max_pixels).unwrap_or(image);
                Encoded {
                    content_type,
                    width: out.size.0,
                    height: out.size.1,
                    thumbnail: images::thumbnail(&shown).map_err(|e| Failure::internal("making a thumbnail", e))?,
                    data: out.data,
                }
            }
            None => Encoded {
                content_type: "image/png",
                width: image.width(),
                height: image.height(),
                data: ai::encode_png(&image).map_err(|e| Failure::internal("encoding a result", e))?,
                thumbnail: images::thumbnail(&image).map_err(|e| Failure::internal("making a thumbnail", e))?,
            },
        };
        Ok(encoded)
    })
    .await?;
    let output_size = (encoded.width, encoded.height);
    let mut outcome = Outcome { provider, ..Outcome::default() };
    if params.save_to_gallery {
        let rendered = Rendered {
            id: version,
            photo: job.photo,
            name: photo.name,
            recipe: pipeline.edits(),
            pipeline: Some(&pipeline),
            encoded,
        };
        store.photos.store_version(job.owner, rendered).await.map_err(|e| match e {
            app::error::AppError::QuotaExceeded(why) => Failure::Permanent(why),
            other => Failure::internal("saving a version", other),
        })?;
        outcome.version = Some(version);
    } else {
        outcome.result = Some(tools::store_files(&store, &job, encoded).await?);
    }
    let record = meter.finish(super::PIPELINE, input_size, output_size);
    let detail = Detail { method: methods.join(", "), duration_ms: record.duration_ms, description: None, text: None };
    outcome.detail = serde_json::to_string(&detail).ok();
    outcome.usage = Some(record);
    Ok(outcome)
}
