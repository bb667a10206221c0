//! A face's thumbnail behind a signed link: the square around the face, cut from the photo on the
//! server, for the People page. Like other media, a changed or expired link answers 403 and a face
//! that is not the session's own 404.

use app::error::AppError;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

use crate::platform::error::{ApiError, OrInternal};
use crate::platform::http::{media_response, Media};
use crate::platform::images;
use crate::platform::links::Signature;
use crate::state::AppState;

/// The thumbnail's side in pixels.
const SIDE: u32 = 160;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/faces/{id}/thumbnail", get(face_thumbnail))
}

async fn face_thumbnail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Result<Response, ApiError> {
    let path = super::face_path(&id);
    let owner = state.photos.links.owner_for(&path, &signature, state.accounts.as_ref(), &session).await?;
    // Faces exist only while People is on: a link from before it was switched off finds nothing.
    let (photo, bbox) = state.db.face_box(owner, &id).await.map_err(AppError::from)?.ok_or(AppError::NotFound)?;
    let media = state.photos.photo_media(owner, photo, crate::photos::Variant::Full).await?;
    let max_pixels = state.photos.images.max_pixels;
    let data = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, AppError> {
        let image = images::decode(&media.data, max_pixels).or_internal("decoding a photo for a face")?.to_rgb8();
        let crop = ai::people::face_crop(&image, bbox, SIDE);
        let mut data = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 85)
            .encode_image(&crop)
            .or_internal("encoding a face")?;
        Ok(data)
    })
    .await
    .or_internal("cutting out a face")??;
    Ok(media_response(Media { data: data.into(), content_type: "image/jpeg".into(), filename: "face.jpg".into() }))
}
