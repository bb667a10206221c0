//! The People job in a worker: every photo of the workspace not looked at yet, one at a time,
//! its faces found and described on the blocking pool and kept (`Db::store_faces`), for as long as
//! People stays on. A photo stored meanwhile is picked up by the same loop.

use std::sync::Arc;

use ai::Progress as _;
use app::ids::PhotoId;

use crate::ai_tools::queue::{Claimed, JobProgress, Outcome};
use crate::ai_tools::tools::{self, Failure};
use crate::ai_tools::AiStore;
use crate::platform::images;

pub async fn job(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let engine = tools::engine(&store)?;
    if !engine.is_installed(ai::people::FACERES) || !engine.is_installed(ai::describe::FACES) {
        return Err(Failure::Permanent(
            "The face models are not installed on this server; an administrator can install them with scripts/install-models.".into(),
        ));
    }
    let owner = job.owner;
    let mut looked_at = 0u32;
    loop {
        if progress.cancelled() {
            return Err(Failure::Cancelled);
        }
        let db = &store.db;
        let Some(photo) = db.next_unscanned_photo(owner).await.map_err(|e| Failure::internal("finding photos", e))?
        else {
            break;
        };
        let found = faces_of(&store, &engine, owner, photo).await?;
        let kept = db.store_faces(owner, photo, &found).await.map_err(|e| Failure::internal("keeping faces", e))?;
        if !kept {
            // People was switched off meanwhile: its faces are gone, and nothing more is looked at.
            break;
        }
        looked_at += 1;
        let left = db.unscanned_photos(owner).await.map_err(|e| Failure::internal("counting photos", e))?;
        progress.report(looked_at as f32 / (looked_at as f32 + left.max(0) as f32));
    }
    Ok(Outcome { detail: Some(format!("Looked for faces in {looked_at} photos.")), ..Outcome::default() })
}

/// The faces of one photo. A photo that cannot be read or decoded has none (it is then marked
/// looked at, not tried forever); a model that fails is worth another attempt.
async fn faces_of(
    store: &AiStore,
    engine: &Arc<ai::Engine>,
    owner: app::ids::OwnerId,
    photo: PhotoId,
) -> Result<Vec<ai::people::Face>, Failure> {
    let bytes = match tools::photo_bytes(store, owner, photo).await {
        Ok((_, bytes)) => bytes,
        Err(Failure::Permanent(reason)) => {
            tracing::info!(%photo, %reason, "a photo's faces were not looked for");
            return Ok(Vec::new());
        }
        Err(other) => return Err(other),
    };
    let max_pixels = store.photos.images.max_pixels;
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || {
        let image = match images::decode(&bytes, max_pixels) {
            Ok(image) => image.to_rgb8(),
            Err(error) => {
                tracing::info!(%photo, %error, "a photo could not be decoded to look for faces");
                return Ok(Vec::new());
            }
        };
        ai::people::faces(&engine, &image).map_err(|error| match error {
            ai::AiError::Inference(detail) => Failure::Transient(detail),
            other => Failure::Permanent(other.to_string()),
        })
    })
    .await
    .map_err(|e| Failure::internal("looking for faces", e))?
}
