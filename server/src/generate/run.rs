//! A generation's job in a worker: one request to the service per image, each image kept as a
//! photo of the workspace the moment it arrives (so the studio shows it while the rest are made),
//! moderated like an upload and metered as images and time — never the prompt.

use std::sync::Arc;
use std::time::Duration;

use ai::Progress as _;
use app::data::UsageRecord;
use app::error::AppError;
use app::ids::{GenerationId, OwnerId, PhotoId};
use bytes::Bytes;

use super::providers::{Call, Made, Provider};
use super::repo::GenerationRow;
use crate::ai_tools::queue::{Claimed, JobProgress, Outcome};
use crate::ai_tools::tools::{other_photo_bytes, Failure};
use crate::ai_tools::AiStore;
use crate::data::usage::Meter;
use crate::platform::db::now;

pub async fn job(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let id = GenerationId(job.id.0);
    let run = store
        .db
        .generation(job.owner, id)
        .await
        .map_err(|e| Failure::internal("reading a generation", e))?
        .ok_or_else(|| Failure::Permanent("This run was deleted before it finished.".into()))?;
    let provider = store.generation.get(&run.provider).ok_or_else(|| {
        Failure::Permanent(format!("The image service “{}” is no longer configured on this server.", run.provider))
    })?;
    let reference = match &run.request.reference {
        Some(reference) => Some((
            reference_png(&store, job.owner, reference.photo, (run.width, run.height)).await?,
            reference.strength,
        )),
        None => None,
    };
    let (prompt, negative_prompt) = run.request.styled();
    let count = run.request.count;
    // A retried run goes on from the images it already kept.
    let made = store.db.generated_count(id).await.map_err(|e| Failure::internal("counting a run's images", e))?;
    for index in made..count {
        if progress.cancelled() {
            return Err(Failure::Cancelled);
        }
        let call = Call {
            model: run.model.as_deref(),
            prompt: &prompt,
            negative_prompt: &negative_prompt,
            width: run.width,
            height: run.height,
            seed: run.seed.map(|seed| seed.wrapping_add(index)),
            steps: run.request.steps,
            guidance: run.request.guidance,
            reference: reference.as_ref().map(|(png, strength)| (png.as_slice(), *strength)),
            mask: None,
        };
        let meter = Meter::start();
        let made = ask(&provider, &call, &progress).await?;
        keep(&store, job.owner, &run, &provider, index, made, meter).await?;
        progress.report((index + 1) as f32 / count as f32);
    }
    Ok(Outcome { provider: Some(provider.name.clone()), ..Outcome::default() })
}

/// One image from the service, dropped (its connection closed) as soon as the job is asked to
/// stop; what went wrong told as the service's failure.
pub async fn ask(provider: &Provider, call: &Call<'_>, progress: &JobProgress) -> Result<Made, Failure> {
    tokio::select! {
        answer = provider.generate(call) => answer.map_err(|error| Failure::Permanent(error.to_string())),
        () = cancelled(progress) => Err(Failure::Cancelled),
    }
}

/// Resolves when the job is asked to stop, so a slow request is dropped (and its connection
/// closed) at once rather than waited for.
async fn cancelled(progress: &JobProgress) {
    while !progress.cancelled() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stores one image: read like an upload (any format, within the pixel cap, scored by
/// moderation, held when it scores high), as a photo linked to its run.
async fn keep(
    store: &AiStore,
    owner: OwnerId,
    run: &GenerationRow,
    provider: &Provider,
    index: u32,
    made: Made,
    meter: Meter,
) -> Result<(), Failure> {
    // The answer is read like any upload: a bad or oversized image is refused in words.
    let mut ingested = store.photos.ingest(made.image).await.map_err(|error| match error {
        AppError::Busy { .. } | AppError::Internal => Failure::internal("reading a generated image", error),
        refused => unkeepable(&provider.name, refused),
    })?;
    ingested.made_by = Some((run.id, made.seed));
    // Named without the prompt: a saved image outlives the history entry it came from.
    let name = format!("Generated image {}.png", index + 1);
    let credits = provider.credits_per_image;
    let usage = |size: (u32, u32)| UsageRecord {
        tool: super::GENERATE.into(),
        duration_ms: u64::try_from(meter.elapsed().as_millis()).unwrap_or(u64::MAX),
        input_width: 0,
        input_height: 0,
        output_width: size.0,
        output_height: size.1,
        credits,
        created_at: now(),
    };
    match store.photos.store_metered(owner, &name, ingested, usage).await {
        Ok(photo) => {
            if photo.held {
                tracing::warn!(photo = %photo.id, generation = %run.id, "a generated image was held for moderation");
            }
            // Deleted from the history while this image was on its way: it goes too.
            let gone = store.db.generation(owner, run.id).await.map_err(|e| Failure::internal("reading a run", e))?;
            if gone.is_none() {
                let _ = store.photos.delete_photo(owner, photo.id).await;
                return Err(Failure::Cancelled);
            }
            Ok(())
        }
        Err(AppError::QuotaExceeded(message)) => Err(Failure::Permanent(message)),
        Err(error) => Err(Failure::internal("storing a generated image", error)),
    }
}

/// A service's answer that is no image, or one too large.
pub fn unkeepable(service: &str, error: impl std::fmt::Display) -> Failure {
    Failure::Permanent(format!("{service} answered with an image this server cannot keep: {error}"))
}

/// Moderation for an image a service made that becomes part of a tool's result (a fill, a
/// scene's backdrop) rather than a photo of its own: refused when it scores at or above the
/// threshold, as an upload would be held.
pub async fn moderate(store: &AiStore, image: Bytes, service: &str) -> Result<(), Failure> {
    let Some(moderation) = store.photos.moderation.clone() else { return Ok(()) };
    let (max_pixels, name) = (store.photos.images.max_pixels, service.to_string());
    let score = tokio::task::spawn_blocking(move || {
        let image = crate::platform::images::decode(&image, max_pixels).map_err(|e| unkeepable(&name, e))?;
        ai::moderation::nsfw_score(&moderation.engine, &image.to_rgb8()).map_err(Failure::from)
    })
    .await
    .map_err(|e| Failure::internal("moderating a generated image", e))??;
    if score >= moderation.threshold {
        tracing::warn!(score, "an image a service made was held back by moderation");
        return Err(Failure::Permanent(format!("Moderation flagged what {service} painted; it was not kept.")));
    }
    Ok(())
}

/// The reference photo as the service takes it: a PNG of the run's size, scaled to cover it.
async fn reference_png(store: &AiStore, owner: OwnerId, photo: PhotoId, size: (u32, u32)) -> Result<Vec<u8>, Failure> {
    let bytes = other_photo_bytes(store, owner, photo, "reference photo").await?;
    let max_pixels = store.photos.images.max_pixels;
    tokio::task::spawn_blocking(move || {
        let image = crate::platform::images::decode(&bytes, max_pixels)
            .map_err(|e| Failure::Permanent(e.to_string()))?
            .to_rgb8();
        let covered = ai::background::cover(&image, size.0, size.1);
        ai::encode_png(&image::DynamicImage::ImageRgb8(covered))
            .map_err(|e| Failure::internal("encoding a reference", e))
    })
    .await
    .map_err(|e| Failure::internal("preparing a reference", e))?
}
