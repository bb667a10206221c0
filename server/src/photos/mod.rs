//! Photos, versions and the gallery: the `PhotoService` the pages call, plus upload and media
//! delivery for the HTTP routes. Every read is scoped by owner, so another owner's id is simply
//! not found.

pub mod ocr;
pub mod repo;
pub mod routes;

use app::error::AppError;
use app::ids::{OwnerId, PhotoId, VersionId};
use app::optimize::ZipProgress;
use app::photos::PhotoService;
use app::photos::{GalleryItem, PhotoSummary};
use async_trait::async_trait;
use bytes::Bytes;
use recipe::{Budget, EditRecipe};
use uuid::Uuid;

use crate::data::audit::Event;
use crate::data::usage::Meter;
use crate::photos::repo::{NewPhoto, NewVersion, Quota, StoredFiles, StoredImage};
use crate::platform::db::{now, Db};
use crate::platform::error::OrInternal;
use crate::platform::http::Media;
use crate::platform::images::{self, Encoded, Images};
use crate::platform::links::Links;
use crate::platform::storage::{keys, Storage};

/// The longest filename kept for display; it is never used as a path.
const MAX_NAME_CHARS: usize = 200;

/// Workspace quotas: an account's, and a guest's (smaller: anyone can open one).
#[derive(Clone, Debug)]
pub struct Quotas {
    pub account: Quota,
    pub guest: Quota,
}

const OVER_QUOTA: &str =
    "This would exceed your workspace's storage quota. Delete photos or versions you no longer need.";

/// Moderation of uploads: open_nsfw's score at or above `threshold` holds the upload.
#[derive(Clone)]
pub struct Moderation {
    pub engine: std::sync::Arc<ai::Engine>,
    pub threshold: f32,
}

impl std::fmt::Debug for Moderation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moderation").field("threshold", &self.threshold).finish_non_exhaustive()
    }
}

/// An upload ready to store: the normalised image, what EXIF said about the camera, and
/// moderation's score.
pub struct Ingested {
    pub encoded: Encoded,
    pub camera: Option<ai::describe::CameraFacts>,
    pub nsfw_score: Option<f32>,
    /// Set for a generated image: the run that made it, and its seed.
    pub made_by: Option<(app::ids::GenerationId, Option<u32>)>,
    /// When the camera took it (EXIF, seconds), for bursts of near-duplicates.
    pub taken_at: Option<i64>,
}

impl Ingested {
    /// An image Atelier made itself (an AI result being kept): nothing to read or score.
    pub fn plain(encoded: Encoded) -> Self {
        Self { encoded, camera: None, nsfw_score: None, made_by: None, taken_at: None }
    }
}

#[derive(Clone, Debug)]
pub struct PhotoStore {
    pub db: Db,
    pub storage: Storage,
    pub images: Images,
    pub quotas: Quotas,
    pub links: Links,
    /// How long saved versions are kept, and how long before that the gallery warns.
    pub saved_secs: i64,
    pub warning_secs: i64,
    /// None when the moderation model is not installed: uploads are stored 'unchecked'.
    pub moderation: Option<Moderation>,
    /// The models that find a photo's subject for preset crops; None without an engine.
    pub subjects: Option<Subjects>,
    /// How far the zips this process is writing are (see `optimize::export_selection`).
    pub zips: crate::platform::progress::ProgressBoard,
}

/// The AI engine, for finding subjects (see `optimize::subject`).
#[derive(Clone)]
pub struct Subjects(pub std::sync::Arc<ai::Engine>);

impl std::fmt::Debug for Subjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subjects")
    }
}

/// A version ready to store: the photo it is of (and its name), the recipe and pipeline that
/// made it, and its encoded image.
pub struct Rendered<'a> {
    pub id: VersionId,
    pub photo: PhotoId,
    pub name: String,
    pub recipe: EditRecipe,
    pub pipeline: Option<&'a app::batch::Pipeline>,
    pub encoded: Encoded,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Variant {
    Full,
    Thumbnail,
}

/// A display name from whatever the browser sent: no path, no control characters, bounded.
pub fn display_name(raw: Option<&str>) -> String {
    let raw = raw.unwrap_or_default();
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "photo".into()
    } else {
        clean.into()
    }
}

impl PhotoStore {
    /// Validates and normalises an upload (orientation applied, metadata dropped). Nothing is
    /// stored, so a refused file leaves no trace.
    /// Camera facts are read from EXIF first (location never), and moderation scores the image.
    pub async fn ingest(&self, bytes: Bytes) -> Result<Ingested, AppError> {
        let moderation = self.moderation.clone();
        self.images
            .run(move |max_pixels| {
                let decoded = images::decode_file(&bytes, max_pixels)?;
                // Kept as it came (or losslessly); everything else works on sRGB pixels.
                let (content_type, data) = images::keep_original(&bytes, &decoded).or_internal("keeping an upload")?;
                let image = decoded.into_srgb();
                let camera = images::camera_facts(&bytes);
                let taken_at = crate::duplicates::taken_at(&bytes);
                let nsfw_score =
                    moderation.and_then(|m| match ai::moderation::nsfw_score(&m.engine, &image.to_rgb8()) {
                        Ok(score) => Some(score),
                        Err(error) => {
                            // Uploads keep working without the model; the photo stays 'unchecked'.
                            tracing::warn!(%error, "moderation could not score an upload");
                            None
                        }
                    });
                let encoded = images::Encoded {
                    content_type,
                    width: image.width(),
                    height: image.height(),
                    data,
                    thumbnail: images::thumbnail(&image).or_internal("making a thumbnail")?,
                };
                Ok(Ingested { encoded, camera, nsfw_score, made_by: None, taken_at })
            })
            .await
    }

    /// Re-encodes an image Atelier produced itself (no EXIF, no moderation).
    pub async fn ingest_trusted(&self, bytes: Bytes) -> Result<Encoded, AppError> {
        self.images
            .run(move |max_pixels| {
                let image = images::decode(&bytes, max_pixels)?;
                images::encode(&image).or_internal("encoding an image")
            })
            .await
    }

    /// Forbidden while moderation holds the photo (its versions included).
    async fn refuse_held(&self, owner: OwnerId, photo: PhotoId) -> Result<(), AppError> {
        match self.db.photo(owner, photo).await? {
            Some((summary, _)) => not_held(&summary),
            None => Ok(()),
        }
    }

    /// Deletes a photo with its versions; files are purged at once (or by the next sweep).
    pub async fn delete_photo(&self, owner: OwnerId, id: PhotoId) -> Result<(), AppError> {
        if !self.db.delete_photo(owner, id).await? {
            return Err(AppError::NotFound);
        }
        crate::data::retention::purge(&self.db, &self.storage).await?;
        Ok(())
    }

    /// Stores an ingested photo for `owner`, within their quota.
    /// The quota that applies to `owner`: an account's workspace or a guest's.
    pub async fn quota_of(&self, owner: OwnerId) -> Result<Quota, AppError> {
        Ok(if self.db.is_account_workspace(owner).await? { self.quotas.account } else { self.quotas.guest })
    }

    /// Refuses new work for a workspace already at its byte quota (an AI result adds to it).
    pub async fn ensure_room(&self, owner: OwnerId) -> Result<(), AppError> {
        let (_, used) = self.db.owner_usage(owner).await?;
        if used >= self.quota_of(owner).await?.max_bytes {
            return Err(AppError::QuotaExceeded(OVER_QUOTA.into()));
        }
        Ok(())
    }

    /// Signed links for a photo's media, valid for the configured time.
    /// A held upload gets none: it cannot be opened until an administrator releases it.
    pub fn with_links(&self, mut photo: PhotoSummary) -> PhotoSummary {
        photo.max_pixels = self.images.max_pixels;
        if photo.held {
            return photo;
        }
        photo.original_url = self.links.sign(&format!("/media/photos/{}/original", photo.id));
        photo.thumbnail_url = self.links.sign(&format!("/media/photos/{}/thumbnail", photo.id));
        photo.export_url = self.links.sign(&format!("/media/photos/{}/export", photo.id));
        photo
    }

    /// Signed links and the retention date for a gallery item.
    pub fn with_links_and_expiry(&self, mut item: GalleryItem) -> GalleryItem {
        item.image_url = self.links.sign(&format!("/media/versions/{}/image", item.id));
        item.thumbnail_url = self.links.sign(&format!("/media/versions/{}/thumbnail", item.id));
        item.export_url = self.links.sign(&format!("/media/versions/{}/export", item.id));
        item.expires_at = item.created_at + self.saved_secs;
        item.expires_soon = item.expires_at - now() <= self.warning_secs;
        item
    }

    /// Stores an ingested photo for `owner`, within their quota; `meter` started before ingest.
    pub async fn store(
        &self,
        owner: OwnerId,
        name: &str,
        ingested: Ingested,
        meter: Meter,
    ) -> Result<PhotoSummary, AppError> {
        self.store_metered(owner, name, ingested, |size| meter.finish("upload", size, size)).await
    }

    /// `store`, with the usage record made by `usage` from the stored size.
    pub async fn store_metered(
        &self,
        owner: OwnerId,
        name: &str,
        ingested: Ingested,
        usage: impl FnOnce((u32, u32)) -> app::data::UsageRecord,
    ) -> Result<PhotoSummary, AppError> {
        let Ingested { encoded, camera, nsfw_score, made_by, taken_at } = ingested;
        // A quick refusal before anything is stored; the insert checks again, atomically.
        let quota = self.quota_of(owner).await?;
        let (count, used) = self.db.owner_usage(owner).await?;
        if count >= quota.max_photos {
            return Err(AppError::QuotaExceeded(format!("Your workspace holds its limit of {count} photos.")));
        }
        if used.saturating_add(encoded.data.len() as u64) > quota.max_bytes {
            return Err(AppError::QuotaExceeded(OVER_QUOTA.into()));
        }
        let id = PhotoId(Uuid::new_v4());
        // From the thumbnail, as photos stored earlier are fingerprinted (`duplicates`).
        let fingerprint = crate::duplicates::fingerprint_thumbnail(&self.images, encoded.thumbnail.clone()).await;
        let files = self.put_files(keys::photo(owner, id), encoded).await?;
        let held = match (&self.moderation, nsfw_score) {
            (Some(moderation), Some(score)) => score >= moderation.threshold,
            _ => false,
        };
        let moderation = match nsfw_score {
            None => "unchecked",
            Some(_) if held => "held",
            Some(_) => "clear",
        };
        let new = NewPhoto {
            id,
            owner,
            name,
            files: &files,
            moderation,
            nsfw_score: nsfw_score.map(|s| (s * 1000.0).round() as i64),
            camera: camera.and_then(|c| serde_json::to_string(&c).ok()),
            made_by,
        };
        if held {
            tracing::warn!(photo = %id, score = ?nsfw_score, "an upload was held for moderation");
        }
        match self.db.insert_photo(&new, quota).await {
            Ok(None) => {
                self.delete_files(&files.object_key, &files.thumbnail_key).await;
                Err(AppError::QuotaExceeded(OVER_QUOTA.into()))
            }
            Ok(Some(created_at)) => {
                crate::duplicates::remember(&self.db, id, fingerprint, taken_at).await;
                let size = (files.width, files.height);
                self.db.record_usage_or_log(owner, usage(size)).await;
                // Only while People is on for the workspace's account (its faces are looked for
                // in the job queue).
                crate::people::photo_stored(&self.db, owner).await;
                // Read for search (objects, text in it, meaning) in the job queue.
                crate::search::photo_changed(&self.db, owner, None).await;
                let photo = PhotoSummary {
                    id,
                    name: name.into(),
                    width: files.width,
                    height: files.height,
                    created_at,
                    original_url: String::new(),
                    thumbnail_url: String::new(),
                    held,
                    alt_text: None,
                    tags: Vec::new(),
                    ocr_text: None,
                    max_pixels: 0,
                    export_url: String::new(),
                };
                Ok(self.with_links(photo))
            }
            Err(error) => {
                self.delete_files(&files.object_key, &files.thumbnail_key).await;
                Err(error).or_internal("recording an upload")
            }
        }
    }

    pub async fn photo_media(&self, owner: OwnerId, id: PhotoId, variant: Variant) -> Result<Media, AppError> {
        let (summary, stored) = self.db.photo(owner, id).await?.ok_or(AppError::NotFound)?;
        not_held(&summary)?;
        self.media(stored, variant).await
    }

    pub async fn version_media(&self, owner: OwnerId, id: VersionId, variant: Variant) -> Result<Media, AppError> {
        let (item, stored) = self.db.version(owner, id).await?.ok_or(AppError::NotFound)?;
        self.refuse_held(owner, item.photo_id).await?;
        self.media(stored, variant).await
    }

    async fn media(&self, stored: StoredImage, variant: Variant) -> Result<Media, AppError> {
        let (key, content_type) = match variant {
            Variant::Full => (&stored.object_key, stored.content_type.clone()),
            Variant::Thumbnail => (&stored.thumbnail_key, "image/jpeg".to_string()),
        };
        let data = self.storage.get(key).await?;
        Ok(Media { data, content_type, filename: stored.name })
    }

    /// Stores a rendered version of one of the owner's photos (a saved edit, or a batch item's
    /// result with the pipeline that made it) within their quota; on failure nothing is left.
    pub async fn store_version(&self, owner: OwnerId, rendered: Rendered<'_>) -> Result<GalleryItem, AppError> {
        let Rendered { id, photo, name, recipe, pipeline, encoded } = rendered;
        let recipe_json = serde_json::to_string(&recipe).or_internal("serialising a recipe")?;
        let pipeline_json = pipeline.map(serde_json::to_string).transpose().or_internal("serialising a pipeline")?;
        let files = self.put_files(keys::version(owner, id), encoded).await?;
        let version = NewVersion {
            id,
            photo,
            owner,
            recipe_json: &recipe_json,
            files: &files,
            pipeline_json: pipeline_json.as_deref(),
        };
        match self.db.insert_version(&version, self.quota_of(owner).await?).await {
            Ok(None) => {
                self.delete_files(&files.object_key, &files.thumbnail_key).await;
                Err(AppError::QuotaExceeded(OVER_QUOTA.into()))
            }
            Ok(Some(created_at)) => {
                let item = GalleryItem {
                    id,
                    photo_id: photo,
                    name,
                    width: files.width,
                    height: files.height,
                    recipe,
                    created_at,
                    expires_at: 0,
                    expires_soon: false,
                    image_url: String::new(),
                    thumbnail_url: String::new(),
                    export_url: String::new(),
                    pipeline: pipeline.map(|p| p.name.clone()),
                };
                Ok(self.with_links_and_expiry(item))
            }
            Err(error) => {
                self.delete_files(&files.object_key, &files.thumbnail_key).await;
                Err(error).or_internal("recording a version")
            }
        }
    }

    /// Stores an encoded image and its thumbnail under `(object_key, thumbnail_key)`; on failure
    /// nothing is left behind.
    async fn put_files(
        &self,
        (object_key, thumbnail_key): (String, String),
        encoded: Encoded,
    ) -> Result<StoredFiles, AppError> {
        let files = StoredFiles {
            content_type: encoded.content_type,
            width: encoded.width,
            height: encoded.height,
            byte_size: encoded.data.len() as u64,
            object_key,
            thumbnail_key,
        };
        let stored = async {
            self.storage.put(&files.object_key, encoded.data).await?;
            self.storage.put(&files.thumbnail_key, encoded.thumbnail).await
        };
        if let Err(error) = stored.await {
            self.delete_files(&files.object_key, &files.thumbnail_key).await;
            return Err(error).or_internal("storing an image");
        }
        Ok(files)
    }

    /// Best effort: a failure is logged, and the object is left for the retention sweep.
    async fn delete_files(&self, key: &str, thumbnail_key: &str) {
        for key in [key, thumbnail_key] {
            if let Err(error) = self.storage.delete(key).await {
                tracing::warn!(%error, "could not delete a stored object");
            }
        }
    }
}

#[async_trait]
impl PhotoService for PhotoStore {
    async fn list_photos(&self, owner: OwnerId) -> Result<Vec<PhotoSummary>, AppError> {
        let photos = self.db.list_photos(owner).await?;
        Ok(photos.into_iter().map(|photo| self.with_links(photo)).collect())
    }

    async fn photo(&self, owner: OwnerId, photo: PhotoId) -> Result<PhotoSummary, AppError> {
        let (summary, _) = self.db.photo(owner, photo).await?.ok_or(AppError::NotFound)?;
        Ok(self.with_links(summary))
    }

    async fn save_version(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<GalleryItem, AppError> {
        recipe.validate_len()?;
        let meter = Meter::start();
        let (input, stored) = self.db.photo(owner, photo).await?.ok_or(AppError::NotFound)?;
        not_held(&input)?;
        // Every step's size is known before the original is even read: nothing beyond the cap runs.
        recipe.plan((input.width, input.height), Budget::for_pixels(self.images.max_pixels))?;
        let original = self.storage.get(&stored.object_key).await?;
        let replay_recipe = recipe.clone();
        let encoded = self
            .images
            .run(move |max_pixels| {
                let image = images::decode(&original, max_pixels)?;
                let edited = images::replay(image, &replay_recipe, max_pixels)?;
                images::encode(&edited).or_internal("encoding an edit")
            })
            .await?;
        let id = VersionId(Uuid::new_v4());
        let rendered = Rendered { id, photo, name: stored.name, recipe, pipeline: None, encoded };
        let item = self.store_version(owner, rendered).await?;
        let record = meter.finish("edit", (input.width, input.height), (item.width, item.height));
        self.db.record_usage_or_log(owner, record).await;
        Ok(item)
    }

    async fn subject(&self, owner: OwnerId, photo: PhotoId, recipe: EditRecipe) -> Result<Option<[f32; 4]>, AppError> {
        recipe.validate_len()?;
        let (input, stored) = self.db.photo(owner, photo).await?.ok_or(AppError::NotFound)?;
        not_held(&input)?;
        let Some(subjects) = self.subjects.clone() else { return Ok(None) };
        recipe.plan((input.width, input.height), Budget::for_pixels(self.images.max_pixels))?;
        let original = self.storage.get(&stored.object_key).await?;
        self.images
            .run(move |max_pixels| {
                let image = images::decode(&original, max_pixels)?;
                let image = if recipe.ops.is_empty() { image } else { images::replay(image, &recipe, max_pixels)? };
                Ok(crate::optimize::subject::find(&subjects.0, &image, true).unwrap_or_else(|error| {
                    tracing::warn!(%error, "finding the subject failed");
                    None
                }))
            })
            .await
    }

    fn selection_export_link(&self) -> String {
        self.links.sign(app::optimize::SELECTION_PATH)
    }

    async fn zip_progress(&self, owner: OwnerId, token: String) -> Result<Option<ZipProgress>, AppError> {
        Ok(self.zips.get(owner, &token))
    }

    async fn guest_owner(&self, current: Option<OwnerId>) -> Result<OwnerId, AppError> {
        if let Some(owner) = current {
            if self.db.owner_exists(owner).await? {
                return Ok(owner);
            }
        }
        let owner = OwnerId(Uuid::new_v4());
        self.db.insert_guest_owner(owner).await?;
        Ok(owner)
    }

    async fn version(&self, owner: OwnerId, version: VersionId) -> Result<GalleryItem, AppError> {
        let (item, _) = self.db.version(owner, version).await?.ok_or(AppError::NotFound)?;
        Ok(self.with_links_and_expiry(item))
    }

    async fn gallery(&self, owner: OwnerId) -> Result<Vec<GalleryItem>, AppError> {
        let items = self.db.gallery(owner).await?;
        Ok(items.into_iter().map(|item| self.with_links_and_expiry(item)).collect())
    }

    /// The row goes and its files are queued for purging in one transaction, then purged at
    /// once; whatever storage refuses now, the hourly sweep finishes (well within 24 hours).
    async fn delete_version(&self, owner: OwnerId, version: VersionId) -> Result<(), AppError> {
        if !self.db.delete_version(owner, version).await? {
            return Err(AppError::NotFound);
        }
        let account = self.db.account_of_owner(owner).await?;
        self.db.audit_or_log(account, account, Event::GalleryItemDeleted, "A gallery item was deleted.").await;
        crate::data::retention::purge(&self.db, &self.storage).await?;
        Ok(())
    }
}

/// One refusal for every way into a photo moderation holds.
fn not_held(photo: &PhotoSummary) -> Result<(), AppError> {
    if photo.held {
        return Err(AppError::Forbidden("This photo is held for review.".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn display_names_drop_paths_and_control_characters() {
        assert_eq!(display_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_name(Some("C:\\Users\\me\\cat.jpg")), "cat.jpg");
        assert_eq!(display_name(Some("a\u{0}b\nc.png")), "abc.png");
        assert_eq!(display_name(None), "photo");
        assert_eq!(display_name(Some("x".repeat(500).as_str())).len(), 200);
    }
}
