//! A generation's job in a worker: one request to the service per image, each image kept as a
//! photo of the workspace the moment it arrives (so the studio shows it while the rest are made),
//! moderated like an upload and metered as images and time — never the prompt.

use std::sync::Arc;
use std::time::Duration;

use ai::Progress as _;
use app::data::UsageRecord;
use app::error::AppError;
use app::ids::{GenerationId, OwnerId, PhotoId};

use super::providers::{Call, Made, Provider};
use super::repo::GenerationRow;
use crate::ai_tools::queue::{Claimed, JobProgress, Outcome};
use crate::ai_tools::tools::{photo_bytes, Failure};
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
        let answer = tokio::select! {
            answer = provider.generate(&call) => answer,
            () = cancelled(&progress) => return Err(Failure::Cancelled),
        };
        let made = answer.map_err(|error| Failure::Permanent(error.to_string()))?;
        keep(&store, job.owner, &run, &provider, index, made, meter).await?;
        progress.report((index + 1) as f32 / count as f32);
    }
    Ok(Outcome { provider: Some(provider.name.clone()), ..Outcome::default() })
}

/// Resolves when the job is asked to stop, so a slow request is dropped (and its connection
/// closed) at once rather than waited for.
pub async fn cancelled(progress: &JobProgress) {
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
        refused => {
            Failure::Permanent(format!("{} answered with an image this server cannot keep: {refused}", provider.name))
        }
    })?;
    ingested.made_by = Some((run.id, made.seed));
    let words: String = run.request.prompt.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    let name = crate::photos::display_name(Some(&format!("{words} ({})", index + 1)));
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
        Ok(photo) if photo.held => {
            tracing::warn!(photo = %photo.id, generation = %run.id, "a generated image was held for moderation");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(AppError::QuotaExceeded(message)) => Err(Failure::Permanent(message)),
        Err(error) => Err(Failure::internal("storing a generated image", error)),
    }
}

/// The reference photo as the service takes it: a PNG of the run's size, scaled to cover it.
async fn reference_png(store: &AiStore, owner: OwnerId, photo: PhotoId, size: (u32, u32)) -> Result<Vec<u8>, Failure> {
    let (_, bytes) = photo_bytes(store, owner, photo).await.map_err(|failure| match failure {
        Failure::Permanent(_) => Failure::Permanent("The reference photo was deleted or is held for review.".into()),
        passing => passing,
    })?;
    let max_pixels = store.photos.images.max_pixels;
    tokio::task::spawn_blocking(move || {
        let image = crate::platform::images::decode(&bytes, max_pixels)
            .map_err(|e| Failure::Permanent(e.to_string()))?
            .to_rgb8();
        let covered = ai::background::cover(&image, size.0, size.1);
        let mut png = std::io::Cursor::new(Vec::new());
        covered
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| Failure::internal("encoding a reference", e))?;
        Ok(png.into_inner())
    })
    .await
    .map_err(|e| Failure::internal("preparing a reference", e))?
}
