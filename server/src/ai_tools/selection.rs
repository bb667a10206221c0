//! Selections for the eraser's mask (`app::ai_tools::SelectionService`): the subject, the objects
//! found and one of them refined, or the object at a point with a supplied Segment Anything
//! model. Answered at once rather than queued (a second or two of IS-Net on the mask's size),
//! so they are bounded here instead: the mask's size, a few at a time per process, and the
//! photo read only from its owner's workspace. Nothing is kept.

use std::time::Duration;

use app::ai_tools::{FoundObject, SelectRequest, Selected, SelectionService, MAX_LISTED_OBJECTS, MAX_SELECTION_SIDE};
use app::error::AppError;
use app::ids::{OwnerId, PhotoId};
use async_trait::async_trait;
use image::imageops::{self, FilterType};
use recipe::selection::Mask;
use tokio::sync::Semaphore;

use super::tools::Failure;
use super::AiStore;
use crate::platform::images;

/// Selections running at once in this process; the others wait up to `WAIT` for a turn.
static RUNNING: Semaphore = Semaphore::const_new(2);
const WAIT: Duration = Duration::from_secs(20);

#[async_trait]
impl SelectionService for AiStore {
    async fn select(
        &self,
        owner: OwnerId,
        photo: PhotoId,
        request: SelectRequest,
        width: u32,
        height: u32,
    ) -> Result<Selected, AppError> {
        request.check().map_err(AppError::BadRequest)?;
        if width == 0 || height == 0 || width > MAX_SELECTION_SIDE || height > MAX_SELECTION_SIDE {
            return Err(AppError::BadRequest(format!("A selection is 1 to {MAX_SELECTION_SIDE} pixels on a side.")));
        }
        // Another workspace's photo is not found, exactly like one that does not exist.
        let (summary, stored) = self.db.photo(owner, photo).await?.ok_or(AppError::NotFound)?;
        if summary.held {
            return Err(AppError::Forbidden(
                "This photo is held for review; tools are unavailable until an administrator releases it.".into(),
            ));
        }
        let engine = super::tools::engine(self).map_err(refusal)?;
        let bytes = self.photos.storage.get(&stored.object_key).await?;
        let _turn = tokio::time::timeout(WAIT, RUNNING.acquire())
            .await
            .map_err(|_| AppError::Busy { retry_after_secs: 5 })?
            .map_err(|_| AppError::Internal)?;
        let max_pixels = self.photos.images.max_pixels;
        tokio::task::spawn_blocking(move || {
            let image = images::decode(&bytes, max_pixels).map_err(|error| {
                tracing::error!(%error, "a stored photo could not be decoded for a selection");
                AppError::Internal
            })?;
            // At the mask's size: the models see no more than that, and the work stays small.
            let image = imageops::resize(&image.to_rgb8(), width, height, FilterType::Triangle);
            select_in(&engine, &image, request)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "a selection's task failed");
            AppError::Internal
        })?
    }
}

/// The selection on `image` (already at the mask's size).
fn select_in(engine: &ai::Engine, image: &image::RgbImage, request: SelectRequest) -> Result<Selected, AppError> {
    let quiet = &ai::Quiet;
    let point_prompts = engine.has_sam();
    let (mask, objects, method) = match request {
        SelectRequest::Subject => (
            Some(ai::segment::subject(engine, image, quiet).map_err(ai_error)?),
            Vec::new(),
            ai::segment::Method::Subject,
        ),
        SelectRequest::Objects => {
            let found = ai::segment::objects(engine, image).map_err(ai_error)?;
            let objects = found
                .into_iter()
                .take(MAX_LISTED_OBJECTS)
                .map(|d| FoundObject { label: d.label, score: d.score, bbox: d.bbox })
                .collect();
            return Ok(Selected { mask: None, objects, method: "CenterNet".into(), point_prompts });
        }
        SelectRequest::Faces => {
            let found = ai::describe::faces(engine, image).map_err(ai_error)?;
            // Kept within the photo: a detector's box may reach past its edge.
            let objects = found
                .into_iter()
                .take(MAX_LISTED_OBJECTS)
                .filter_map(|[x, y, width, height]| {
                    let (x0, y0) = (x.clamp(0.0, 1.0), y.clamp(0.0, 1.0));
                    let (x1, y1) = ((x + width).clamp(0.0, 1.0), (y + height).clamp(0.0, 1.0));
                    (x1 > x0 && y1 > y0).then(|| FoundObject {
                        label: "face".into(),
                        score: 1.0,
                        bbox: [x0, y0, x1 - x0, y1 - y0],
                    })
                })
                .collect();
            return Ok(Selected { mask: None, objects, method: "BlazeFace".into(), point_prompts });
        }
        SelectRequest::Object { bbox } => {
            let (mask, method) = ai::segment::object(engine, image, bbox, quiet).map_err(ai_error)?;
            (Some(mask), Vec::new(), method)
        }
        SelectRequest::Point { x, y } => {
            if !point_prompts {
                return Err(AppError::BadRequest(
                    "This server has no Segment Anything model: select the subject or a found object instead.".into(),
                ));
            }
            let at = (x * image.width() as f32, y * image.height() as f32);
            let mask = ai::segment::point(engine, image, at, quiet).map_err(supplied_model_error)?;
            (Some(mask), Vec::new(), ai::segment::Method::SegmentAnything)
        }
    };
    let mask = match mask {
        Some(mask) => {
            let (w, h) = mask.dimensions();
            Some(Mask::from_values(w, h, mask.into_raw()).map_err(|_| AppError::Internal)?.to_runs())
        }
        None => None,
    };
    Ok(Selected { mask, objects, method: method.label().into(), point_prompts })
}

/// A model's failure as the person sees it (the same words a job's failure uses).
fn ai_error(error: ai::AiError) -> AppError {
    refusal(Failure::from(error))
}

/// The operator's own model is not one `scripts/install-models` could mend: say so instead.
fn supplied_model_error(error: ai::AiError) -> AppError {
    match error {
        ai::AiError::ModelInvalid { .. } | ai::AiError::ModelMissing { .. } => {
            tracing::error!(%error, "the supplied Segment Anything model could not be used");
            AppError::BadRequest(
                "The Segment Anything model this server was given could not be used (its log says why): select the subject or a found object instead.".into(),
            )
        }
        other => ai_error(other),
    }
}

fn refusal(failure: Failure) -> AppError {
    match failure {
        Failure::Permanent(message) => AppError::BadRequest(message),
        Failure::Transient(detail) => {
            tracing::error!(%detail, "a selection failed");
            AppError::Internal
        }
        Failure::Cancelled => AppError::Internal,
    }
}
